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
    DocumentBlock,
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
PDF = base64.b64encode(b"%PDF-1.4 fake").decode()


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


# -- legacy functions ------------------------------------------------------------------------


def test_legacy_functions_and_function_call_read_as_tools_and_tool_choice() -> None:
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    functions = [{"name": "search", "description": "find", "parameters": schema}, {"name": "now"}]
    legacy = parse_chat_request(body(functions=functions, function_call={"name": "search"}))
    modern = parse_chat_request(
        body(tools=[{"type": "function", "function": f} for f in functions],
             tool_choice={"type": "function", "function": {"name": "search"}})
    )
    no_parameters = {"type": "object", "properties": {}}
    assert legacy.tools == modern.tools == (Tool("search", "find", schema), Tool("now", "", no_parameters))
    assert legacy.tool_choice == modern.tool_choice == ToolChoice("tool", "search")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"function_call": "none"}, ToolChoice("none")),
        ({"function_call": "auto"}, ToolChoice("auto")),
        ({"function_call": "auto", "parallel_tool_calls": False}, ToolChoice("auto", disable_parallel_tool_use=True)),
        ({"function_call": {"name": "f"}, "parallel_tool_calls": False}, ToolChoice("tool", "f", True)),
    ],
)
def test_function_call_becomes_the_tool_choice(fields: dict[str, Any], expected: ToolChoice) -> None:
    assert parse_chat_request(body(functions=[{"name": "f"}], **fields)).tool_choice == expected


def test_legacy_calls_in_the_history_are_answered_by_function_messages_of_their_name() -> None:
    messages = [
        {"role": "user", "content": "go"},
        _legacy_call("f", '{"n": 1}'),
        _function_message("f", "one"),
        _legacy_call("f", '{"n": 2}'),
        _legacy_call("g"),
        _legacy_call("f", '{"n": 3}'),
        _function_message("f", "three"),  # the latest unanswered call of f
        _function_message("g", "gee"),
        _function_message("f", "two"),
        {"role": "user", "content": "thanks"},
    ]
    request = parse_chat_request(body(messages=messages))
    assert request.messages == (
        Message("user", (TextBlock("go"),)),
        Message("assistant", (ToolUseBlock("call_legacy_1", "f", {"n": 1}),)),
        Message("user", (ToolResultBlock("call_legacy_1", (TextBlock("one"),)),)),
        Message("assistant", (ToolUseBlock("call_legacy_3", "f", {"n": 2}),)),
        Message("assistant", (ToolUseBlock("call_legacy_4", "g", {}),)),
        Message("assistant", (ToolUseBlock("call_legacy_5", "f", {"n": 3}),)),
        Message(
            "user",
            (
                ToolResultBlock("call_legacy_5", (TextBlock("three"),)),
                ToolResultBlock("call_legacy_4", (TextBlock("gee"),)),
                ToolResultBlock("call_legacy_3", (TextBlock("two"),)),
            ),
        ),
        Message("user", (TextBlock("thanks"),)),
    )


def test_a_legacy_history_decodes_like_its_modern_equivalent() -> None:
    legacy = [{"role": "user", "content": "go"}, _legacy_call("f", '{"a": 1}'), _function_message("f", "ok")]
    call = {"id": "call_legacy_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    modern = [{"role": "user", "content": "go"}, {"role": "assistant", "content": None, "tool_calls": [call]},
              {"role": "tool", "tool_call_id": "call_legacy_1", "content": "ok"}]
    assert parse_chat_request(body(messages=legacy)).messages == parse_chat_request(body(messages=modern)).messages


# -- leniency ------------------------------------------------------------------------------


def test_empty_text_parts_are_skipped_beside_other_parts() -> None:
    content = [{"type": "text", "text": ""}, {"type": "text", "text": "look"}, {"type": "text", "text": ""},
               {"type": "image_url", "image_url": {"url": "https://example.test/a.png"}}]
    request = parse_chat_request(body(messages=[{"role": "user", "content": content}]))
    assert request.messages == (Message("user", (TextBlock("look"), ImageBlock(url="https://example.test/a.png"))),)


