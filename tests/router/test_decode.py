"""Request validation (router/anthropic/decode.py) and the HTTP surface around it, through the ASGI app.

Every invalid request is a 400 `invalid_request_error` whose message names the offending field by
its dotted path, and never reaches a provider. Valid requests arrive at the provider as the
canonical `Request` the JSON describes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from router.anthropic.decode import BILLING_HEADER, decode_request
from router.anthropic.signatures import encode_signature
from router.conversation import (
    CacheControl,
    DocumentBlock,
    ImageBlock,
    Message,
    Request,
    ServerTool,
    Signature,
    TextBlock,
    Thinking,
    ThinkingBlock,
    Tool,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
)
from tests.conftest import Harness, body, claude_code_requests

DROP = object()
"""An override value meaning "remove this top-level field"."""

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BAAQAF/gH+2W4cWQAAAABJRU5ErkJggg=="
MINE = Signature("scripted", "big-model", "sig-opaque")  # what the opus route (scripted/big-model) minted
MINE_WIRE = encode_signature(MINE)


def raw(**overrides: Any) -> bytes:
    """A minimal valid request body with some top-level fields replaced (or dropped with DROP)."""
    data: dict[str, Any] = body()
    for key, value in overrides.items():
        if value is DROP:
            data.pop(key, None)
        else:
            data[key] = value
    return orjson.dumps(data)


def user(*content: Any) -> dict[str, Any]:
    return {"role": "user", "content": list(content)}


def image(source: dict[str, Any]) -> dict[str, Any]:
    return {"type": "image", "source": source}


def expect_invalid(response: httpx.Response, message_start: str) -> str:
    """Assert an Anthropic-shaped 400 whose message starts with `message_start`; return the message."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    data = response.json()
    assert data["type"] == "error" and set(data) == {"type", "error"}
    assert data["error"]["type"] == "invalid_request_error"
    message: str = data["error"]["message"]
    assert message.startswith(message_start), message
    return message


# ------------------------------------------------------------------------------------- invalid requests

