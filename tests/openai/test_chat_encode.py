"""Canonical events and replies -> Chat Completions chunks and completions (router/openai/chat_encode.py).

Every chunk and completion is also parsed with the `openai` SDK's own types (when installed), so
the shapes are the ones OpenAI clients read, not merely ones these tests expect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from router.conversation import Reply, Signature, StopReason, TextBlock, ThinkingBlock, ToolUseBlock, Usage
from router.errors import UpstreamUnavailable
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
from router.openai.chat_decode import parse_chat_request
from router.openai.chat_encode import DONE, ChatStreamEncoder, chat_completion_json

try:
    from openai.types.chat import ChatCompletion, ChatCompletionChunk
except ImportError:  # the SDK is optional: the shapes are still checked by hand below
    ChatCompletion = ChatCompletionChunk = None  # type: ignore[assignment,misc]

USAGE = Usage(input_tokens=10, output_tokens=5, cache_read_input_tokens=30, cache_creation_input_tokens=2)


def stream(events: Sequence[Event], include_usage: bool = False) -> list[dict[str, Any]]:
    """The chunks an encoder writes for `events` (fed as batches of two), checked against the SDK."""
    encoder = ChatStreamEncoder("gpt-x", include_usage, completion_id="chatcmpl-abc", created=1700000000)
    out = b"".join(encoder.encode_batch(events[i : i + 2]) for i in range(0, len(events), 2))
    assert out.endswith(DONE) and out.count(DONE) == 1
    frames = out[: -len(DONE)].split(b"\n\n")
    assert frames.pop() == b""
    chunks = []
    for frame in frames:
        assert frame.startswith(b"data: ")
        chunk = orjson.loads(frame[6:])
        assert (chunk["id"], chunk["object"], chunk["created"], chunk["model"]) == (
            "chatcmpl-abc", "chat.completion.chunk", 1700000000, "gpt-x"
        )
        if ChatCompletionChunk is not None:
            ChatCompletionChunk.model_validate(chunk)
        chunks.append(chunk)
    return chunks


def deltas(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]


def finish(chunks: list[dict[str, Any]]) -> list[str | None]:
    return [chunk["choices"][0]["finish_reason"] for chunk in chunks if chunk["choices"]]


def opened(index: int, call_id: str, name: str) -> dict[str, Any]:
    """The first delta of a tool call: everything but its arguments."""
    return {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}


def text_reply(stop: StopReason = "end_turn") -> list[Event]:
    return [MessageStart("m"), TextStart(), TextDelta("Hel"), TextDelta("lo"), BlockStop(), MessageStop(stop, USAGE)]


def test_a_text_reply_streams_role_then_content_then_finish() -> None:
    chunks = stream(text_reply())
    assert deltas(chunks) == [{"role": "assistant", "content": ""}, {"content": "Hel"}, {"content": "lo"}, {}]
    assert finish(chunks) == [None, None, None, "stop"]
    assert all("usage" not in chunk for chunk in chunks)


def test_two_parallel_tool_calls_stream_as_two_indexed_calls() -> None:
    events: list[Event] = [
        MessageStart("m"),
        ToolUseStart("call_1", "weather"),
        ToolInputDelta('{"city":'),
        ToolInputDelta('"Paris"}'),
        BlockStop(),
        ToolUseStart("call_2", "weather"),
        ToolInputDelta('{"city":"Rome"}'),
        BlockStop(),
        MessageStop("tool_use", USAGE),
    ]
    chunks = stream(events)
    assert deltas(chunks)[1:] == [
        {"tool_calls": [opened(0, "call_1", "weather")]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
        {"tool_calls": [opened(1, "call_2", "weather")]},
        {"tool_calls": [{"index": 1, "function": {"arguments": '{"city":"Rome"}'}}]},
        {},
    ]
    assert finish(chunks)[-1] == "tool_calls"


def test_streamed_tool_calls_decode_back_as_the_same_calls() -> None:
    """What a client accumulates from the stream and sends back is what the model called."""
    events: list[Event] = [
        MessageStart("m"),
        ToolUseStart("call_1", "f"), ToolInputDelta('{"a":1}'), BlockStop(),
        ToolUseStart("call_2", "g"), ToolInputDelta('{"b":'), ToolInputDelta("2}"), BlockStop(),
        MessageStop("tool_use"),
    ]
    calls: dict[int, dict[str, Any]] = {}
    for delta in deltas(stream(events)):
        for part in delta.get("tool_calls", ()):
            call = calls.setdefault(part["index"], {"type": "function", "function": {"arguments": ""}})
            call.update({k: v for k, v in part.items() if k in ("id", "type")})
            call["function"]["name"] = part["function"].get("name", call["function"].get("name"))
            call["function"]["arguments"] += part["function"]["arguments"]
    messages = [{"role": "user", "content": "go"}, {"role": "assistant", "tool_calls": [calls[0], calls[1]]}]
    request = parse_chat_request({"model": "gpt-x", "messages": messages})
    assert request.messages[1].content == (ToolUseBlock("call_1", "f", {"a": 1}), ToolUseBlock("call_2", "g", {"b": 2}))


@pytest.mark.parametrize(
    ("stop", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
        ("tool_use", "stop"),  # no client tool call was streamed: nothing for the client to answer
    ],
)
def test_the_stop_reason_becomes_the_finish_reason(stop: StopReason, expected: str) -> None:
    assert finish(stream(text_reply(stop)))[-1] == expected


def test_reasoning_streams_as_reasoning_content_and_signatures_are_dropped() -> None:
    events: list[Event] = [
        MessageStart("m"),
        ThinkingStart(), ThinkingDelta("let me think"), SignatureDelta(Signature("codex", "m", "sig")), BlockStop(),
        ThinkingStart(redacted=True), SignatureDelta(Signature("codex", "m", "secret")), BlockStop(),
        TextStart(), TextDelta("answer"), BlockStop(),
        MessageStop("end_turn"),
    ]
    chunks = stream(events)
    assert deltas(chunks)[1:] == [{"reasoning_content": "let me think"}, {"content": "answer"}, {}]
    assert b"sig" not in orjson.dumps(chunks) and b"secret" not in orjson.dumps(chunks)


def test_a_server_tool_call_is_not_shown_to_the_client() -> None:
    events: list[Event] = [
        MessageStart("m"),
        ToolUseStart("srv_1", "web_search", server=True), ToolInputDelta('{"q":"x"}'), BlockStop(),
        ToolUseStart("call_1", "f"), ToolInputDelta("{}"), BlockStop(),
        MessageStop("tool_use"),
    ]
    calls = [part for delta in deltas(stream(events)) for part in delta.get("tool_calls", ())]
    assert [(part["index"], part.get("id")) for part in calls] == [(0, "call_1"), (0, None)]


def test_include_usage_adds_a_final_usage_chunk_and_null_usage_before_it() -> None:
    chunks = stream(text_reply(), include_usage=True)
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 42,
        "completion_tokens": 5,
        "total_tokens": 47,
        "prompt_tokens_details": {"cached_tokens": 30},
    }


@pytest.mark.parametrize(
    "events",
    [
        [TextStart()],
        [MessageStart("m"), TextDelta("x")],
        [MessageStart("m"), TextStart(), ToolInputDelta("{}")],
        [MessageStart("m"), BlockStop()],
        [MessageStart("m"), MessageStart("m")],
        [MessageStop("end_turn")],
        [MessageStart("m"), MessageStop("end_turn"), TextStart()],
    ],
)
def test_events_out_of_order_fail_loudly(events: list[Event]) -> None:
    encoder = ChatStreamEncoder("gpt-x")
    with pytest.raises(UpstreamUnavailable):
        encoder.encode_batch(events)


def test_ids_look_like_openai_ids_and_differ() -> None:
    first, second = ChatStreamEncoder("m"), ChatStreamEncoder("m")
    assert first.completion_id.startswith("chatcmpl-") and first.completion_id != second.completion_id
    assert isinstance(first.created, int) and first.created > 1_600_000_000


def test_a_call_streamed_without_arguments_gets_an_empty_object_before_it_closes() -> None:
    events: list[Event] = [
        MessageStart("m"),
        ToolUseStart("call_1", "now"), BlockStop(),
        ToolUseStart("call_2", "f"), ToolInputDelta('{"a":1}'), BlockStop(),
        ToolUseStart("call_3", "later"), ToolInputDelta(""), BlockStop(),
        MessageStop("tool_use"),
    ]
    assert deltas(stream(events))[1:] == [
        {"tool_calls": [opened(0, "call_1", "now")]},
        {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]},
        {"tool_calls": [opened(1, "call_2", "f")]},
        {"tool_calls": [{"index": 1, "function": {"arguments": '{"a":1}'}}]},
        {"tool_calls": [opened(2, "call_3", "later")]},
        {"tool_calls": [{"index": 2, "function": {"arguments": "{}"}}]},
        {},
    ]


@pytest.mark.parametrize(
    "close",
    [
        [BlockStop(), MessageStop("tool_use")],
        [MessageStop("tool_use")],  # left open: the message's end closes it
        [TextStart(), TextDelta("done"), BlockStop(), MessageStop("tool_use")],  # closed by the next block
    ],
)
def test_the_sdk_accumulates_a_call_without_arguments_as_an_empty_json_object(close: list[Event]) -> None:
    streaming = pytest.importorskip("openai.lib.streaming.chat")
    events: list[Event] = [MessageStart("m"), ToolUseStart("call_1", "now"), *close]
    state = streaming.ChatCompletionStreamState()
    for chunk in stream(events):
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    calls = state.get_final_completion().choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [("call_1", "now", "{}")]
    assert orjson.loads(calls[0].function.arguments) == {}


def test_a_server_call_without_arguments_stays_hidden() -> None:
    events: list[Event] = [MessageStart("m"), ToolUseStart("srv_1", "web_search", server=True), BlockStop(),
                           MessageStop("end_turn")]
    assert deltas(stream(events)) == [{"role": "assistant", "content": ""}, {}]


# -- non-streaming ---------------------------------------------------------------------------


def completion(reply: Reply) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(
        chat_completion_json(reply, "gpt-x", completion_id="chatcmpl-abc", created=1700000000)
    )
    if ChatCompletion is not None:
        ChatCompletion.model_validate(data)
    assert (data["id"], data["object"], data["created"], data["model"]) == (
        "chatcmpl-abc", "chat.completion", 1700000000, "gpt-x"
    )
    assert len(data["choices"]) == 1 and data["choices"][0]["index"] == 0
    return data


def test_a_text_reply_is_one_assistant_message_with_usage() -> None:
    data = completion(Reply("m", (TextBlock("Hel"), TextBlock("lo")), "max_tokens", None, USAGE))
    choice = data["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Hello", "refusal": None}
    assert choice["finish_reason"] == "length"
    assert data["usage"] == {
        "prompt_tokens": 42, "completion_tokens": 5, "total_tokens": 47, "prompt_tokens_details": {"cached_tokens": 30}
    }


def test_tool_calls_and_reasoning_in_a_reply() -> None:
    content = (
        ThinkingBlock("hmm", Signature("codex", "m", "sig")),
        ThinkingBlock("", Signature("codex", "m", "blob"), redacted=True),
        ToolUseBlock("call_1", "f", {"a": 1}),
        ToolUseBlock("srv_1", "web_search", {"q": "x"}, server=True),
        ToolUseBlock("call_2", "g", {}),
    )
    message = completion(Reply("m", content, "tool_use", None, Usage()))["choices"][0]["message"]
    assert message["content"] is None
    assert message["reasoning_content"] == "hmm"
    assert message["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}},
        {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
    ]
    assert completion(Reply("m", content, "tool_use", None, Usage()))["choices"][0]["finish_reason"] == "tool_calls"


def test_an_empty_reply_still_has_string_content() -> None:
    assert completion(Reply("m", (), "end_turn", None, Usage()))["choices"][0]["message"]["content"] == ""


def test_the_sdk_is_installed_for_shape_checks() -> None:
    """Skipped, not failed, without the SDK; when it is there the checks above used it."""
    if ChatCompletionChunk is None:
        pytest.skip("the openai package is not installed")
    chunk = ChatCompletionChunk.model_validate(stream(text_reply())[1])
    assert chunk.choices[0].delta.content == "Hel"


def test_the_sdk_accumulates_a_streamed_reply_into_the_calls_and_usage_sent() -> None:
    """The SDK's own stream accumulator (what `client.chat.completions.stream` uses) reads the stream whole."""
    streaming = pytest.importorskip("openai.lib.streaming.chat")
    events: list[Event] = [
        MessageStart("m"),
        TextStart(), TextDelta("checking"), BlockStop(),
        ToolUseStart("call_1", "f"), ToolInputDelta('{"a":'), ToolInputDelta("1}"), BlockStop(),
        ToolUseStart("call_2", "g"), ToolInputDelta("{}"), BlockStop(),
        MessageStop("tool_use", USAGE),
    ]
    state = streaming.ChatCompletionStreamState()
    for chunk in stream(events, include_usage=True):
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    final = state.get_final_completion()
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content == "checking"
    assert [(c.id, c.function.name, c.function.arguments) for c in choice.message.tool_calls or ()] == [
        ("call_1", "f", '{"a":1}'),
        ("call_2", "g", "{}"),
    ]
    assert final.usage is not None and (final.usage.prompt_tokens, final.usage.total_tokens) == (42, 47)
