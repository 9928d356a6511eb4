"""The contract suite catches what it promises to: run against a small provider with bugs switched on.

`LineProvider` speaks a made-up JSON-lines backend through `HttpContractHarness`; correct,
it passes the whole suite (below, via `from router.testing.suite import *`); with one bug
on, the suite test for that property fails.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from router.anthropic.signatures import decode_signature
from router.conversation import Request, Signature
from router.errors import AuthError, ContextTooLong, Overloaded, ProviderError, RateLimited, UpstreamRejected
from router.errors import UpstreamTimeout, UpstreamUnavailable
from router.events import BlockStop, Event, MessageStart, MessageStop, SignatureDelta, TextDelta, TextStart
from router.events import ThinkingDelta, ThinkingStart, ToolInputDelta, ToolUseStart
from router.provider import Provider, ProviderContext
from router.route import Route
from router.testing import suite
from router.testing.checks import ContractViolation, check_grammar, client_thinking_signatures, events_of
from router.testing.harness import REPLY_TEXT, RETRY_AFTER, TOOL_INPUT, TOOL_NAME, Upstream
from router.testing.scripted import Answer, HttpContractHarness
from router.testing.suite import *  # noqa: F403

URL = "https://lines.test/reply"
KEY = "line-secret-key-0123456789"
LOG = logging.getLogger("providers.lines")


@dataclass(frozen=True, slots=True)
class Bugs:
    leaks_httpx: bool = False
    keeps_open: bool = False
    unclosed_block: bool = False
    foreign_signature: bool = False
    says_the_key: bool = False
    bare_events: bool = False


@dataclass(frozen=True, slots=True)
class LineSettings:
    bugs: Bugs = Bugs()


class LineProvider(Provider[LineSettings]):
    """One JSON object a line: `{"text"}`, `{"tool", "input"}`, `{"thinking", "signature"}`; batches of one line."""

    name = "lines"
    Settings = LineSettings

    async def stream(self, request: Request, route: Route) -> AsyncIterator[Any]:
        bugs = self.settings.bugs
        response = await self._send(bugs)
        try:
            yield [MessageStart(route.model)]
            async for line in self._lines(response, bugs):
                for batch in self._translate(json.loads(line), route, bugs):
                    yield batch[0] if bugs.bare_events and len(batch) == 1 else batch
        finally:
            if not bugs.keeps_open:
                await response.aclose()

    async def _send(self, bugs: Bugs) -> httpx.Response:
        http = self.context.http
        try:
            response = await http.send(http.build_request("POST", URL, headers={"authorization": f"Bearer {KEY}"}),
                                       stream=True)
        except httpx.HTTPError as exc:
            if bugs.leaks_httpx:
                raise
            error = UpstreamTimeout if isinstance(exc, httpx.TimeoutException) else UpstreamUnavailable
            raise error(f"lines: {type(exc).__name__}", provider=self.name) from None
        if response.status_code != 200:
            text = (await response.aread()).decode()
            await response.aclose()
            raise _failure(response.status_code, text if bugs.says_the_key else text.replace(KEY, "…"),
                           response.headers)
        return response

    async def _lines(self, response: httpx.Response, bugs: Bugs) -> AsyncIterator[str]:
        try:
            async for line in response.aiter_lines():
                if line:
                    yield line
        except httpx.TimeoutException:
            if bugs.leaks_httpx:
                raise
            raise UpstreamTimeout("lines: the backend went silent", provider=self.name) from None
        except httpx.HTTPError:
            if bugs.leaks_httpx:
                raise
            raise UpstreamUnavailable("lines: the connection broke", provider=self.name) from None

    def _translate(self, line: dict[str, Any], route: Route, bugs: Bugs) -> list[list[Event]]:
        if "text" in line:
            block: list[Event] = [TextStart(), TextDelta(line["text"])]
            return [block if bugs.unclosed_block else [*block, BlockStop()]]
        if "tool" in line:
            return [[ToolUseStart("call_1", line["tool"]), ToolInputDelta(json.dumps(line["input"])), BlockStop()]]
        if "thinking" in line:
            origin = "elsewhere" if bugs.foreign_signature else self.name
            signed: list[Event] = []
            if "signature" in line:  # a backend that does not sign leaves it out
                signed.append(SignatureDelta(Signature(origin, route.model, line["signature"])))
            return [[ThinkingStart(), ThinkingDelta(line["thinking"]), *signed, BlockStop()]]
        return [[MessageStop(line["stop"])]]


def _failure(status: int, text: str, headers: httpx.Headers) -> ProviderError:
    if status == 401:
        return AuthError(f"lines refused the key: {text}")
    if status == 429:
        return RateLimited("lines: rate limited", retry_after=float(headers["retry-after"]))
    if status == 503:
        return Overloaded("lines: busy")
    if status >= 500:
        return UpstreamUnavailable(f"lines: HTTP {status}")
    if "too long" in text:
        return ContextTooLong(f"prompt is too long: {text}")
    return UpstreamRejected(f"lines rejected the request: {text}")


LINES: dict[Upstream, list[dict[str, Any]]] = {
    Upstream.TEXT: [{"text": REPLY_TEXT}, {"stop": "end_turn"}],
    Upstream.TOOL_CALL: [{"tool": TOOL_NAME, "input": TOOL_INPUT}, {"stop": "tool_use"}],
    Upstream.THINKING: [{"thinking": "Hmm.", "signature": "sig-1"}, {"text": REPLY_TEXT}, {"stop": "end_turn"}],
}
REFUSALS = {
    Upstream.AUTH_REFUSED: (401, "bad key"),
    Upstream.RATE_LIMITED: (429, "slow down"),
    Upstream.SERVER_ERROR: (500, "boom"),
    Upstream.UNAVAILABLE: (503, "busy"),
    Upstream.CONTEXT_OVERFLOW: (400, "input too long"),
    Upstream.REJECTED: (400, f"malformed: Bearer {KEY}"),
}


class LineHarness(HttpContractHarness):
    route = Route("lines", "line-1")

    def __init__(self, bugs: Bugs = Bugs()) -> None:
        super().__init__()
        self.mock = respx.Router()
        self.endpoint = self.mock.post(URL)
        self.http = httpx.AsyncClient(transport=httpx.MockTransport(self.mock.async_handler))
        self.lines = LineProvider(LineSettings(bugs), ProviderContext(self.http, LOG, Path("/nonexistent")))

    @property
    def provider(self) -> LineProvider:
        return self.lines

    def secrets(self) -> Sequence[str]:
        return [KEY]

    def serve(self, *answers: Answer) -> None:
        self.endpoint.side_effect = list(answers)

    def reply(self, answer: Upstream) -> Sequence[bytes]:
        return [json.dumps(line).encode() + b"\n" for line in LINES[answer]]

    def refuse(self, answer: Upstream) -> None:
        status, text = REFUSALS[answer]
        self.serve(self.response(status, text.encode(), headers={"retry-after": str(RETRY_AFTER)}))

    async def aclose(self) -> None:
        await self.http.aclose()


class UnsignedLineHarness(LineHarness):
    """A backend that never signs its thinking (as Kiro's `<thinking>` tags)."""

    signs_thinking = False

    def reply(self, answer: Upstream) -> Sequence[bytes]:
        lines = LINES[answer]
        if answer is Upstream.THINKING:
            lines = [{"thinking": "Hmm."}, {"text": REPLY_TEXT}, {"stop": "end_turn"}]
        return [json.dumps(line).encode() + b"\n" for line in lines]


@pytest.fixture(params=["batches", "bare-events"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[LineHarness]:
    """The correct provider, once yielding batches and once bare events (still accepted for now)."""
    made = LineHarness(Bugs(bare_events=request.param == "bare-events"))
    yield made
    await made.aclose()


# -- each bug fails the suite test for it ------------------------------------------------------------

Check = Callable[..., Any]
CAUGHT: list[tuple[Bugs, Check, dict[str, Any], str]] = [
    (Bugs(leaks_httpx=True), suite.test_contract_failures_raise_router_errors_with_their_flags,
     {"answer": Upstream.CONNECT_ERROR}, "httpx.ConnectError escaped"),
    (Bugs(leaks_httpx=True), suite.test_contract_a_reply_broken_mid_stream_keeps_its_start,
     {"answer": Upstream.BROKEN_MID_STREAM},
     "httpx.RemoteProtocolError escaped"),
    (Bugs(keeps_open=True), suite.test_contract_an_abandoned_stream_closes_the_upstream, {}, "left the upstream"),
    (Bugs(keeps_open=True), suite.test_contract_a_stalled_upstream_is_closed_when_the_reader_gives_up, {},
     "left open after the reader gave up"),
    (Bugs(unclosed_block=True), suite.test_contract_replies_follow_the_event_grammar, {"answer": Upstream.TEXT},
     "TextStart still open"),
    (Bugs(foreign_signature=True), suite.test_contract_signatures_name_the_provider_and_route_model,
     {"answer": Upstream.THINKING}, "is not tagged lines/line-1"),
]


@pytest.mark.parametrize(("bugs", "check", "arguments", "problem"), CAUGHT,
                         ids=[f"{check.__name__}-{bugs}" for bugs, check, _, _ in CAUGHT])
async def test_a_bug_fails_its_contract_test(bugs: Bugs, check: Check, arguments: dict[str, Any], problem: str) -> None:
    harness = LineHarness(bugs)
    try:
        with pytest.raises(AssertionError, match=problem):
            await check(harness, **arguments)
    finally:
        await harness.aclose()


async def test_unsigned_thinking_keeps_the_contract_and_reaches_the_client_signed_by_the_router() -> None:
    harness = UnsignedLineHarness()
    try:
        await suite.test_contract_thinking_reply(harness)
        await suite.test_contract_signatures_name_the_provider_and_route_model(harness, Upstream.THINKING)
        harness.script(Upstream.THINKING)
        events = await harness.run(harness.request(Upstream.THINKING))
        (wire,) = client_thinking_signatures(events, harness.route)
        assert decode_signature(wire) == Signature("lines", "line-1", decode_signature(wire).value, router=True)
    finally:
        await harness.aclose()


async def test_a_secret_in_an_error_message_fails(caplog: pytest.LogCaptureFixture) -> None:
    harness = LineHarness(Bugs(says_the_key=True))
    try:
        with pytest.raises(AssertionError, match="a secret"):
            await suite.test_contract_secrets_stay_out_of_errors_and_logs(harness, Upstream.REJECTED, caplog)
    finally:
        await harness.aclose()


@pytest.mark.parametrize(
    ("events", "complete", "problem"),
    [
        ([TextStart()], True, "begin with MessageStart"),
        ([MessageStart("m"), MessageStart("m")], True, "a second MessageStart"),
        ([MessageStart("m"), TextStart(), TextDelta("a")], True, "end with MessageStop"),
        ([MessageStart("m"), TextStart(), MessageStop("end_turn")], True, "still open"),
        ([MessageStart("m"), TextStart(), ThinkingStart()], False, "opened while TextStart"),
        ([MessageStart("m"), ThinkingStart(), TextDelta("a")], False, "TextDelta while ThinkingStart"),
        ([MessageStart("m"), BlockStop()], False, "not open"),
        ([MessageStart("m"), MessageStop("end_turn"), TextStart()], True, "before the end"),
        ([MessageStart("m"), MessageStop("end_turn")], False, "must not end with MessageStop"),
    ],
)
def test_the_grammar_check_names_what_is_wrong(events: list[Event], complete: bool, problem: str) -> None:
    with pytest.raises(ContractViolation, match=problem):
        check_grammar(events, complete=complete)


@pytest.mark.parametrize("item", [[], (), "text", [TextStart(), "x"], {"a": 1}])
def test_an_item_that_is_not_a_batch_is_refused(item: object) -> None:
    with pytest.raises(ContractViolation, match="non-empty sequences of events"):
        events_of(item)
