"""Scripted upstream responses for harnesses of HTTP providers: bodies that break, stall and record closing.

`HttpContractHarness` turns the suite's generic answers into `httpx.Response`s and transport
exceptions, so a provider's harness only says how its backend words a reply or a refusal and
how the fake backend is told its next answers (a respx route's `side_effect`, a
`httpx.MockTransport` handler, a fake server's queue).
"""

from __future__ import annotations

import asyncio
import json
from abc import abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar

import httpx

from router.testing.harness import ContractHarness, Upstream

Answer = httpx.Response | Exception
"""What a fake backend hands the client for one request: a response, or a transport error to raise."""


class ScriptedBody(httpx.AsyncByteStream):
    """A response body served chunk by chunk, then optionally failing or stalling; records `aclose`.

    `exhausted` says the body was read to its end (so the connection could be reused).
    """

    def __init__(self, *chunks: bytes, fail: Exception | None = None, stall: bool = False) -> None:
        self.chunks = chunks
        self.fail = fail
        self.stall = stall
        self.closed = False
        self.exhausted = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.stall:
            await asyncio.Event().wait()  # silence until the reader gives up (cancels)
        if self.fail is not None:
            raise self.fail
        self.exhausted = True

    async def aclose(self) -> None:
        self.closed = True


def scripted_response(
    status: int, *chunks: bytes, headers: Mapping[str, str] | None = None,
    fail: Exception | None = None, stall: bool = False,
) -> tuple[httpx.Response, ScriptedBody]:
    """A streamed response served from `chunks`, and its body (to check it got closed)."""
    body = ScriptedBody(*chunks, fail=fail, stall=stall)
    return httpx.Response(status, stream=body, headers=headers), body


def json_response(
    status: int, document: Any, headers: Mapping[str, str] | None = None
) -> tuple[httpx.Response, ScriptedBody]:
    """A JSON reply (an error, typically) served as a stream, and its body."""
    merged = {"content-type": "application/json", **(headers or {})}
    return scripted_response(status, json.dumps(document).encode(), headers=merged)


class HttpContractHarness(ContractHarness):
    """A `ContractHarness` whose backend answers over HTTP; the generic answers are built here.

    Implement `reply` (the body chunks of a 200 reply, one chunk per upstream event), `refuse`
    (serve the backend's own refusal for a failure answer, usually with `error_response`) and
    `serve` (hand the fake backend its next answers). `reply_headers` go on every 200 reply.
    """

    reply_headers: ClassVar[Mapping[str, str]] = {}

    def __init__(self) -> None:
        self.served: list[ScriptedBody] = []

    @abstractmethod
    def reply(self, answer: Upstream) -> Sequence[bytes]:
        """The body of a 200 reply for `TEXT`, `TOOL_CALL` or `THINKING`, one chunk per upstream event."""

    @abstractmethod
    def refuse(self, answer: Upstream) -> None:
        """Serve the backend's refusal for an HTTP failure answer (`AUTH_REFUSED` ... `REJECTED`)."""

    @abstractmethod
    def serve(self, *answers: Answer) -> None:
        """Make the fake backend answer the next requests with `answers`, in order."""

    def partial(self) -> Sequence[bytes]:
        """The start of the `TEXT` reply sent before a break or a stall: its first half by default."""
        chunks = list(self.reply(Upstream.TEXT))
        return chunks[: max(1, len(chunks) // 2)]

    def script(self, answer: Upstream) -> None:
        self.served = []
        if answer in (Upstream.TEXT, Upstream.TOOL_CALL, Upstream.THINKING):
            self.serve(self.response(200, *self.reply(answer)))
        elif answer is Upstream.CONNECT_ERROR:
            self.serve(httpx.ConnectError("connection refused"))
        elif answer is Upstream.TIMEOUT:
            self.serve(httpx.ReadTimeout("timed out"))
        elif answer is Upstream.BROKEN_MID_STREAM:
            broken = httpx.RemoteProtocolError("peer closed connection without sending complete message body")
            self.serve(self.response(200, *self.partial(), fail=broken))
        elif answer is Upstream.SILENT_MID_STREAM:
            self.serve(self.response(200, *self.partial(), fail=httpx.ReadTimeout("timed out")))
        elif answer is Upstream.STALLED:
            self.serve(self.response(200, *self.partial(), stall=True))
        else:
            self.refuse(answer)

    def response(
        self, status: int, *chunks: bytes, headers: Mapping[str, str] | None = None,
        fail: Exception | None = None, stall: bool = False,
    ) -> httpx.Response:
        """A streamed response whose body is recorded, so `upstream_closed` can tell; 200s get `reply_headers`."""
        base = self.reply_headers if status == 200 else {}
        response, body = scripted_response(status, *chunks, headers={**base, **(headers or {})}, fail=fail, stall=stall)
        self.served.append(body)
        return response

    def error_response(self, status: int, document: Any, headers: Mapping[str, str] | None = None) -> httpx.Response:
        """A recorded JSON error reply."""
        response, body = json_response(status, document, headers)
        self.served.append(body)
        return response

    def upstream_closed(self) -> bool:
        return bool(self.served) and all(body.closed for body in self.served)
