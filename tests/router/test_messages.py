"""POST /v1/messages through the ASGI app: streaming and folded replies, routing, fallbacks."""

from __future__ import annotations

import json
import re

from router.conversation import Signature, Usage
from router.errors import ContextTooLong, Overloaded, RateLimited, UpstreamRejected
from router.events import (
    BlockStop,
    MessageStart,
    MessageStop,
    SignatureDelta,
    TextDelta,
    TextStart,
    ThinkingStart,
    ToolInputDelta,
    ToolUseStart,
)
from tests.conftest import Harness, body
from tests.support.scripted import Sleep, Step, text_reply, thinking_reply, tool_reply
from tests.support.sse import checked


async def test_streamed_text_reply_follows_anthropic_event_order(harness: Harness) -> None:
    harness.scripted.queue(text_reply("Hel", "lo"))
    response = await harness.http.post("/v1/messages?beta=true", json=body(stream=True))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = checked(response.text)
    names = [name for name, _ in events]
    assert names == ["message_start", "content_block_start", "content_block_delta", "content_block_delta",
                     "content_block_stop", "message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert re.fullmatch(r"msg_01[A-Za-z0-9]{22}", start["id"])
    assert start["model"] == "claude-opus-4-8"  # the client sees the name it asked for
    assert start["usage"]["input_tokens"] == 11
    delta = events[5][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"] == {"input_tokens": 11, "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 3, "output_tokens": 7}
    assert "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta") == "Hello"


async def test_non_streamed_reply_is_folded_from_the_same_events(harness: Harness) -> None:
    signature = Signature("scripted", "big-model", "opaque-1")
    harness.scripted.queue(thinking_reply("let me think", "42", signature))
    response = await harness.http.post("/v1/messages", json=body())
    assert response.status_code == 200
    message = response.json()
    assert message["type"] == "message" and message["role"] == "assistant"
    assert message["stop_reason"] == "end_turn"
    thinking, text = message["content"]
    assert thinking["type"] == "thinking" and thinking["thinking"] == "let me think"
    assert thinking["signature"].startswith("swy1.") and thinking["signature"].endswith(".opaque-1")
    assert text == {"type": "text", "text": "42"}
    assert message["usage"]["output_tokens"] == 7


async def test_tool_calls_get_toolu_ids_and_parsed_input(harness: Harness) -> None:
    harness.scripted.queue(tool_reply(("call_abc", "Bash", '{"command": "ls"}'), ("toolu_keep", "Read", '{"p": 1}')))
    message = (await harness.http.post("/v1/messages", json=body())).json()
    assert message["stop_reason"] == "tool_use"
    first, second = message["content"]
    assert first == {"type": "tool_use", "id": "toolu_call_abc", "name": "Bash", "input": {"command": "ls"}}
    assert second["id"] == "toolu_keep"


async def test_routes_by_tier_with_effort(harness: Harness) -> None:
    await harness.http.post("/v1/messages", json=body("claude-opus-4-8"))
    await harness.http.post("/v1/messages", json=body("claude-haiku-4-5-20251001"))
    await harness.http.post("/v1/messages", json=body("claude-mythos-5"))
    await harness.http.post("/v1/messages", json=body("up-custom"))
    routes = [route for _, route in harness.scripted.calls]
    assert [(r.model, r.effort) for r in routes] == [("big-model", "high"), ("default-model", None), ("up-custom", None)]
    assert [route.model for _, route in harness.other.calls] == ["small-model"]


async def test_direct_upstream_names_route_without_a_rule(harness: Harness) -> None:
    response = await harness.http.post("/v1/messages", json=body("other/anything:low"))
    assert response.status_code == 200
    (_, route), = harness.other.calls
    assert (route.model, route.effort) == ("anything", "low")


async def test_unknown_model_is_a_404_naming_what_can_be_asked_for(harness: Harness) -> None:
    response = await harness.http.post("/v1/messages", json=body("gpt-4o"))
    assert response.status_code == 404
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "not_found_error"
    assert "gpt-4o" in error["error"]["message"] and "opus" in error["error"]["message"]
    assert harness.scripted.calls == [] and harness.other.calls == []


async def test_retryable_failure_is_retried_before_the_first_byte(harness: Harness) -> None:
    harness.scripted.queue([Overloaded("busy")], text_reply("second time lucky"))
    message = (await harness.http.post("/v1/messages", json=body())).json()
    assert message["content"][0]["text"] == "second time lucky"
    assert len(harness.scripted.calls) == 2


