"""Chat Completions requests (router/openai/chat_decode.py) -> the canonical `Request`.

Every field the dialect reads is checked against the canonical value it must become, and every
invalid request against the OpenAI-style `param` path its error names.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from router.conversation import (
    ImageBlock,
    Message,
    TextBlock,
    Thinking,
    ThinkingBlock,
    Tool,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
)
from router.errors import RequestError
from router.openai.chat_decode import (
    DEFAULT_MAX_TOKENS,
    RAW_ARGUMENTS,
    InvalidParam,
    decode_chat,
    decode_chat_request,
    parse_chat_request,
)

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()


def body(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}
    data.update(fields)
    return data


def test_a_minimal_request_decodes_with_defaults() -> None:
    request = decode_chat_request(orjson.dumps(body()))
    assert request.model == "gpt-x"
    assert request.messages == (Message("user", (TextBlock("hi"),)),)
    assert request.max_tokens == DEFAULT_MAX_TOKENS
    assert request.system == () and request.tools == () and request.tool_choice is None
    assert request.thinking is None and request.effort is None and not request.stream


@pytest.mark.parametrize(
    ("fields", "attribute", "expected"),
    [
        ({"max_tokens": 100}, "max_tokens", 100),
        ({"max_completion_tokens": 200, "max_tokens": 100}, "max_tokens", 200),
        ({"temperature": 0.5}, "temperature", 0.5),
        ({"top_p": 1}, "top_p", 1.0),
        ({"stop": "END"}, "stop_sequences", ("END",)),
        ({"stop": ["a", "b"]}, "stop_sequences", ("a", "b")),
        ({"stream": True}, "stream", True),
        ({"user": "u-1"}, "metadata", {"user_id": "u-1"}),
        ({"n": 1}, "model", "gpt-x"),
        ({"reasoning_effort": "minimal"}, "effort", "minimal"),
        ({"reasoning_effort": "high"}, "thinking", Thinking("adaptive")),
        ({"reasoning_effort": "none"}, "thinking", Thinking("disabled")),
        ({"reasoning_effort": "none"}, "effort", None),
        ({"tool_choice": "none"}, "tool_choice", ToolChoice("none")),
        ({"tool_choice": "auto"}, "tool_choice", ToolChoice("auto")),
        ({"tool_choice": "required"}, "tool_choice", ToolChoice("any")),
        ({"tool_choice": {"type": "function", "function": {"name": "f"}}}, "tool_choice", ToolChoice("tool", "f")),
        ({"parallel_tool_calls": False}, "tool_choice", ToolChoice("auto", disable_parallel_tool_use=True)),
        ({"parallel_tool_calls": True}, "tool_choice", None),
        (
            {"tool_choice": "required", "parallel_tool_calls": False},
            "tool_choice",
            ToolChoice("any", disable_parallel_tool_use=True),
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}},
            "output_schema",
            {"type": "object"},
        ),
        ({"response_format": {"type": "json_object"}}, "output_schema", None),
    ],
)
def test_each_option_becomes_its_canonical_field(fields: dict[str, Any], attribute: str, expected: Any) -> None:
    assert getattr(parse_chat_request(body(**fields)), attribute) == expected


def test_reasoning_effort_passes_through_as_the_canonical_effort() -> None:
    for effort in ("minimal", "low", "medium", "high"):
        request = parse_chat_request(body(reasoning_effort=effort))
        assert (request.effort, request.thinking) == (effort, Thinking("adaptive"))


@pytest.mark.parametrize(
    ("data", "include"),
    [({}, False), ({"stream_options": {"include_usage": True}}, True), ({"stream_options": {}}, False)],
)
def test_include_usage_is_read_from_stream_options(data: dict[str, Any], include: bool) -> None:
    assert decode_chat(orjson.dumps(body(stream=True, **data))).include_usage is include


def test_tools_become_canonical_tools() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    tools = [
        {"type": "function", "function": {"name": "search", "description": "find", "parameters": schema}},
        {"type": "function", "function": {"name": "now"}},
    ]
    assert parse_chat_request(body(tools=tools)).tools == (
        Tool("search", "find", schema),
        Tool("now", "", {"type": "object", "properties": {}}),
    )


def test_system_and_developer_messages_lead_into_the_system_prompt_and_stay_in_place_later() -> None:
    request = parse_chat_request(
        body(
            messages=[
                {"role": "system", "content": "be brief"},
                {"role": "developer", "content": [{"type": "text", "text": "use tools"}]},
                {"role": "user", "content": "hi"},
                {"role": "system", "content": "now be verbose"},
            ]
        )
    )
    assert request.system == (TextBlock("be brief"), TextBlock("use tools"))
    assert request.messages == (
        Message("user", (TextBlock("hi"),)),
        Message("system", (TextBlock("now be verbose"),)),
    )


def test_user_parts_keep_text_and_images_in_order() -> None:
    content = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "high"}},
        {"type": "image_url", "image_url": {"url": "https://example.test/cat.jpg"}},
    ]
    request = parse_chat_request(body(messages=[{"role": "user", "content": content}]))
    assert request.messages[0].content == (
        TextBlock("what is this?"),
        ImageBlock(media_type="image/png", data=PNG),
        ImageBlock(url="https://example.test/cat.jpg"),
    )


def test_parallel_tool_calls_and_their_results_round_trip_in_order() -> None:
    messages = [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "two cities, two calls",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}},
                {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Rome"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "rain"}]},
        {"role": "user", "content": "thanks"},
    ]
    request = parse_chat_request(body(messages=messages))
    assert request.messages == (
        Message("user", (TextBlock("weather in Paris and Rome?"),)),
        Message(
            "assistant",
            (
                ThinkingBlock("two cities, two calls"),
                ToolUseBlock("call_1", "weather", {"city": "Paris"}),
                ToolUseBlock("call_2", "weather", {"city": "Rome"}),
            ),
        ),
        Message(
            "user", (ToolResultBlock("call_1", (TextBlock("sunny"),)), ToolResultBlock("call_2", (TextBlock("rain"),)))
        ),
        Message("user", (TextBlock("thanks"),)),
    )


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("", {}),
        ('{"a": ', {RAW_ARGUMENTS: '{"a": '}),
        ("[1, 2]", {RAW_ARGUMENTS: "[1, 2]"}),
    ],
)
def test_tool_call_arguments_that_are_not_an_object_are_kept_as_text(arguments: str, expected: dict[str, Any]) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": arguments}}
    messages = [{"role": "user", "content": "go"}, {"role": "assistant", "tool_calls": [call]}]
    assert parse_chat_request(body(messages=messages)).messages[1].content == (ToolUseBlock("c", "f", expected),)


def test_an_assistant_text_reply_and_a_final_empty_assistant_message_are_accepted() -> None:
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "hello"}, {"type": "refusal", "refusal": "no"}]},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": ""},
    ]
    request = parse_chat_request(body(messages=messages))
    assert request.messages[1] == Message("assistant", (TextBlock("hello"), TextBlock("no")))
    assert request.messages[3] == Message("assistant", ())


def _image(url: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]}


def _tool_message(**fields: Any) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": "c", "content": "x", **fields}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": None}, "model"),
        ({"model": 3}, "model"),
        ({"messages": None}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": ""}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, "messages[0].content[0].type"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": 5}]}, "messages[1].content"),
        (_image("ftp://x"), "messages[0].content[0].image_url.url"),
        (_image("data:image/png,AAAA"), "messages[0].content[0].image_url.url"),
        (_image("data:image/png;base64,@@"), "messages[0].content[0].image_url.url"),
        (_image("data:text/plain;base64,AAAA"), "messages[0].content[0].image_url.url"),
        (_image(""), "messages[0].content[0].image_url.url"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant"}, {"role": "user", "content": "b"}]},
         "messages[1]"),
        (
            {"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}]},
            "messages[0].tool_calls[0].function.name",
        ),
        ({"messages": [{"role": "user", "content": "a"}, _tool_message(tool_call_id=None)]},
         "messages[1].tool_call_id"),
        ({"messages": [{"role": "system", "content": "only instructions"}]}, "messages"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": "9"}, "max_completion_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": "high"}, "top_p"),
        ({"stop": [1]}, "stop[0]"),
        ({"n": 2}, "n"),
        ({"reasoning_effort": "extreme"}, "reasoning_effort"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"tool_choice": {"type": "function", "function": {}}}, "tool_choice.function.name"),
        ({"parallel_tool_calls": "no"}, "parallel_tool_calls"),
        ({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0].type"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]},
         "tools[0].function.parameters"),
        ({"stream": "yes"}, "stream"),
        ({"stream_options": {"include_usage": 1}}, "stream_options.include_usage"),
        ({"user": 7}, "user"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
    ],
)
def test_an_invalid_field_is_named_by_its_openai_param_path(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidParam) as caught:
        decode_chat(orjson.dumps(body(**fields)))
    assert caught.value.param == param
    assert caught.value.message.startswith(f"{param}: ")
    assert isinstance(caught.value, RequestError)


@pytest.mark.parametrize("raw", [b"", b"{", b"[]"])
def test_a_body_that_is_not_a_json_object_is_refused_without_a_param(raw: bytes) -> None:
    with pytest.raises(InvalidParam) as caught:
        decode_chat(raw)
    assert caught.value.param is None


def test_a_body_nested_too_deep_is_refused_naming_where() -> None:
    deep: Any = "x"
    for _ in range(200):
        deep = [deep]
    data = body(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": deep}])
    with pytest.raises(InvalidParam) as caught:
        decode_chat(orjson.dumps(data))
    assert caught.value.param == "messages[1].content[0]"  # followed four levels down, as the Anthropic decoder does
    assert "nested more than" in caught.value.message
