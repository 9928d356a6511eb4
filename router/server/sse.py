"""The streaming HTTP response: SSE out as soon as each event is translated, in either client dialect.

A plain ASGI response rather than Starlette's `StreamingResponse`, because a stream here
needs three things at once: keep-alive pings while the upstream is silent, cancelling the
upstream as soon as the client goes away, and ending with an error event (rather than a
cut connection) when the upstream fails or the router shuts down. What the bytes look like
(the encoder, the ping, the error event) is the dialect's: a `Wire`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import Receive, Scope, Send

from router.anthropic.encode import PING
from router.anthropic.errors import error_event, status_and_type
from router.errors import Overloaded, UpstreamUnavailable
from router.events import Batch, Event, MessageStop

log = logging.getLogger("router.stream")

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]

SERVER_SEND = "router.server_send"
"""Scope key of the server's own `send`, when the app keeps it (`router.server.app.App`): body messages
go there directly, past the middleware wrappers that only watch for the response's start."""

FLUSH_BYTES = 32 * 1024
"""The most bytes one body message holds: a larger batch is written in pieces."""

Outcome = Callable[[int, MessageStop | None], None]
"""Called once when the stream ends: the status to log (200, 499 client gone, or the error's) and the stop event."""


class Encoder(Protocol):
    """A dialect's stream encoder: bytes for each canonical event; `finished` once the reply is complete."""

    finished: bool

    def encode(self, event: Event) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Wire:
    """What a dialect's stream sends besides its events: the keep-alive ping and the event that ends a failed stream."""

    ping: bytes
    error_event: Callable[[BaseException], bytes]


ANTHROPIC = Wire(PING, error_event)