async def test_falls_back_to_the_next_route_when_the_first_cannot_serve(harness: Harness) -> None:
    harness.scripted.queue([RateLimited("limit", retry_after=30)])
    harness.other.queue(text_reply("from backup"))
    message = (await harness.http.post("/v1/messages", json=body())).json()
    assert message["content"][0]["text"] == "from backup"
    assert harness.other.calls[0][1].model == "backup-model"


async def test_context_too_long_does_not_fall_back_and_says_prompt_is_too_long(harness: Harness) -> None:
    harness.scripted.queue([ContextTooLong("context window of 272000 tokens exceeded")])
    response = await harness.http.post("/v1/messages", json=body(stream=True))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("prompt is too long")
    assert harness.other.calls == []


async def test_rate_limit_without_fallback_is_a_429_with_retry_after(harness: Harness) -> None:
    harness.scripted.queue([RateLimited("usage limit reached; resets in 90s", retry_after=89.2)])
    response = await harness.http.post("/v1/messages", json=body("claude-sonnet-5"))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "90"
    assert response.json()["error"] == {"type": "rate_limit_error", "message": "usage limit reached; resets in 90s"}


async def test_failure_after_the_first_byte_becomes_an_error_event(harness: Harness) -> None:
    harness.scripted.queue([MessageStart("m"), TextStart(), TextDelta("partial"), Overloaded("upstream went away")])
    response = await harness.http.post("/v1/messages", json=body(stream=True))
    assert response.status_code == 200
    events = checked(response.text)
    assert events[-1] == ("error", {"type": "error", "error": {"type": "overloaded_error",
                                                                "message": "upstream went away"}})
    assert harness.scripted.closed_streams == 1


async def test_a_stream_that_ends_early_is_an_error_never_a_silent_truncation(harness: Harness) -> None:
    cut: list[Step] = [MessageStart("m"), TextStart(), TextDelta("cut")]
    harness.scripted.queue(cut, cut)
    events = checked((await harness.http.post("/v1/messages", json=body(stream=True))).text)
    assert events[-1][0] == "error" and "ended before it was complete" in events[-1][1]["error"]["message"]
    folded = await harness.http.post("/v1/messages", json=body())
    assert folded.status_code == 502 and folded.json()["error"]["type"] == "api_error"


async def test_provider_bugs_never_leak_a_traceback(harness: Harness) -> None:
    harness.scripted.queue([MessageStart("m"), KeyError("secret-internal-detail")])
    response = await harness.http.post("/v1/messages", json=body(stream=True))
    text = response.text
    assert "Traceback" not in text and "secret-internal-detail" not in text
    assert checked(text)[-1][1]["error"]["type"] == "api_error"


async def test_provider_breaking_event_order_is_reported_not_forwarded(harness: Harness) -> None:
    harness.scripted.queue([MessageStart("m"), TextDelta("no block open")])
    events = checked((await harness.http.post("/v1/messages", json=body(stream=True))).text)
    assert events[-1][0] == "error"


async def test_pings_keep_a_silent_stream_alive(harness: Harness) -> None:
    harness.scripted.queue([MessageStart("m"), Sleep(0.5), *text_reply("late")[1:]])
    events = checked((await harness.http.post("/v1/messages", json=body(stream=True))).text)
    assert ("ping", {"type": "ping"}) in events
    assert events[-1][0] == "message_stop"


async def test_redacted_thinking_is_emitted_with_its_data(harness: Harness) -> None:
    signature = Signature("scripted", "big-model", "enc")
    harness.scripted.queue([MessageStart("m"), ThinkingStart(redacted=True), SignatureDelta(signature), BlockStop(),
                            *text_reply("ok")[1:]])
    events = checked((await harness.http.post("/v1/messages", json=body(stream=True))).text)
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert starts[0]["type"] == "redacted_thinking" and starts[0]["data"].endswith(".enc")
    assert starts[1]["type"] == "text"


async def test_foreign_signatures_are_dropped_before_the_provider_sees_them(harness: Harness) -> None:
    mine = Signature("scripted", "big-model", "mine")
    harness.scripted.queue(thinking_reply("t", "a", mine))
    first = (await harness.http.post("/v1/messages", json=body())).json()
    history = [
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": first["content"]},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "anthropic's", "signature": "EqQBCkYI"},
                                          {"type": "redacted_thinking", "data": "EmwKAhgB"},
                                          {"type": "text", "text": "a2"}]},
        {"role": "user", "content": "q2"},
    ]
    await harness.http.post("/v1/messages", json={**body(), "messages": history})
    await harness.http.post("/v1/messages", json={**body("claude-sonnet-5"), "messages": history})
    same_route, other_model = harness.scripted.calls[1][0], harness.scripted.calls[2][0]
    kept = same_route.messages[1].content[0]
    assert kept.signature == mine  # type: ignore[union-attr]
    foreign = same_route.messages[2].content
    assert [type(b).__name__ for b in foreign] == ["ThinkingBlock", "TextBlock"]  # redacted dropped whole
    assert foreign[0].signature is None and foreign[0].thinking == "anthropic's"  # type: ignore[union-attr]
    assert other_model.messages[1].content[0].signature is None  # type: ignore[union-attr]