INVALID: list[tuple[str, bytes, str]] = [
    ("malformed JSON", b'{"model": "claude-opus-4-8",', "request body is not valid JSON"),
    ("invalid UTF-8", b'{"model": "\xff"}', "request body is not valid JSON"),
    ("body is a list", b"[1, 2]", "request body must be a JSON object"),
    ("body is null", b"null", "request body must be a JSON object"),
    ("body is a string", b'"hello"', "request body must be a JSON object"),
    ("empty body", b"", "request body is empty"),
    ("missing model", raw(model=DROP), "model: Field required"),
    ("empty model", raw(model=""), "model: String should not be empty"),
    ("model not a string", raw(model=4), "model: Input should be a valid string, got int"),
    ("missing messages", raw(messages=DROP), "messages: Field required"),
    ("no messages", raw(messages=[]), "messages: at least one message is required"),
    ("messages not a list", raw(messages={"role": "user"}), "messages: Input should be a valid list, got object"),
    ("message not an object", raw(messages=["hi"]), "messages.0: Input should be an object, got string"),
    ("message null", raw(messages=[None]), "messages.0: Input should be an object, got null"),
    ("bad role", raw(messages=[{"role": "robot", "content": "hi"}]), "messages.0.role: "),
    ("missing role", raw(messages=[{"content": "hi"}]), "messages.0.role: "),
    ("content not a list", raw(messages=[{"role": "user", "content": 5}]),
     "messages.0.content: Input should be a valid list, got int"),
    ("missing content", raw(messages=[{"role": "user"}]), "messages.0.content: Input should be a valid list, got null"),
    ("missing max_tokens", raw(max_tokens=DROP), "max_tokens: Field required"),
    ("max_tokens a string", raw(max_tokens="10"), "max_tokens: Input should be a valid integer, got string"),
    ("max_tokens a float", raw(max_tokens=10.5), "max_tokens: Input should be a valid integer, got float"),
    ("max_tokens a bool", raw(max_tokens=True), "max_tokens: Input should be a valid integer, got bool"),
    ("max_tokens zero", raw(max_tokens=0), "max_tokens: Input should be greater than or equal to 1"),
    ("temperature a string", raw(temperature="hot"), "temperature: Input should be a valid number, got string"),
    ("temperature out of range", raw(temperature=3), "temperature: Input should be between 0 and 2"),
    ("top_p out of range", raw(top_p=1.5), "top_p: Input should be between 0 and 1"),
    ("top_k negative", raw(top_k=-1), "top_k: Input should be greater than or equal to 0"),
    ("stream a string", raw(stream="yes"), "stream: Input should be a valid boolean, got string"),
    ("stop_sequences not a list", raw(stop_sequences="END"), "stop_sequences: Input should be a valid list"),
    ("stop_sequence not a string", raw(stop_sequences=["a", 1]), "stop_sequences.1: Input should be a valid string"),
    ("metadata not an object", raw(metadata=[1]), "metadata: Input should be an object, got list"),
    ("system a number", raw(system=5), "system: Input should be a valid list, got int"),
    ("system block not text", raw(system=[{"type": "image", "source": {}}]), "system.0.type: only text blocks"),
    ("tools not a list", raw(tools={"name": "x"}), "tools: Input should be a valid list, got object"),
    ("tool without name", raw(tools=[{"input_schema": {"type": "object"}}]), "tools.0.name: Field required"),
    ("tool without input_schema", raw(tools=[{"name": "Bash", "description": "run"}]),
     "tools.0.input_schema: Field required"),
    ("tool schema not an object", raw(tools=[{"name": "Bash", "input_schema": "object"}]),
     "tools.0.input_schema: Input should be an object, got string"),
    ("second tool broken", raw(tools=[{"name": "A", "input_schema": {}}, {"name": "B"}]),
     "tools.1.input_schema: Field required"),
    ("tool_choice not an object", raw(tool_choice="auto"), "tool_choice: Input should be an object, got string"),
    ("bad tool_choice type", raw(tool_choice={"type": "required"}), "tool_choice.type: "),
    ("tool_choice tool without name", raw(tool_choice={"type": "tool"}), "tool_choice.name: Field required"),
    ("tool_choice disable not bool", raw(tool_choice={"type": "auto", "disable_parallel_tool_use": "y"}),
     "tool_choice.disable_parallel_tool_use: Input should be a valid boolean"),
    ("thinking enabled without budget", raw(thinking={"type": "enabled"}), "thinking.budget_tokens: Field required"),
    ("thinking budget zero", raw(thinking={"type": "enabled", "budget_tokens": 0}),
     "thinking.budget_tokens: Input should be greater than or equal to 1"),
    ("unknown thinking type", raw(thinking={"type": "deep"}), "thinking.type: "),
    ("output_config.format not json_schema", raw(output_config={"format": {"type": "xml"}}),
     "output_config.format.type: Input should be 'json_schema'"),
    ("output_config.format without schema", raw(output_config={"format": {"type": "json_schema"}}),
     "output_config.format.schema: Field required"),
    ("effort not a string", raw(output_config={"effort": 3}), "output_config.effort: Input should be a valid string"),
    ("empty string content", raw(messages=[{"role": "user", "content": ""}]),
     "messages.0: all messages must have non-empty content"),
    ("empty list content", raw(messages=[{"role": "user", "content": []}]),
     "messages.0: all messages must have non-empty content"),
    ("empty assistant content before the end",
     raw(messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": ""},
                   {"role": "user", "content": "b"}]),
     "messages.1: all messages must have non-empty content"),
    ("empty final user content", raw(messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                               {"role": "user", "content": []}]),
     "messages.2: all messages must have non-empty content"),
    ("empty text block", raw(messages=[user({"type": "text", "text": "ok"}, {"type": "text", "text": ""})]),
     "messages.0.content.1.text: text content blocks must be non-empty"),
    ("text block without text", raw(messages=[user({"type": "text"})]),
     "messages.0.content.0.text: Input should be a valid string, got null"),
    ("unsupported block type", raw(messages=[user({"type": "video", "url": "x"})]),
     "messages.0.content.0.type: unsupported content block type 'video'"),
    ("block without type", raw(messages=[user({"text": "x"})]),
     "messages.0.content.0.type: unsupported content block type None"),
    ("block not an object", raw(messages=[user("just text")]),
     "messages.0.content.0: Input should be an object, got string"),
    ("image with file source", raw(messages=[user(image({"type": "file", "file_id": "f_1"}))]),
     "messages.0.content.0.source.type: image sources must be 'base64' or 'url', got 'file'"),
    ("image without source", raw(messages=[user({"type": "image"})]), "messages.0.content.0.source.type: "),
    ("image base64 without media_type", raw(messages=[user(image({"type": "base64", "data": PNG}))]),
     "messages.0.content.0.source.media_type: Field required"),
    ("document with unknown source", raw(messages=[user({"type": "document", "source": {"type": "file"}})]),
     "messages.0.content.0.source.type: document sources must be"),
    ("tool_use input not an object",
     raw(messages=[{"role": "user", "content": "a"},
                   {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "X", "input": []}]}]),
     "messages.1.content.0.input: Input should be an object, got list"),
    ("tool_result without id", raw(messages=[user({"type": "tool_result", "content": "x"})]),
     "messages.0.content.0.tool_use_id: Field required"),
    ("tool_result is_error not bool",
     raw(messages=[user({"type": "tool_result", "tool_use_id": "toolu_1", "is_error": "yes"})]),
     "messages.0.content.0.is_error: Input should be a valid boolean"),
    ("tool_result holding a tool_use",
     raw(messages=[user({"type": "tool_result", "tool_use_id": "toolu_1",
                         "content": [{"type": "tool_use", "id": "toolu_2", "name": "X", "input": {}}]})]),
     "messages.0.content.0.content.0.type: tool results may only contain"),
    ("system message with an image", raw(messages=[{"role": "system", "content": [image({"type": "url", "url": "u"})]},
                                                   {"role": "user", "content": "a"}]),
     "messages.0.content: system messages may only contain text"),
    ("redacted thinking without data",
     raw(messages=[{"role": "user", "content": "a"}, {"role": "assistant", "content": [{"type": "redacted_thinking"}]},
                   {"role": "user", "content": "b"}]),
     "messages.1.content.0.data: Input should be a valid string, got null"),
]