def test_an_assistant_message_without_content_or_calls_is_dropped() -> None:
    messages = [
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": None},
        {"role": "user", "content": "a?"},
        {"role": "assistant", "content": [], "tool_calls": []},
        {"role": "user", "content": "b"},
    ]
    request = parse_chat_request(body(messages=messages))
    assert request.messages == tuple(Message("user", (TextBlock(t),)) for t in ("a", "a?", "b"))


@pytest.mark.parametrize("empty", ["", [], [{"type": "text", "text": ""}]])
def test_an_empty_user_message_is_dropped_when_a_later_user_turn_follows(empty: Any) -> None:
    messages = [
        {"role": "user", "content": empty},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": empty},
        {"role": "user", "content": "b"},
    ]
    request = parse_chat_request(body(messages=messages))
    assert request.messages == (Message("assistant", (TextBlock("hello"),)), Message("user", (TextBlock("b"),)))


@pytest.mark.parametrize("empty", ["", [], [{"type": "text", "text": ""}]])
def test_an_empty_last_user_message_is_kept_so_the_reply_answers_a_user_turn(empty: Any) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": empty},
        {"role": "user", "content": empty},
    ]
    request = parse_chat_request(body(messages=messages))
    assert request.system == (TextBlock("be brief"),)
    assert request.messages[-2:] == (Message("assistant", (TextBlock("hello"),)), Message("user", (TextBlock(""),)))
    assert parse_chat_request(body(messages=[{"role": "user", "content": empty}])).messages == (
        Message("user", (TextBlock(""),)),
    )


def test_instructions_after_dropped_empty_user_messages_still_lead_into_the_system_prompt() -> None:
    messages = [
        {"role": "user", "content": ""},
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": []},
        {"role": "developer", "content": "say hi"},
    ]
    request = parse_chat_request(body(messages=messages))
    assert request.system == (TextBlock("be brief"),)
    assert request.messages == (Message("user", (TextBlock(""),)), Message("system", (TextBlock("say hi"),)))
    only = parse_chat_request(body(messages=[{"role": "user", "content": ""}, {"role": "system", "content": "hi"},
                                             {"role": "user", "content": "x"}]))
    assert (only.system, only.messages) == ((TextBlock("hi"),), (Message("user", (TextBlock("x"),)),))


@pytest.mark.parametrize(
    ("messages", "system", "user"),
    [
        ([{"role": "system", "content": "translate: bonjour"}], (), "translate: bonjour"),
        (
            [{"role": "system", "content": "be brief"}, {"role": "developer", "content": "say hi"},
             {"role": "system", "content": ""}],
            ("be brief",),
            "say hi",
        ),
        ([{"role": "system", "content": "say hi"}, {"role": "assistant", "content": ""}], (), "say hi"),
    ],
)
def test_a_request_of_only_instructions_answers_the_last_one_as_the_user_turn(
    messages: list[dict[str, Any]], system: tuple[str, ...], user: str
) -> None:
    request = parse_chat_request(body(messages=messages))
    assert request.system == tuple(TextBlock(text) for text in system)
    assert request.messages == (Message("user", (TextBlock(user),)),)


# -- files and audio -----------------------------------------------------------------------


def test_file_parts_become_documents() -> None:
    content = [
        {"type": "text", "text": "summarise"},
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "report.pdf"}},
        {"type": "file", "file": {"file_data": PDF}},  # bare base64: Chat Completions files are PDFs
    ]
    request = parse_chat_request(body(messages=[{"role": "user", "content": content}]))
    assert request.messages[0].content == (
        TextBlock("summarise"),
        DocumentBlock(media_type="application/pdf", data=PDF, title="report.pdf"),
        DocumentBlock(media_type="application/pdf", data=PDF),
    )