async def test_usage_reports_cached_input(harness: Harness) -> None:
    harness.scripted.queue(text_reply("x", usage=Usage(input_tokens=5, output_tokens=2, cache_read_input_tokens=100)))
    usage = (await harness.http.post("/v1/messages", json=body())).json()["usage"]
    assert usage["cache_read_input_tokens"] == 100 and usage["input_tokens"] == 5


async def test_stop_reason_and_sequence_pass_through(harness: Harness) -> None:
    harness.scripted.queue([MessageStart("m"), TextStart(), TextDelta("a"), BlockStop(),
                            MessageStop("stop_sequence", stop_sequence="END")])
    message = (await harness.http.post("/v1/messages", json=body(stop_sequences=["END"]))).json()
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "END")
    request, _ = harness.scripted.calls[0]
    assert request.stop_sequences == ("END",)


async def test_upstream_rejection_is_a_400(harness: Harness) -> None:
    harness.scripted.queue([UpstreamRejected("Improperly formed request")])
    response = await harness.http.post("/v1/messages", json=body())
    assert response.status_code == 400 and "Improperly formed" in response.json()["error"]["message"]
    assert harness.other.calls == []


async def test_claude_code_session_and_betas_reach_the_provider(harness: Harness) -> None:
    headers = {"x-claude-code-session-id": "sess-1", "anthropic-beta": "a-1, b-2"}
    await harness.http.post("/v1/messages?beta=true", json=body(), headers=headers)
    request, _ = harness.scripted.calls[0]
    assert request.session_id == "sess-1" and request.betas == ("a-1", "b-2")
    assert json.loads(json.dumps(dict(request.metadata))) == {}


async def test_library_exceptions_from_a_provider_never_reach_the_client(harness: Harness) -> None:
    import httpx

    failure = httpx.ConnectError("could not reach internal-host.example with token abc")
    harness.scripted.queue([failure])
    response = await harness.http.post("/v1/messages", json=body("claude-sonnet-5"))
    assert response.status_code == 502
    error = response.json()["error"]
    assert error == {"type": "api_error", "message": "provider 'scripted' failed: ConnectError"}
    assert len(harness.scripted.calls) == 1  # a provider bug: not retried


async def test_folded_replies_enforce_event_order_like_streams(harness: Harness) -> None:
    harness.scripted.queue(
        [MessageStart("m"), TextDelta("no block open"), MessageStop("end_turn")],
        [MessageStart("m"), MessageStart("m"), MessageStop("end_turn")],
        [MessageStart("m"), BlockStop(), MessageStop("end_turn")],
    )
    for _ in range(3):
        response = await harness.http.post("/v1/messages", json=body())
        assert response.status_code == 502 and response.json()["error"]["type"] == "api_error"


def cut_call(stop: str) -> list[Step]:
    """A reply whose tool call's arguments end mid-JSON, then stops for `stop`."""
    return [MessageStart("m"), ToolUseStart("toolu_1", "Write"), ToolInputDelta('{"path": "a.txt", "content": "hel'),
            BlockStop(), MessageStop(stop, usage=Usage(output_tokens=9))]  # type: ignore[arg-type]


async def test_a_folded_reply_cut_off_mid_call_is_a_reply_not_a_502(harness: Harness) -> None:
    harness.scripted.queue(cut_call("max_tokens"))
    reply = await harness.http.post("/v1/messages", json=body())
    assert reply.status_code == 200, reply.text
    message = reply.json()
    assert message["stop_reason"] == "max_tokens"
    assert message["content"] == [{"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {}}]
    harness.scripted.queue(cut_call("max_tokens"))
    chat = await harness.http.post("/v1/chat/completions", json={"model": "claude-opus-4-8", "messages": [
        {"role": "user", "content": "hi"}]})
    assert chat.status_code == 200 and chat.json()["choices"][0]["finish_reason"] == "length"


async def test_broken_arguments_in_a_finished_reply_are_still_an_upstream_failure(harness: Harness) -> None:
    harness.scripted.queue(cut_call("tool_use"))
    reply = await harness.http.post("/v1/messages", json=body())
    assert reply.status_code == 502 and "not valid JSON" in reply.json()["error"]["message"]