@pytest.mark.parametrize(("payload", "message_start"), [(p, m) for _, p, m in INVALID], ids=[i for i, _, _ in INVALID])
async def test_invalid_requests_are_400s_naming_the_field(harness: Harness, payload: bytes, message_start: str) -> None:
    response = await harness.http.post("/v1/messages", content=payload, headers={"content-type": "application/json"})
    expect_invalid(response, message_start)
    assert harness.scripted.calls == [] and harness.other.calls == []


COUNT_INVALID = [case for case in INVALID if case[0] != "missing max_tokens"]  # count_tokens may omit max_tokens


@pytest.mark.parametrize(("payload", "message_start"), [(p, m) for _, p, m in COUNT_INVALID],
                         ids=[i for i, _, _ in COUNT_INVALID])
async def test_count_tokens_validates_the_same_way(harness: Harness, payload: bytes, message_start: str) -> None:
    response = await harness.http.post("/v1/messages/count_tokens", content=payload)
    expect_invalid(response, message_start)
    assert harness.scripted.calls == []


async def test_streaming_request_that_is_invalid_is_a_plain_400_not_a_stream(harness: Harness) -> None:
    response = await harness.http.post("/v1/messages", content=raw(stream=True, max_tokens="many"))
    expect_invalid(response, "max_tokens: ")
    assert not response.headers["content-type"].startswith("text/event-stream")


async def test_count_tokens_does_not_need_max_tokens(harness: Harness) -> None:
    response = await harness.http.post("/v1/messages/count_tokens", content=raw(max_tokens=DROP))
    assert response.status_code == 200 and response.json()["input_tokens"] > 0
    invalid = await harness.http.post("/v1/messages/count_tokens", content=raw(max_tokens=0))
    expect_invalid(invalid, "max_tokens: Input should be greater than or equal to 1")


# ------------------------------------------------------------------------------------- accepted requests


async def provider_request(harness: Harness, data: dict[str, Any]) -> Request:
    """Send `data` and return the canonical request the (only) provider call received."""
    response = await harness.http.post("/v1/messages", json=data)
    assert response.status_code == 200, response.text
    (request, _), = harness.scripted.calls
    return request


HELLO = Message("user", (TextBlock("hello"),))
TOOL_SCHEMA = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}

