"""router.anthropic.replies: an Anthropic SSE reply from a backend -> canonical events.

Signatures are wrapped under the provider name the caller gives; blocks the canonical model
cannot carry are skipped with their deltas; errors and cut-off streams raise router errors.
"""

from __future__ import annotations

from typing import Any

import pytest

from router import errors
from router.anthropic.replies import AnthropicReplyState, error_from_anthropic
from router.conversation import Signature, Usage
from router.events import (
    BlockStop,
    Event,
    MessageStart,
    MessageStop,
    SignatureDelta,
    TextDelta,
    TextStart,
    ThinkingDelta,
    ThinkingStart,
    ToolInputDelta,
    ToolUseStart,
)
from router.route import Route

ROUTE = Route("proxy", "claude-opus-4-5")


def start(index: int, block: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}


def delta(index: int, **fields: Any) -> tuple[str, dict[str, Any]]:
    return "content_block_delta", {"type": "content_block_delta", "index": index, "delta": fields}


def stop(index: int) -> tuple[str, dict[str, Any]]:
    return "content_block_stop", {"type": "content_block_stop", "index": index}


USAGE = {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 1}
MESSAGE_START: tuple[str, dict[str, Any]] = (
    "message_start", {"type": "message_start", "message": {"model": "claude-opus-4-5-20260101", "usage": USAGE}}
)
MESSAGE_END: list[tuple[str, dict[str, Any]]] = [
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}}),
    ("message_stop", {"type": "message_stop"}),
]

REPLIES: dict[str, tuple[list[tuple[str, dict[str, Any]]], list[Event]]] = {
    "thinking with a signature, then text": (
        [start(0, {"type": "thinking", "thinking": ""}), delta(0, type="thinking_delta", thinking="Hmm."),
         delta(0, type="signature_delta", signature="raw"), stop(0),
         start(1, {"type": "text", "text": ""}), delta(1, type="text_delta", text="Hi"), stop(1)],
        [ThinkingStart(), ThinkingDelta("Hmm."), SignatureDelta(Signature("minter", ROUTE.model, "raw")), BlockStop(),
         TextStart(), TextDelta("Hi"), BlockStop()],
    ),
    "redacted thinking keeps its data as the signature": (
        [start(0, {"type": "redacted_thinking", "data": "opaque"}), stop(0)],
        [ThinkingStart(redacted=True), SignatureDelta(Signature("minter", ROUTE.model, "opaque")), BlockStop()],
    ),
    "server tool results are skipped with their deltas": (
        [start(0, {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"q": "x"}}), stop(0),
         start(1, {"type": "web_search_tool_result", "content": []}), delta(1, type="text_delta", text="no"), stop(1),
         start(2, {"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}),
         delta(2, type="input_json_delta", partial_json='{"c": 1}'), stop(2)],
        [ToolUseStart("s1", "web_search", server=True), ToolInputDelta('{"q":"x"}'), BlockStop(),
         ToolUseStart("t1", "Bash"), ToolInputDelta('{"c": 1}'), BlockStop()],
    ),
}


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_replies_map_one_to_one(name: str) -> None:
    body, expected = REPLIES[name]
    state = AnthropicReplyState(ROUTE, provider="minter")
    stream: list[tuple[str, dict[str, Any]]] = [MESSAGE_START, ("ping", {"type": "ping"}), *body, *MESSAGE_END]
    events = [event for kind, data in stream for event in state.feed(kind, data)] + state.finish()
    assert events[0] == MessageStart("claude-opus-4-5-20260101", Usage(10, 1, 90, 0))
    assert events[1:-1] == expected
    assert events[-1] == MessageStop("end_turn", Usage(10, 7, 90, 0))


def test_signatures_default_to_the_routes_provider_and_open_blocks_close_at_the_end() -> None:
    state = AnthropicReplyState(ROUTE)
    events = [e for kind, data in [start(0, {"type": "thinking", "thinking": "", "signature": "s"}),
                                   ("message_stop", {"type": "message_stop"})] for e in state.feed(kind, data)]
    assert events == [MessageStart(ROUTE.model), ThinkingStart(), SignatureDelta(Signature("proxy", ROUTE.model, "s")),
                      BlockStop(), MessageStop("end_turn", Usage())]


@pytest.mark.parametrize(
    ("error", "cls", "said"),
    [
        ({"type": "overloaded_error", "message": "Overloaded"}, errors.Overloaded, "Proxy reported overloaded_error"),
        ({"type": "rate_limit_error", "message": "slow"}, errors.RateLimited, "slow"),
        ({"type": "authentication_error", "message": "Bearer abc"}, errors.AuthError, "Bearer …"),
        ({"type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000"},
         errors.ContextTooLong, "prompt is too long: the conversation exceeds claude-opus-4-5's"),
        ({"type": "invalid_request_error", "message": "bad field"}, errors.UpstreamRejected, "bad field"),
        ({"type": "not_found_error", "message": "no model"}, errors.ModelUnavailable, "no model"),
        ({"type": "api_error"}, errors.UpstreamUnavailable, "Proxy reported api_error"),
        ({}, errors.UpstreamUnavailable, "Proxy reported an error"),
    ],
)
def test_error_events_become_router_errors(error: dict[str, Any], cls: type[errors.ProviderError], said: str) -> None:
    state = AnthropicReplyState(ROUTE, backend="Proxy")
    with pytest.raises(cls) as caught:
        state.feed("error", {"type": "error", "error": error})
    assert type(caught.value) is cls and said in caught.value.message and caught.value.provider == "proxy"
    assert error_from_anthropic(error, backend="Proxy", model=ROUTE.model).message == caught.value.message


def test_a_caller_reads_errors_its_own_way_and_a_cut_off_stream_fails() -> None:
    state = AnthropicReplyState(ROUTE, backend="Proxy", error=lambda raw: errors.PermissionDenied(str(raw)))
    with pytest.raises(errors.PermissionDenied):
        state.feed("error", {"type": "error", "error": {"type": "overloaded_error"}})
    state = AnthropicReplyState(ROUTE, backend="Proxy")
    state.feed(*MESSAGE_START)
    with pytest.raises(errors.UpstreamUnavailable, match="the Proxy stream ended before message_stop"):
        state.finish()
