"""The provider contract as pytest tests: `from router.testing.suite import *` and define a `harness` fixture.

Each test takes the `harness` fixture (a `router.testing.harness.ContractHarness`), scripts one
backend answer, streams one request through the provider and checks the contract every
provider keeps, whatever its backend: only `router.errors.ProviderError`s leave it; replies
follow the canonical event grammar; an abandoned or stalled stream closes its upstream
response; signatures name the provider and route model; failures carry the flags retries and
fallbacks rely on; secrets appear in no error and no log line; every thinking block reaches
the client signed (by its backend, else by the router's stand-in). Cases a harness declares
`unsupported` skip. The tests need pytest-asyncio (they are marked `asyncio`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable

import pytest

from router.conversation import Signature
from router.errors import AuthError, ContextTooLong, ProviderError, RateLimited, UpstreamRejected, UpstreamTimeout
from router.events import Event, MessageStop, SignatureDelta, TextDelta, ThinkingDelta, ThinkingStart
from router.events import ToolInputDelta, ToolUseStart
from router.testing.checks import DEADLINE, ContractViolation, Outcome, check_grammar, client_thinking_signatures
from router.testing.checks import close, drain, events_of
from router.testing.harness import (
    FAILURES,
    MID_STREAM,
    REPLIES,
    REPLY_TEXT,
    RETRY_AFTER,
    TOOL_INPUT,
    TOOL_NAME,
    TRANSPORT,
    ContractHarness,
    Upstream,
)

__all__ = [
    "test_contract_replies_follow_the_event_grammar",
    "test_contract_text_reply",
    "test_contract_tool_call_reply",
    "test_contract_thinking_reply",
    "test_contract_signatures_name_the_provider_and_route_model",
    "test_contract_failures_raise_router_errors_with_their_flags",
    "test_contract_failed_responses_are_closed",
    "test_contract_a_reply_broken_mid_stream_keeps_its_start",
    "test_contract_an_abandoned_stream_closes_the_upstream",
    "test_contract_a_stalled_upstream_is_closed_when_the_reader_gives_up",
    "test_contract_secrets_stay_out_of_errors_and_logs",
]

STALL_WAIT = 0.2
"""Seconds without a batch after which a stalled reply counts as stalled."""


def _ids(answer: Upstream) -> str:
    return answer.value


def _require(harness: ContractHarness, *answers: Upstream, closing: bool = False) -> None:
    missing = [answer.value for answer in answers if answer in harness.unsupported]
    if missing:
        pytest.skip(f"{type(harness).__name__} cannot script: {', '.join(missing)}")
    if closing and not harness.sees_closing:
        pytest.skip(f"{type(harness).__name__} cannot tell whether the upstream response was closed")


async def _run(harness: ContractHarness, answer: Upstream) -> Outcome:
    _require(harness, answer)
    harness.script(answer)
    return await drain(harness.provider.stream(harness.request(answer), harness.route))


def _text(events: Iterable[Event]) -> str:
    return "".join(event.text for event in events if isinstance(event, TextDelta))


# -- replies ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", REPLIES, ids=_ids)
async def test_contract_replies_follow_the_event_grammar(harness: ContractHarness, answer: Upstream) -> None:
    events = (await _run(harness, answer)).reply()
    check_grammar(events)
    if harness.sees_closing:
        assert harness.upstream_closed(), "the upstream response was left open after a complete reply"


@pytest.mark.asyncio
async def test_contract_text_reply(harness: ContractHarness) -> None:
    events = (await _run(harness, Upstream.TEXT)).reply()
    assert _text(events) == REPLY_TEXT
    stop = events[-1]
    assert isinstance(stop, MessageStop) and stop.stop_reason == "end_turn"


@pytest.mark.asyncio
async def test_contract_tool_call_reply(harness: ContractHarness) -> None:
    events = (await _run(harness, Upstream.TOOL_CALL)).reply()
    starts = [event for event in events if isinstance(event, ToolUseStart)]
    assert [(start.name, start.server) for start in starts] == [(TOOL_NAME, False)]
    assert starts[0].id, "a tool call needs an id the client can answer"
    assert json.loads("".join(e.partial_json for e in events if isinstance(e, ToolInputDelta))) == TOOL_INPUT
    stop = events[-1]
    assert isinstance(stop, MessageStop) and stop.stop_reason == "tool_use"


@pytest.mark.asyncio
async def test_contract_thinking_reply(harness: ContractHarness) -> None:
    events = (await _run(harness, Upstream.THINKING)).reply()
    assert any(isinstance(event, ThinkingStart) for event in events), "no thinking block"
    assert "".join(e.thinking for e in events if isinstance(e, ThinkingDelta)).strip(), "no reasoning text"
    if harness.signs_thinking:
        assert any(isinstance(event, SignatureDelta) for event in events), "no signature"
    signatures = client_thinking_signatures(events, harness.route)
    assert signatures, "no thinking block reaches the client"
    assert all(signatures), "a thinking block reaches the client without a signature"


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", REPLIES, ids=_ids)
async def test_contract_signatures_name_the_provider_and_route_model(
    harness: ContractHarness, answer: Upstream
) -> None:
    events = (await _run(harness, answer)).reply()
    provider, model = harness.provider.name, harness.route.model
    for event in events:
        if isinstance(event, SignatureDelta):
            signature = event.signature
            assert isinstance(signature, Signature), f"{signature!r} is not a router.conversation.Signature"
            assert signature.minted_by(provider, model), f"{signature!r} is not tagged {provider}/{model}"
            assert signature.value, "an empty signature"


# -- failures ---------------------------------------------------------------------------------------


def _auth_refused(error: ProviderError) -> None:
    assert isinstance(error, AuthError) and not error.retryable


def _rate_limited(error: ProviderError) -> None:
    assert isinstance(error, RateLimited) and error.fallback
    assert error.retry_after == RETRY_AFTER, f"retry_after is {error.retry_after!r}, the backend said {RETRY_AFTER}"


def _retryable(error: ProviderError) -> None:
    assert error.retryable and error.fallback, f"{type(error).__name__} is not retryable"


def _context(error: ProviderError) -> None:
    assert isinstance(error, ContextTooLong) and not error.fallback and not error.retryable
    assert error.message.startswith("prompt is too long"), error.message  # what makes Claude Code compact


def _rejected(error: ProviderError) -> None:
    assert isinstance(error, UpstreamRejected) and not error.fallback and not error.retryable


def _timeout(error: ProviderError) -> None:
    assert isinstance(error, UpstreamTimeout) and error.retryable


EXPECTED: dict[Upstream, Callable[[ProviderError], None]] = {
    Upstream.AUTH_REFUSED: _auth_refused,
    Upstream.RATE_LIMITED: _rate_limited,
    Upstream.SERVER_ERROR: _retryable,
    Upstream.UNAVAILABLE: _retryable,
    Upstream.CONTEXT_OVERFLOW: _context,
    Upstream.REJECTED: _rejected,
    Upstream.CONNECT_ERROR: _retryable,
    Upstream.TIMEOUT: _timeout,
    Upstream.BROKEN_MID_STREAM: _retryable,
    Upstream.SILENT_MID_STREAM: _timeout,
}


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", FAILURES, ids=_ids)
async def test_contract_failures_raise_router_errors_with_their_flags(
    harness: ContractHarness, answer: Upstream
) -> None:
    error = (await _run(harness, answer)).failure()
    EXPECTED[answer](error)


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", [answer for answer in FAILURES if answer not in TRANSPORT], ids=_ids)
async def test_contract_failed_responses_are_closed(harness: ContractHarness, answer: Upstream) -> None:
    _require(harness, answer, closing=True)
    (await _run(harness, answer)).failure()
    assert harness.upstream_closed(), f"the upstream response was left open after {answer.value}"


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", MID_STREAM, ids=_ids)
async def test_contract_a_reply_broken_mid_stream_keeps_its_start(harness: ContractHarness, answer: Upstream) -> None:
    outcome = await _run(harness, answer)
    outcome.failure()
    check_grammar(outcome.events, complete=False)
    if harness.sees_closing:
        assert harness.upstream_closed(), f"the upstream response was left open after {answer.value}"


# -- closing ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_contract_an_abandoned_stream_closes_the_upstream(harness: ContractHarness) -> None:
    _require(harness, Upstream.TEXT, closing=True)
    harness.script(Upstream.TEXT)
    stream = harness.provider.stream(harness.request(Upstream.TEXT), harness.route)
    async with asyncio.timeout(DEADLINE):
        events_of(await anext(stream))
    await close(stream)  # the client went away after the first batch
    assert harness.upstream_closed(), "closing the stream early left the upstream response open"


@pytest.mark.asyncio
async def test_contract_a_stalled_upstream_is_closed_when_the_reader_gives_up(harness: ContractHarness) -> None:
    _require(harness, Upstream.STALLED, closing=True)
    harness.script(Upstream.STALLED)
    stream = harness.provider.stream(harness.request(Upstream.STALLED), harness.route)
    async with asyncio.timeout(DEADLINE):
        events_of(await anext(stream))
    for _ in range(10_000):  # the batches the partial reply holds, until the silence
        try:
            async with asyncio.timeout(STALL_WAIT):
                events_of(await anext(stream))
        except TimeoutError:
            break
        except StopAsyncIteration:
            raise ContractViolation("the stream ended while its upstream was silent") from None
    else:
        raise ContractViolation("the stalled reply never went silent")
    await close(stream)
    assert harness.upstream_closed(), "the stalled upstream response was left open after the reader gave up"


# -- secrets ----------------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("answer", [*REPLIES, *FAILURES], ids=_ids)
async def test_contract_secrets_stay_out_of_errors_and_logs(
    harness: ContractHarness, answer: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        outcome = await _run(harness, answer)
    texts = {"the log": caplog.text}
    if outcome.error is not None:
        error = outcome.failure()
        texts.update({"the error message": error.message, "str(error)": str(error), "repr(error)": repr(error)})
    secrets = [secret for secret in harness.secrets() if secret]
    for secret in secrets:
        for where, text in texts.items():
            assert secret not in text, f"a secret ({secret[:4]}…) appears in {where}"