ACCEPTED: list[tuple[str, dict[str, Any], str, Any]] = [
    ("system as a string", {"system": "Be terse."}, "system", (TextBlock("Be terse."),)),
    ("empty system string", {"system": ""}, "system", ()),
    ("system blocks with cache_control",
     {"system": [{"type": "text", "text": "billing"},
                 {"type": "text", "text": "You are Claude.", "cache_control": {"type": "ephemeral"}},
                 {"type": "text", "text": "rules", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]},
     "system",
     (TextBlock("billing"), TextBlock("You are Claude.", CacheControl()), TextBlock("rules", CacheControl("ephemeral", "1h")))),
    ("system messages stay in place",
     {"messages": [{"role": "user", "content": "q1"}, {"role": "system", "content": "reminder"},
                   {"role": "assistant", "content": "a1"}, {"role": "system", "content": [{"type": "text", "text": "r2"}]},
                   {"role": "user", "content": "q2"}]},
     "messages",
     (Message("user", (TextBlock("q1"),)), Message("system", (TextBlock("reminder"),)),
      Message("assistant", (TextBlock("a1"),)), Message("system", (TextBlock("r2"),)), Message("user", (TextBlock("q2"),)))),
    ("prefill: final assistant message may be an empty string",
     {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": ""}]},
     "messages", (Message("user", (TextBlock("q"),)), Message("assistant", ()))),
    ("prefill: final assistant message may be an empty list",
     {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": []}]},
     "messages", (Message("user", (TextBlock("q"),)), Message("assistant", ()))),
    ("prefill with text", {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "{"}]},
     "messages", (Message("user", (TextBlock("q"),)), Message("assistant", (TextBlock("{"),)))),
    ("text block with cache_control",
     {"messages": [user({"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}})]},
     "messages", (Message("user", (TextBlock("hi", CacheControl()),)),)),
    ("image base64 and url",
     {"messages": [user(image({"type": "base64", "media_type": "image/png", "data": PNG}),
                        {**image({"type": "url", "url": "https://example.com/cat.jpg"}), "cache_control": {"type": "ephemeral"}},
                        {"type": "text", "text": "what is this?"})]},
     "messages",
     (Message("user", (ImageBlock(media_type="image/png", data=PNG),
                       ImageBlock(url="https://example.com/cat.jpg", cache_control=CacheControl()),
                       TextBlock("what is this?"))),)),
    ("documents base64, text and url",
     {"messages": [user({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
                         "title": "Spec", "context": "the v2 spec"},
                        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain words"}},
                        {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"},
                         "cache_control": {"type": "ephemeral"}},
                        {"type": "text", "text": "summarise"})]},
     "messages",
     (Message("user", (DocumentBlock(media_type="application/pdf", data="JVBERi0=", title="Spec", context="the v2 spec"),
                       DocumentBlock(media_type="text/plain", text="plain words"),
                       DocumentBlock(url="https://example.com/a.pdf", cache_control=CacheControl()),
                       TextBlock("summarise"))),)),
    ("tool use and tool results: string, blocks with an image, is_error",
     {"messages": [{"role": "user", "content": "list files"},
                   {"role": "assistant", "content": [
                       {"type": "text", "text": "Running."},
                       {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
                       {"type": "tool_use", "id": "toolu_2", "name": "Screenshot", "input": {}},
                       {"type": "tool_use", "id": "toolu_3", "name": "Bash", "input": {"command": "false"}}]},
                   user({"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.py\nb.py"},
                        {"type": "tool_result", "tool_use_id": "toolu_2",
                         "content": [{"type": "text", "text": "screen:"},
                                     image({"type": "base64", "media_type": "image/png", "data": PNG})],
                         "cache_control": {"type": "ephemeral"}},
                        {"type": "tool_result", "tool_use_id": "toolu_3", "content": "exit 1", "is_error": True},
                        {"type": "text", "text": "continue"})]},
     "messages",
     (Message("user", (TextBlock("list files"),)),
      Message("assistant", (TextBlock("Running."), ToolUseBlock("toolu_1", "Bash", {"command": "ls"}),
                            ToolUseBlock("toolu_2", "Screenshot", {}), ToolUseBlock("toolu_3", "Bash", {"command": "false"}))),
      Message("user", (ToolResultBlock("toolu_1", (TextBlock("a.py\nb.py"),)),
                       ToolResultBlock("toolu_2", (TextBlock("screen:"), ImageBlock(media_type="image/png", data=PNG)),
                                       cache_control=CacheControl()),
                       ToolResultBlock("toolu_3", (TextBlock("exit 1"),), is_error=True),
                       TextBlock("continue"))))),
    ("tool_result without content",
     {"messages": [user({"type": "tool_result", "tool_use_id": "toolu_9"})]},
     "messages", (Message("user", (ToolResultBlock("toolu_9"),)),)),
    ("thinking and redacted_thinking keep their signatures",
     {"messages": [{"role": "user", "content": "q1"},
                   {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": MINE_WIRE},
                                                     {"type": "redacted_thinking", "data": MINE_WIRE},
                                                     {"type": "thinking", "thinking": "unsigned", "signature": ""},
                                                     {"type": "text", "text": "a1"}]},
                   {"role": "user", "content": "q2"}]},
     "messages",
     (Message("user", (TextBlock("q1"),)),
      Message("assistant", (ThinkingBlock("hmm", MINE), ThinkingBlock("", MINE, redacted=True), ThinkingBlock("unsigned"),
                            TextBlock("a1"))),
      Message("user", (TextBlock("q2"),)))),
    ("client tools",
     {"tools": [{"name": "Bash", "description": "Run a command", "input_schema": TOOL_SCHEMA,
                 "cache_control": {"type": "ephemeral"}},
                {"type": "custom", "name": "Noop", "input_schema": {"type": "object"}}]},
     "tools",
     (Tool("Bash", "Run a command", TOOL_SCHEMA, CacheControl()), Tool("Noop", "", {"type": "object"}))),
    ("server tools keep their settings",
     {"tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5,
                 "allowed_domains": ["example.com"]},
                {"type": "web_fetch_20250910", "name": "web_fetch"}]},
     "tools",
     (ServerTool("web_search_20250305", "web_search", {"max_uses": 5, "allowed_domains": ["example.com"]}),
      ServerTool("web_fetch_20250910", "web_fetch", {}))),
    ("tool_choice auto", {"tool_choice": {"type": "auto"}}, "tool_choice", ToolChoice("auto")),
    ("tool_choice any without parallel calls", {"tool_choice": {"type": "any", "disable_parallel_tool_use": True}},
     "tool_choice", ToolChoice("any", None, True)),
    ("tool_choice tool", {"tool_choice": {"type": "tool", "name": "Bash", "disable_parallel_tool_use": False}},
     "tool_choice", ToolChoice("tool", "Bash", False)),
    ("tool_choice none", {"tool_choice": {"type": "none"}}, "tool_choice", ToolChoice("none")),
    ("no tool_choice", {}, "tool_choice", None),
    ("thinking enabled", {"thinking": {"type": "enabled", "budget_tokens": 2048}}, "thinking", Thinking("enabled", 2048)),
    ("thinking adaptive", {"thinking": {"type": "adaptive"}}, "thinking", Thinking("adaptive")),
    ("thinking disabled", {"thinking": {"type": "disabled"}}, "thinking", Thinking("disabled")),
    ("effort", {"output_config": {"effort": "low"}}, "effort", "low"),
    ("output format",
     {"output_config": {"effort": "medium", "format": {"type": "json_schema", "schema": {"type": "object"}}}},
     "output_schema", {"type": "object"}),
    ("stop_sequences", {"stop_sequences": ["\n\nHuman:", "END"]}, "stop_sequences", ("\n\nHuman:", "END")),
    ("temperature", {"temperature": 0.25}, "temperature", 0.25),
    ("integer temperature", {"temperature": 1}, "temperature", 1.0),
    ("top_p", {"top_p": 0.9}, "top_p", 0.9),
    ("top_k", {"top_k": 40}, "top_k", 40),
    ("metadata", {"metadata": {"user_id": "u-1"}}, "metadata", {"user_id": "u-1"}),
    ("max_tokens", {"max_tokens": 64000}, "max_tokens", 64000),
    ("stream false", {"stream": False}, "stream", False),
    ("unknown top-level fields are ignored",
     {"container": "c-1", "service_tier": "auto", "mcp_servers": [], "some_future_field": {"x": 1}},
     "messages", (HELLO,)),
]


@pytest.mark.parametrize(("overrides", "field", "expected"), [(o, f, e) for _, o, f, e in ACCEPTED],
                         ids=[i for i, _, _, _ in ACCEPTED])
async def test_accepted_requests_reach_the_provider_as_decoded(
    harness: Harness, overrides: dict[str, Any], field: str, expected: Any
) -> None:
    request = await provider_request(harness, {**body(), **overrides})
    assert getattr(request, field) == expected
    assert request.model == "claude-opus-4-8"


async def test_defaults_of_a_minimal_request(harness: Harness) -> None:
    request = await provider_request(harness, body())
    assert request == Request(model="claude-opus-4-8", messages=(HELLO,), max_tokens=256)


def thinking_turn(n: int) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "thinking", "thinking": f"thought {n}", "signature": MINE_WIRE},
                                             {"type": "text", "text": f"answer {n}"}]}


