"""What a provider's tests implement so that the shared contract suite can drive the provider.

The suite (`router.testing.suite`) knows the contract; a harness knows the backend. The suite
asks for an `Upstream` answer in generic terms ("rate-limited, retry after 7 s"), the harness
scripts its fake backend to give that answer in the backend's own wire format and wording,
and the suite then streams one request through `harness.provider` and checks what comes out.

A harness declares what it cannot script in `unsupported`: those cases skip. A provider
without an HTTP upstream (or whose fake cannot tell) sets `sees_closing = False`.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from router.conversation import Message, Request, TextBlock, Thinking, Tool
from router.errors import ProviderError
from router.events import Event
from router.provider import Provider
from router.route import Route
from router.testing.checks import drain

REPLY_TEXT = "Hello"
"""The text of the `Upstream.TEXT` reply (and of the text the other replies may carry)."""
TOOL_NAME = "Bash"
"""The tool the `Upstream.TOOL_CALL` reply calls; the request offers it."""
TOOL_INPUT: dict[str, Any] = {"command": "ls"}
"""The arguments of that call."""
RETRY_AFTER = 7
"""Seconds the `Upstream.RATE_LIMITED` answer says to wait (`retry-after: 7`)."""
CLIENT_MODEL = "claude-sonnet-4-5"
"""The model name the client asked for in the suite's requests (the route decides the upstream model)."""


class Upstream(enum.Enum):
    """The backend answers the suite asks a harness to script, each in the backend's own terms."""

    TEXT = "text"
    """A complete reply holding one text block, `REPLY_TEXT` (it may arrive in pieces)."""
    TOOL_CALL = "tool-call"
    """A complete reply calling `TOOL_NAME` with `TOOL_INPUT` (text before the call is allowed)."""
    THINKING = "thinking"
    """A complete reply that reasons first (signed, if the backend signs: see `signs_thinking`), then answers."""
    AUTH_REFUSED = "auth-refused"
    """The backend refuses the credentials, and a refresh (where the provider tries one) fails too."""
    RATE_LIMITED = "rate-limited"
    """HTTP 429 with `retry-after: 7` (the body must name no other reset time)."""
    SERVER_ERROR = "server-error"
    """HTTP 500."""
    UNAVAILABLE = "unavailable"
    """HTTP 503: the backend is busy or down for now."""
    CONTEXT_OVERFLOW = "context-overflow"
    """The backend's own "the conversation is too long for this model" refusal (HTTP 400 or what it uses)."""
    REJECTED = "rejected"
    """HTTP 400 refusing the request as invalid, its message quoting a secret back (`Bearer <secret>`)."""
    CONNECT_ERROR = "connect-error"
    """The connection cannot be made (refused): no reply at all."""
    TIMEOUT = "timeout"
    """No reply within the client's timeout."""
    BROKEN_MID_STREAM = "broken-mid-stream"
    """The start of the `TEXT` reply (enough for at least one batch), then the connection breaks."""
    SILENT_MID_STREAM = "silent-mid-stream"
    """The start of the `TEXT` reply, then the client's read timeout fires: the backend went silent."""
    STALLED = "stalled"
    """The start of the `TEXT` reply (enough for at least one batch), then silence for ever."""


REPLIES = (Upstream.TEXT, Upstream.TOOL_CALL, Upstream.THINKING)
"""The answers that must become a complete, well-formed reply."""
FAILURES = tuple(answer for answer in Upstream if answer not in REPLIES and answer is not Upstream.STALLED)
"""The answers that must become a `router.errors.ProviderError` (and nothing else)."""
TRANSPORT = (Upstream.CONNECT_ERROR, Upstream.TIMEOUT)
"""Failures with no upstream response at all (nothing to close)."""
MID_STREAM = (Upstream.BROKEN_MID_STREAM, Upstream.SILENT_MID_STREAM)
"""Failures after the reply began: the events before them must be a well-formed start."""


class ContractHarness(ABC):
    """A provider and a scriptable fake of its backend, for `router.testing.suite`.

    Implement `provider`, `route` and `script`; override `secrets` (and `upstream_closed`
    when `sees_closing`). Per test the suite calls `script(answer)`, then reads `provider`,
    streams `request(answer)` on `route` and checks the reply or the error. A pytest fixture
    named `harness` makes one per test and calls `aclose` after it.
    """

    route: Route
    """The route the suite's requests go to (its provider is `provider.name`)."""
    unsupported: ClassVar[frozenset[Upstream]] = frozenset()
    """Answers this harness cannot script; the suite skips them."""
    signs_thinking: ClassVar[bool] = True
    """Whether a `THINKING` reply carries at least one signature (the client sees one either way)."""
    sees_closing: ClassVar[bool] = True
    """Whether `upstream_closed` can tell (False for a provider with no upstream connection)."""

    @property
    @abstractmethod
    def provider(self) -> Provider[Any]:
        """The provider under test; read after `script` (a harness may build one per answer)."""

    @abstractmethod
    def script(self, answer: Upstream) -> None:
        """Make the backend give `answer` to the next request (and forget what was scripted before)."""

    def upstream_closed(self) -> bool:
        """Whether every upstream response served since the last `script` has been closed."""
        raise NotImplementedError(f"{type(self).__name__} cannot tell; set sees_closing = False")

    def secrets(self) -> Sequence[str]:
        """The tokens and keys the provider holds: none may appear in an error message or a log line."""
        return ()

    def request(self, answer: Upstream) -> Request:
        """The request sent for `answer`: one user turn; it offers `TOOL_NAME`, and asks to think for `THINKING`."""
        return Request(
            model=CLIENT_MODEL,
            messages=(Message("user", (TextBlock("Say hello, or list the files."),)),),
            max_tokens=1024,
            system=(TextBlock("You are a contract test."),),
            tools=(Tool(TOOL_NAME, "Run a shell command", _TOOL_SCHEMA),),
            thinking=Thinking("enabled", 2048) if answer is Upstream.THINKING else None,
            session_id="contract-session",
        )

    async def run(self, request: Request | None = None, route: Route | None = None) -> list[Event]:
        """The events of a reply that must succeed (batches flattened), for a provider's own tests."""
        stream = self.provider.stream(request or self.request(Upstream.TEXT), route or self.route)
        return (await drain(stream)).reply()

    async def failure(self, request: Request | None = None, route: Route | None = None) -> tuple[list[Event], ProviderError]:
        """The events before a stream failed and the router error it raised (a library exception fails)."""
        outcome = await drain(self.provider.stream(request or self.request(Upstream.TEXT), route or self.route))
        return outcome.events, outcome.failure()

    async def aclose(self) -> None:
        """Release what the harness holds (the provider, its HTTP client); called once after each test."""


_TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"command": {"type": "string"}},
    "required": ["command"],
}