class EventStreamResponse:
    """Streams one reply's events to the client as SSE (Anthropic's unless another `wire` is given).

    The status it reports (and the ledger records) is the Anthropic dialect's for the failure, whatever
    the wire: the ledger speaks one vocabulary.
    """

    def __init__(
        self,
        events: AsyncIterator[Batch],
        encoder: Encoder,
        *,
        ping_interval: float,
        closing: asyncio.Event,
        on_end: Outcome,
        headers: list[tuple[bytes, bytes]] | None = None,
        wire: Wire = ANTHROPIC,
    ) -> None:
        self.events = events
        self.encoder = encoder
        self.wire = wire
        self.ping_interval = ping_interval
        self.closing = closing  # set when the server shuts down and the grace period is over
        self.on_end = on_end
        self.headers = HEADERS + (headers or [])
        self.sending = False
        self.sent = 0  # body messages sent; the watcher pings when it stops moving
        self.pending: list[bytes] = []  # encoded, not yet written: flushed before any error event
        self.stop_reason: str | None = None  # why the stream task was cancelled: "disconnect" or "shutdown"
        self.first_byte: float | None = None  # `time.perf_counter()` when the first body message went out
        self.error_type: str | None = None  # the Anthropic error type the stream ended with, if it failed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        send = scope.get(SERVER_SEND, send)
        watcher = loop.create_task(self._watch(receive, send, asyncio.current_task()))
        status, stop, ended = 200, None, False
        try:
            stop = await self._pump(send)
            *pieces, body = _pieces(self.pending)  # the last events and the end of the body: one write
            self.pending.clear()
            for piece in pieces:
                await self._write(send, piece)
            await send({"type": "http.response.body", "body": body, "more_body": False})
            ended = True
        except asyncio.CancelledError:
            if self.stop_reason is None:
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            status = await self._interrupted(send)
        except Exception as exc:
            status = await self._fail(send, exc)
        finally:
            watcher.cancel()
            with suppress(Exception):
                await self.events.aclose()  # type: ignore[attr-defined]
            self.on_end(status, stop)
        if not ended and self.stop_reason != "disconnect":
            with suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _pump(self, send: Send) -> MessageStop | None:
        """Encode each batch as it comes and write it in one message (pieces of `FLUSH_BYTES` at most).

        A provider yields the events of one upstream read as one batch, so a burst costs one
        socket write instead of one per event. The first batch (`message_start`'s) goes out at
        once; a batch that completes the message is left in `pending` for the caller to write
        with the end of the body, since nothing but that end can follow it.
        """
        encode = self.encoder.encode
        debug = log.isEnabledFor(logging.DEBUG)
        stop: MessageStop | None = None
        pending = self.pending  # encoded events not yet written: on a failure they go out before the error
        batches = aiter(self.events)
        while True:
            try:
                batch = await anext(batches)
            except StopAsyncIteration:
                break
            except Exception as exc:
                if not self.encoder.finished:
                    raise
                # the reply is complete and the client has (or is about to get) all of it: a failure
                # while the provider reads the upstream's last bytes changes nothing it was told
                log.warning("upstream failed after its reply was complete: %s", exc)
                break
            for event in batch:
                data = encode(event)
                if type(event) is MessageStop:
                    stop = event
                if debug:
                    log.debug("event in  %r", event)
                    log.debug("event out %s", data)
                if data:
                    pending.append(data)
            if pending and not (self.encoder.finished and self.sent):
                await self._flush(send)
        if not self.encoder.finished:
            raise UpstreamUnavailable("the upstream reply ended before it was complete")
        return stop

    async def _flush(self, send: Send) -> None:
        """Write what is pending, in pieces of `FLUSH_BYTES` at most."""
        pieces = _pieces(self.pending)
        self.pending.clear()
        for piece in pieces:
            await self._write(send, piece)

    async def _write(self, send: Send, data: bytes) -> None:
        self.sending = True
        await send({"type": "http.response.body", "body": data, "more_body": True})
        self.sending = False
        if not self.sent:
            self.first_byte = time.perf_counter()
        self.sent += 1

    async def _watch(self, receive: Receive, send: Send, stream_task: asyncio.Task[Any] | None) -> None:
        """Pings during silence; cancels the stream when the client leaves or shutdown's grace ends.

        Either of those wakes it at once (`FIRST_COMPLETED`): the timeout only paces the pings, so
        an abandoned upstream is cancelled in milliseconds, not at the next ping check.
        """
        loop = asyncio.get_running_loop()
        disconnect = loop.create_task(_wait_disconnect(receive))
        closing = loop.create_task(self.closing.wait())
        seen = -1
        try:
            while True:
                done, _ = await asyncio.wait({disconnect, closing}, timeout=self.ping_interval / 2,
                                             return_when=asyncio.FIRST_COMPLETED)
                if done:
                    self.stop_reason = "disconnect" if disconnect in done else "shutdown"
                    if stream_task is not None:
                        stream_task.cancel()
                    return
                if self.sent == seen and not self.sending:
                    self.sending = True
                    await send({"type": "http.response.body", "body": self.wire.ping, "more_body": True})
                    self.sending = False
                    self.sent += 1
                seen = self.sent
        finally:
            disconnect.cancel()
            closing.cancel()

    async def _interrupted(self, send: Send) -> int:
        if self.stop_reason == "disconnect":
            log.info("client disconnected; upstream request cancelled")
            return 499
        return await self._fail(send, Overloaded("the router is shutting down; retry the request"))

    async def _fail(self, send: Send, exc: BaseException) -> int:
        status, self.error_type = status_and_type(exc)
        if self.pending:  # what the client was about to get still goes out, then the error
            with suppress(OSError):
                await self._flush(send)
            self.pending.clear()
        if status >= 500 and not isinstance(exc, UpstreamUnavailable | Overloaded):
            log.error("stream failed: %s", exc, exc_info=not _is_router_error(exc))
        else:
            log.warning("stream ended with an error: %s", exc)
        with suppress(OSError):
            await send({"type": "http.response.body", "body": self.wire.error_event(exc), "more_body": True})
        return status


def _is_router_error(exc: BaseException) -> bool:
    from router.errors import RouterError

    return isinstance(exc, RouterError)


def _pieces(parts: list[bytes]) -> list[bytes]:
    """`parts` joined and cut in pieces of `FLUSH_BYTES` at most; one empty piece when there are none."""
    data = parts[0] if len(parts) == 1 else b"".join(parts)
    if len(data) <= FLUSH_BYTES:
        return [data]
    return [data[start:start + FLUSH_BYTES] for start in range(0, len(data), FLUSH_BYTES)]


async def _wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