CONVERSATION = [{"role": "user", "content": "q1"}, thinking_turn(1), {"role": "user", "content": "q2"},
                thinking_turn(2), {"role": "user", "content": "q3"}]


def thinking_texts(request: Request) -> list[str]:
    return [b.thinking for m in request.messages for b in m.content if isinstance(b, ThinkingBlock)]


@pytest.mark.parametrize(
    ("context_management", "kept"),
    [
        ({"edits": [{"type": "clear_thinking_20251015", "keep": {"type": "thinking_turns", "value": 1}}]}, ["thought 2"]),
        ({"edits": [{"type": "clear_thinking_20251015", "keep": {"type": "thinking_turns", "value": 2}}]},
         ["thought 1", "thought 2"]),
        ({"edits": [{"type": "clear_thinking_20251015", "keep": {"type": "thinking_turns", "value": 0}}]}, []),
        ({"edits": [{"type": "clear_thinking_20251015"}]}, ["thought 2"]),  # Anthropic's default keeps one turn
        ({"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}, ["thought 1", "thought 2"]),
        ({"edits": [{"type": "clear_tool_uses_20250919"}]}, ["thought 1", "thought 2"]),
        (None, ["thought 1", "thought 2"]),
    ],
    ids=["keep-1-turn", "keep-2-turns", "keep-0-turns", "default-keep", "keep-all", "other-edit", "absent"],
)
async def test_context_management_clears_thinking_of_older_turns(
    harness: Harness, context_management: dict[str, Any] | None, kept: list[str]
) -> None:
    data = {**body(), "messages": CONVERSATION}
    if context_management is not None:
        data["context_management"] = context_management
    request = await provider_request(harness, data)
    assert thinking_texts(request) == kept
    # only the thinking goes: every turn and its text stays
    texts = [[b.text for b in m.content if isinstance(b, TextBlock)] for m in request.messages]
    assert texts == [["q1"], ["answer 1"], ["q2"], ["answer 2"], ["q3"]]


async def test_context_management_edits_must_be_a_list(harness: Harness) -> None:
    response = await harness.http.post("/v1/messages", content=raw(context_management={"edits": 5}))
    expect_invalid(response, "context_management.edits: ")
    assert harness.scripted.calls == []


async def test_context_management_must_be_an_object(harness: Harness) -> None:
    response = await harness.http.post("/v1/messages", content=raw(context_management="clear"))
    expect_invalid(response, "context_management: Input should be an object, got string")


# ------------------------------------------------------------------------------------- body size and auth


async def test_request_larger_than_max_body_bytes_is_a_413(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness(max_body_bytes=1000)
    small = await harness.http.post("/v1/messages", json=body(text="x" * 100))
    assert small.status_code == 200
    response = await harness.http.post("/v1/messages", json=body(text="x" * 2000))
    assert response.status_code == 413
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "request_too_large"
    assert "1000 bytes" in error["error"]["message"]
    assert len(harness.scripted.calls) == 1  # only the small request was served


async def test_chunked_body_without_content_length_is_limited_too(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness(max_body_bytes=1000)
    payload = orjson.dumps(body(text="y" * 2000))

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(payload), 256):
            yield payload[start:start + 256]

    response = await harness.http.post("/v1/messages", content=chunks())
    assert "content-length" not in response.request.headers
    assert response.status_code == 413 and response.json()["error"]["type"] == "request_too_large"
    assert harness.scripted.calls == []


AUTH_CASES: list[tuple[str, dict[str, str], int]] = [
    ("no key", {}, 401),
    ("wrong x-api-key", {"x-api-key": "s3cre"}, 401),
    ("wrong bearer", {"authorization": "Bearer nope"}, 401),
    ("x-api-key", {"x-api-key": "s3cret"}, 200),
    ("bearer token", {"authorization": "Bearer s3cret"}, 200),
]


@pytest.mark.parametrize(("headers", "status"), [(h, s) for _, h, s in AUTH_CASES], ids=[i for i, _, _ in AUTH_CASES])
async def test_auth_token_guards_the_api(
    make_harness: Callable[..., Harness], headers: dict[str, str], status: int
) -> None:
    harness = make_harness(auth_token="s3cret")
    responses = [
        await harness.http.post("/v1/messages", json=body(), headers=headers),
        await harness.http.post("/v1/messages/count_tokens", json=body(), headers=headers),
        await harness.http.get("/v1/models", headers=headers),
        await harness.http.get("/v1/models/opus", headers=headers),
    ]
    assert [r.status_code for r in responses] == [status] * 4
    if status == 401:
        for response in responses:
            error = response.json()
            assert error["type"] == "error" and error["error"]["type"] == "authentication_error"
            assert "s3cret" not in response.text
        assert harness.scripted.calls == []
    else:
        assert len(harness.scripted.calls) == 1


async def test_auth_is_checked_before_the_body_is_validated(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness(auth_token="s3cret")
    response = await harness.http.post("/v1/messages", content=b"{not json")
    assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"


async def test_probes_and_health_need_no_token(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness(auth_token="s3cret")
    assert (await harness.http.head("/")).status_code == 200
    assert (await harness.http.get("/health")).status_code == 200


# ------------------------------------------------------------------------------------- other endpoints


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/nope"), ("POST", "/v1/complete"), ("GET", "/v2/messages")])
async def test_unknown_paths_are_anthropic_shaped_404s(harness: Harness, method: str, path: str) -> None:
    response = await harness.http.request(method, path)
    assert response.status_code == 404
    assert response.json() == {"type": "error", "error": {"type": "not_found_error",
                                                          "message": f"{method} {path}: Not Found"}}


@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/messages"), ("PUT", "/v1/messages"),
                                               ("GET", "/v1/messages/count_tokens"), ("POST", "/v1/models")])
async def test_wrong_method_is_an_anthropic_shaped_405(harness: Harness, method: str, path: str) -> None:
    response = await harness.http.request(method, path)
    assert response.status_code == 405
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert error["error"]["message"] == f"{method} {path}: Method Not Allowed"
    assert harness.scripted.calls == []


async def test_405_names_the_allowed_methods(harness: Harness) -> None:
    response = await harness.http.get("/v1/messages")
    assert response.status_code == 405
    assert response.headers.get("allow") == "POST"


async def test_root_answers_head_and_get(harness: Harness) -> None:
    head = await harness.http.head("/")
    assert head.status_code == 200 and head.content == b""
    get = await harness.http.get("/")
    assert get.status_code == 200 and "running" in get.text


async def test_health_lists_providers(harness: Harness) -> None:
    response = await harness.http.get("/health")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    data = response.json()
    assert data["status"] == "ok" and isinstance(data["version"], str)
    assert data["providers"] == {
        "scripted": {"ok": True, "detail": "test provider 'primary'"},
        "other": {"ok": True, "detail": "test provider 'scripted'"},
    }



# -- what only the client means ------------------------------------------------------------

BILLING = f"{BILLING_HEADER} cc_version=2.1.197.f9b; cc_entrypoint=sdk-cli;"


@pytest.mark.parametrize("path", claude_code_requests(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_claude_codes_billing_line_never_reaches_a_provider(path: Path) -> None:
    sent = orjson.loads(path.read_bytes())["system"]
    assert any(block["text"].startswith(BILLING_HEADER) for block in sent), "the fixture carries the line"
    system = decode_request(path.read_bytes()).system
    assert all(BILLING_HEADER not in block.text for block in system)
    assert [block.text for block in system] == [b["text"] for b in sent if not b["text"].startswith(BILLING_HEADER)]


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        (BILLING, ()),
        (f"{BILLING}\nBe terse.", (TextBlock("Be terse."),)),
        ([{"type": "text", "text": f"Rules.\n{BILLING}\nMore.", "cache_control": {"type": "ephemeral"}}],
         (TextBlock("Rules.\nMore.", CacheControl()),)),
        ([{"type": "text", "text": BILLING}, {"type": "text", "text": "You are Claude."}],
         (TextBlock("You are Claude."),)),
        ("The x-anthropic-billing-header: line is quoted here, not sent.",
         (TextBlock("The x-anthropic-billing-header: line is quoted here, not sent."),)),
    ],
)
def test_the_billing_line_is_dropped_and_nothing_else(system: Any, expected: tuple[TextBlock, ...]) -> None:
    assert decode_request(raw(system=system)).system == expected