def test_audio_parts_are_refused_by_name() -> None:
    audio = {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}
    with pytest.raises(InvalidParam) as caught:
        parse_chat_request(body(messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}, audio]}]))
    assert caught.value.param == "messages[0].content[1].type"
    assert "'input_audio' parts are not supported" in caught.value.message


def _image(url: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]}


def _tool_message(**fields: Any) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": "c", "content": "x", **fields}


def _file(file: dict[str, Any] | None) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"type": "file", "file": file}]}]}


def _legacy_call(name: str, arguments: str = "{}") -> dict[str, Any]:
    return {"role": "assistant", "content": None, "function_call": {"name": name, "arguments": arguments}}


def _function_message(name: str | None = "f", content: str = "done") -> dict[str, Any]:
    return {"role": "function", "name": name, "content": content}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": None}, "model"),
        ({"model": 3}, "model"),
        ({"messages": None}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, "messages[0].content[0].type"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": 5}]}, "messages[1].content"),
        (_image("ftp://x"), "messages[0].content[0].image_url.url"),
        (_image("data:image/png,AAAA"), "messages[0].content[0].image_url.url"),
        (_image("data:image/png;base64,@@"), "messages[0].content[0].image_url.url"),
        (_image("data:text/plain;base64,AAAA"), "messages[0].content[0].image_url.url"),
        (_image(""), "messages[0].content[0].image_url.url"),
        (
            {"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}]},
            "messages[0].tool_calls[0].function.name",
        ),
        ({"messages": [{"role": "user", "content": "a"}, _tool_message(tool_call_id=None)]},
         "messages[1].tool_call_id"),
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
        ({"messages": [{"role": "system", "content": ""}, {"role": "developer", "content": []}]}, "messages"),
        ({"messages": [{"role": "assistant", "content": None}]}, "messages"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}, "messages[0].content[0].text"),
        (_file({"file_id": "file-abc"}), "messages[0].content[0].file.file_id"),
        (_file({"filename": "x.pdf"}), "messages[0].content[0].file.file_data"),
        (_file({"file_data": "data:application/pdf,AAAA"}), "messages[0].content[0].file.file_data"),
        (_file({"file_data": "data:application/pdf;base64,@@"}), "messages[0].content[0].file.file_data"),
        (_file({"file_data": "data:application/pdf;base64,"}), "messages[0].content[0].file.file_data"),
        (_file({"file_data": f"data:application/pdf;base64,{PDF}", "filename": 3}),
         "messages[0].content[0].file.filename"),
        (_file(None), "messages[0].content[0].file"),
        ({"functions": [{"name": "f"}], "tools": [{"type": "function", "function": {"name": "g"}}]}, "functions"),
        ({"functions": [{"description": "no name"}]}, "functions[0].name"),
        ({"functions": [{"name": "f", "parameters": []}]}, "functions[0].parameters"),
        ({"functions": {"name": "f"}}, "functions"),
        ({"function_call": "required"}, "function_call"),
        ({"function_call": 3}, "function_call"),
        ({"function_call": {}}, "function_call.name"),
        ({"function_call": "auto", "tool_choice": "auto"}, "function_call"),
        ({"messages": [{"role": "user", "content": "a"}, _function_message()]}, "messages[1].name"),
        ({"messages": [{"role": "user", "content": "a"}, _function_message(name=None)]}, "messages[1].name"),
        ({"messages": [{"role": "user", "content": "a"}, _legacy_call("g"), _function_message()]}, "messages[2].name"),
        (
            {"messages": [{"role": "user", "content": "a"}, _legacy_call("f"), _function_message(),
                          _function_message()]},
            "messages[3].name",
        ),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "function_call": "f"}]},
         "messages[1].function_call"),
        ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "function_call": {"arguments": "{}"}}]},
         "messages[1].function_call.name"),
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
