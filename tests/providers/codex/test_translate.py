"""Codex translation, both directions, without a network.

`assert_codex_accepts` encodes the backend's published rules (protocol sheet §3): every
recorded Claude Code request must become a body that passes it. The reply direction is fed
recorded SSE streams (tests/providers/codex/streams.py) and its events are run through the
Anthropic encoder and the SSE order checker, so the canonical grammar is proven, not assumed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from providers.codex.tools import MAX_LENGTH, function_parameters, short_call_id, short_name
from providers.codex.translate import (
    InvalidEncryptedContent,
    PayloadOptions,
    ReplyState,
    build_payload,
    error_from_http,
)
from router.anthropic.decode import parse_request
from router.anthropic.encode import StreamEncoder, reply_json
from router.anthropic.signatures import decode_signature
from router.collect import Collector
from router.conversation import (
    DocumentBlock,
    ImageBlock,
    Message,
    Reply,
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
from router.errors import (
    AuthError,
    ContextTooLong,
    ModelUnavailable,
    Overloaded,
    PermissionDenied,
    ProviderError,
    RateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from router.events import (
    BlockStop,
    Event,
    MessageStop,
    SignatureDelta,
    ThinkingStart,
    ToolInputDelta,
    ToolUseStart,
)
from router.route import Route
from tests.providers.codex import streams
from tests.support.canonical import assistant, canonical_request, user
from tests.support.sse import checked

CLAUDE_CODE = Path(__file__).parents[2] / "fixtures" / "claude-code"
ROUTE = Route("codex", streams.MODEL)
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BAAQAF/gH+2W4cWQAAAABJRU5ErkJggg=="
MINE = Signature("codex", streams.MODEL, streams.ENCRYPTED)


# -- the backend's rules (protocol sheet §3.2-§3.6), as one validator ----------------------------------

ALLOWED_FIELDS = {
    "model",
    "instructions",
    "input",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning",
    "store",
    "stream",
    "include",
    "prompt_cache_key",
    "text",
    "service_tier",
}
REJECTED_FIELDS = {
    "max_output_tokens",
    "max_completion_tokens",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "metadata",
    "previous_response_id",
    "truncation",
    "context_management",
    "user",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "top_logprobs",
    "stream_options",
    "thinking",
}
EFFORTS = {"none", "minimal", "low", "medium", "high", "xhigh", "max", "ultra"}
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
TOP_LEVEL_REJECTED = {"oneOf", "anyOf", "allOf", "enum", "not"}
USER_PARTS = {"input_text", "input_image", "input_file"}


def assert_codex_accepts(body: Mapping[str, Any]) -> None:
    """Fail with the rule's name when `body` breaks anything the sheet says Codex refuses."""
    assert set(body) <= ALLOWED_FIELDS, f"fields Codex does not accept: {set(body) - ALLOWED_FIELDS}"
    assert not set(body) & REJECTED_FIELDS
    assert body["store"] is False, "Store must be set to false"
    assert body["stream"] is True, "Stream must be set to true"
    assert isinstance(body["instructions"], str) and body["instructions"].strip(), "Instructions are required"
    assert isinstance(body["model"], str) and "/" not in body["model"], "model must be a bare slug"
    assert body.get("service_tier", "priority") == "priority"
    reasoning = body["reasoning"]
    assert reasoning["effort"] in EFFORTS and set(reasoning) <= {"effort", "summary"}
    assert reasoning.get("summary", "auto") in {"auto", "concise", "detailed"}
    assert "reasoning.encrypted_content" in body["include"]
    functions = _assert_tools(body["tools"])
    assert ("parallel_tool_calls" in body) == bool(body["tools"]), "parallel_tool_calls only with tools"
    _assert_tool_choice(body["tool_choice"], functions, body["tools"])
    _assert_input(body["input"])
    if "text" in body:
        fmt = body["text"].get("format")
        if fmt is not None:
            assert (
                fmt["type"] == "json_schema"
                and NAME.fullmatch(fmt["name"])
                and isinstance(fmt["strict"], bool)
            )
            assert isinstance(fmt["schema"], dict)


def _assert_tools(tools: Sequence[Mapping[str, Any]]) -> set[str]:
    names = [tool["name"] for tool in tools if tool["type"] == "function"]
    assert len(names) == len(set(names)), "tool names must be unique"
    for tool in tools:
        if tool["type"] == "web_search":
            continue
        assert tool["type"] == "function" and set(tool) == {
            "type",
            "name",
            "description",
            "parameters",
            "strict",
        }
        assert NAME.fullmatch(tool["name"]), f"tool name {tool['name']!r} is not allowed"
        assert tool["strict"] is False
        params = tool["parameters"]
        assert params["type"] == "object" and isinstance(params["properties"], dict), tool["name"]
        assert not set(params) & TOP_LEVEL_REJECTED, (
            f"{tool['name']}: {set(params) & TOP_LEVEL_REJECTED} at top level"
        )
        for schema in _schemas(params):
            assert "$schema" not in schema and "propertyNames" not in schema, tool["name"]
            if isinstance(schema.get("required"), list):
                assert set(schema["required"]) <= set(schema.get("properties", {})), tool["name"]
    return set(names)


def _schemas(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield schema
    for key in ("properties", "$defs", "definitions", "patternProperties"):
        for sub in (schema.get(key) or {}).values():
            if isinstance(sub, Mapping):
                yield from _schemas(sub)
    for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "not", "prefixItems"):
        value = schema.get(key)
        for sub in value if isinstance(value, list) else [value]:
            if isinstance(sub, Mapping):
                yield from _schemas(sub)


def _assert_tool_choice(choice: Any, functions: set[str], tools: Sequence[Mapping[str, Any]]) -> None:
    if isinstance(choice, str):
        assert choice in {"auto", "none", "required"}
    elif choice["type"] == "function":
        assert choice["name"] in functions, "tool_choice names a tool that is not offered"
    else:
        assert choice == {"type": "web_search"} and any(t["type"] == "web_search" for t in tools)


def _assert_input(items: Sequence[Mapping[str, Any]]) -> None:
    calls: set[str] = set()
    for item in items:
        assert "id" not in item, "items are not stored: ids cannot be sent back"
        match item["type"]:
            case "message":
                _assert_message(item)
            case "function_call":
                assert len(item["call_id"]) <= MAX_LENGTH and NAME.fullmatch(item["name"])
                assert isinstance(json.loads(item["arguments"]), dict)
                calls.add(item["call_id"])
            case "function_call_output":
                assert item["call_id"] in calls, "function_call_output without its function_call"
                output = item["output"]
                assert isinstance(output, str) or all(
                    p["type"] in {"input_text", "input_image"} for p in output
                )
            case "reasoning":
                assert (
                    item["encrypted_content"]
                    and item["summary"] == []
                    and set(item) == {"type", "summary", "content", "encrypted_content"}
                )
            case other:
                raise AssertionError(f"unexpected input item type {other!r}")


def _assert_message(item: Mapping[str, Any]) -> None:
    assert item["role"] in {"user", "assistant", "developer"}, "System messages are not allowed"
    allowed = {"output_text"} if item["role"] == "assistant" else USER_PARTS
    assert item["content"], "empty message"
    for part in item["content"]:
        assert part["type"] in allowed, (item["role"], part["type"])
        if part["type"] == "input_image":
            assert part["image_url"].startswith(("data:image/", "https://", "http://"))
        if part["type"] == "input_file":
            assert part["file_data"].startswith("data:") and part["filename"]


# -- helpers ---------------------------------------------------------------------------------------------


def fixture_requests() -> list[Path]:
    paths = sorted(CLAUDE_CODE.glob("*/*.json")) + [CLAUDE_CODE / "main-turn.json"]
    return [p for p in paths if isinstance(data := json.loads(p.read_text()), dict) and "messages" in data]


def load(path: Path) -> Request:
    return parse_request(json.loads(path.read_text()))


def request(*messages: Message, **fields: Any) -> Request:
    return canonical_request("claude-opus-4-8", *messages, **fields)


def body_of(req: Request, route: Route = ROUTE, **options: Any) -> dict[str, Any]:
    payload = build_payload(req, route, options=PayloadOptions(**options))
    assert_codex_accepts(payload.body)
    return payload.body


def run(stream: streams.Stream, state: ReplyState | None = None) -> list[Event]:
    state = state or ReplyState(ROUTE)
    events = [event for name, data in stream for event in state.feed(name, data)]
    return events + state.finish()


def anthropic_sse(events: Sequence[Event]) -> list[tuple[str, dict[str, Any]]]:
    encoder = StreamEncoder("claude-opus-4-8")
    return checked(b"".join(encoder.encode(event) for event in events).decode())


def fold(events: Sequence[Event]) -> Reply:
    collector = Collector()
    for event in events:
        collector.add(event)
    return collector.reply()


# -- every recorded Claude Code request ------------------------------------------------------------------


@pytest.mark.parametrize("path", fixture_requests(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_claude_code_request_becomes_a_body_codex_accepts(path: Path) -> None:
    req = load(path)
    payload = build_payload(req, ROUTE, options=PayloadOptions(prompt_cache_key="session-1"))
    assert_codex_accepts(payload.body)
    offered = {t.name for t in req.tools if isinstance(t, Tool)}
    assert {payload.names.tool_name(t["name"]) for t in payload.body["tools"]} == offered
    assert "x-anthropic-billing-header" not in payload.body["instructions"]
    assert payload.body["prompt_cache_key"] == "session-1"


@pytest.mark.parametrize("path", fixture_requests(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_claude_code_system_turns_become_developer_messages_in_place(path: Path) -> None:
    req = load(path)
    items = [i for i in build_payload(req, ROUTE).body["input"] if i["type"] == "message"]
    roles = [
        m.role
        for m in req.messages
        if m.role != "assistant" and not all(isinstance(b, ToolResultBlock) for b in m.content)
    ]
    assert [i["role"] for i in items if i["role"] != "assistant"] == [
        "developer" if r == "system" else r for r in roles
    ]


def test_claude_code_tool_result_turn_replays_call_and_output() -> None:
    req = load(CLAUDE_CODE / "default" / "03-tool-result-turn-opus.json")
    items = build_payload(req, ROUTE).body["input"]
    call, output = items[-2], items[-1]
    assert call["type"] == "function_call" and call["name"] == "Bash"
    assert json.loads(call["arguments"]) == dict(req.messages[2].content[1].input)  # type: ignore[union-attr]
    assert output == {"type": "function_call_output", "call_id": call["call_id"], "output": "conformance-ok"}
    assert not any(i["type"] == "reasoning" for i in items), "an Anthropic signature must not reach Codex"


# -- top-level fields ---------------------------------------------------------------------------------------


def test_fields_codex_refuses_are_never_sent() -> None:
    body = body_of(
        request(
            max_tokens=64000,
            temperature=1.0,
            top_p=0.9,
            top_k=5,
            stop_sequences=("X",),
            metadata={"user_id": "u"},
        )
    )
    assert not set(body) & REJECTED_FIELDS


@pytest.mark.parametrize(
    ("system", "options", "instructions", "developer"),
    [
        ((), {}, "You are a helpful assistant.", None),
        (
            (TextBlock("\n"), TextBlock("Be terse.")),
            {},
            "Be terse.",
            None,
        ),
        (
            (TextBlock("Be terse."),),
            {"system_as_developer": True},
            "You are a helpful assistant.",
            "Be terse.",
        ),
        ((), {"instructions_fallback": "Answer."}, "Answer.", None),
    ],
)
def test_instructions_are_always_present(
    system: tuple[TextBlock, ...], options: dict[str, Any], instructions: str, developer: str | None
) -> None:
    body = body_of(request(system=system), **options)
    assert body["instructions"] == instructions
    first = body["input"][0]
    if developer is None:
        assert first["role"] == "user"
    else:
        assert first == {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": developer}],
        }


@pytest.mark.parametrize(
    ("options", "session", "expected", "notes"),
    [
        ({}, None, {}, 0),
        ({}, "sess-9", {"prompt_cache_key": "sess-9"}, 0),
        ({"prompt_cache_key": "k"}, "sess-9", {"prompt_cache_key": "k"}, 0),
        ({"service_tier": "priority"}, None, {"service_tier": "priority"}, 0),
        ({"service_tier": "fast"}, None, {"service_tier": "priority"}, 0),
        ({"service_tier": "flex"}, None, {}, 1),
        ({"verbosity": "high"}, None, {"text": {"verbosity": "high"}}, 0),
    ],
)
def test_optional_fields(
    options: dict[str, Any], session: str | None, expected: dict[str, Any], notes: int
) -> None:
    payload = build_payload(request(session_id=session), ROUTE, options=PayloadOptions(**options))
    assert_codex_accepts(payload.body)
    optional = {k: v for k, v in payload.body.items() if k in {"prompt_cache_key", "service_tier", "text"}}
    assert optional == expected
    assert len(payload.notes) == notes


@pytest.mark.parametrize(
    ("schema", "strict"),
    [
        (
            {
                "type": "object",
                "properties": {"title": {"type": "string"}},
                "required": ["title"],
                "additionalProperties": False,
            },
            True,
        ),
        ({"type": "object", "properties": {"title": {"type": "string"}}}, False),
        (
            {
                "$schema": "x",
                "type": "object",
                "properties": {
                    "a": {"type": "object", "properties": {}, "additionalProperties": False, "required": []}
                },
                "required": ["a"],
                "additionalProperties": False,
            },
            True,
        ),
    ],
)
def test_output_schema_becomes_text_format(schema: dict[str, Any], strict: bool) -> None:
    fmt = body_of(request(output_schema=schema))["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["strict"] is strict
    assert (
        "$schema" not in fmt["schema"] and fmt["schema"]["properties"].keys() == schema["properties"].keys()
    )


# -- reasoning effort ------------------------------------------------------------------------------------------

GPT55 = ("low", "medium", "high", "xhigh")
GPT51 = ("none", "low", "medium", "high")
GPT56 = ("low", "medium", "high", "xhigh", "max", "ultra")


@pytest.mark.parametrize(
    ("route_effort", "effort", "thinking", "supported", "expected"),
    [
        ("low", "high", None, GPT55, "low"),  # the route decides first
        (None, "high", Thinking("adaptive"), GPT55, "high"),  # then output_config.effort
        (None, "max", None, GPT55, "xhigh"),  # clamped down to the model's best
        (None, "max", None, GPT56, "max"),
        (None, None, Thinking("adaptive"), GPT55, "medium"),  # the model's default
        (None, None, None, GPT55, "medium"),
        (None, None, Thinking("disabled"), GPT55, "low"),  # lowest the model has
        (None, None, Thinking("disabled"), GPT51, "none"),
        (None, None, Thinking("enabled", 1024), GPT55, "low"),
        (None, None, Thinking("enabled", 10000), GPT55, "medium"),
        (None, None, Thinking("enabled", 31999), GPT55, "high"),  # Claude Code's usual budget
        (None, None, Thinking("enabled", 64000), GPT55, "xhigh"),
        (None, None, Thinking("enabled", 64000), GPT51, "high"),
        (None, "minimal", None, GPT55, "low"),  # below the model's list: its lowest
        (None, "whatever", None, GPT55, "medium"),  # unknown words mean the default
        (None, None, None, None, "medium"),
        (None, "max", None, None, "xhigh"),  # unknown model: the safe list
    ],
)
def test_reasoning_effort(
    route_effort: str | None,
    effort: str | None,
    thinking: Thinking | None,
    supported: tuple[str, ...] | None,
    expected: str,
) -> None:
    route = Route("codex", "gpt-5.5", effort=route_effort)
    body = body_of(request(effort=effort, thinking=thinking), route, supported_efforts=supported)
    assert body["reasoning"]["effort"] == expected


@pytest.mark.parametrize(
    ("thinking", "summary"),
    [
        (Thinking("adaptive"), "auto"),
        (Thinking("enabled", 2000), "auto"),
        (Thinking("disabled"), None),
        (None, None),
    ],
)
def test_reasoning_summary_only_when_the_client_shows_thinking(
    thinking: Thinking | None, summary: str | None
) -> None:
    payload = build_payload(request(thinking=thinking), ROUTE)
    assert payload.body["reasoning"].get("summary") == summary
    assert payload.shows_thinking is (summary is not None)


# -- content and items ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "parts"),
    [
        (
            ImageBlock(media_type="image/png", data=PNG),
            [{"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}],
        ),
        (
            ImageBlock(url="https://example.com/a.png"),
            [{"type": "input_image", "image_url": "https://example.com/a.png"}],
        ),
        (
            DocumentBlock(media_type="text/plain", text="notes", title="N.txt"),
            [{"type": "input_text", "text": "N.txt\n\nnotes"}],
        ),
        (DocumentBlock(media_type="text/plain", data="aGVsbG8="), [{"type": "input_text", "text": "hello"}]),
        (
            DocumentBlock(media_type="application/pdf", data="JVBERi0x"),
            [
                {
                    "type": "input_file",
                    "filename": "document.pdf",
                    "file_data": "data:application/pdf;base64,JVBERi0x",
                }
            ],
        ),
        (
            DocumentBlock(url="https://example.com/r.pdf"),
            [{"type": "input_text", "text": "[document at https://example.com/r.pdf]"}],
        ),
    ],
)
def test_user_content_parts(block: Any, parts: list[dict[str, Any]]) -> None:
    body = body_of(request(user(block, "look")))
    assert body["input"] == [
        {"type": "message", "role": "user", "content": [*parts, {"type": "input_text", "text": "look"}]}
    ]


def test_assistant_turn_keeps_its_order_and_merges_adjacent_text() -> None:
    turn = assistant("First.", "Second.", ToolUseBlock("toolu_1", "Read", {"file_path": "/a"}), "After.")
    body = body_of(request(user("go"), turn, user(ToolResultBlock("toolu_1", (TextBlock("A"),)))))
    kinds = [(i["type"], i.get("role")) for i in body["input"]]
    assert kinds == [
        ("message", "user"),
        ("message", "assistant"),
        ("function_call", None),
        ("message", "assistant"),
        ("function_call_output", None),
    ]
    assert body["input"][1]["content"] == [{"type": "output_text", "text": "First.\n\nSecond."}]
    assert body["input"][2] == {
        "type": "function_call",
        "call_id": "toolu_1",
        "name": "Read",
        "arguments": '{"file_path":"/a"}',
    }


def call_then(result: ToolResultBlock, **options: Any) -> list[dict[str, Any]]:
    call = assistant(ToolUseBlock(result.tool_use_id, "Shot", {}))
    items: list[dict[str, Any]] = body_of(request(user("go"), call, user(result, "and?")), **options)["input"]
    return items[2:]


def test_tool_result_text_and_error() -> None:
    items = call_then(ToolResultBlock("toolu_1", (TextBlock("exit 1"),), is_error=True))
    assert items[0] == {"type": "function_call_output", "call_id": "toolu_1", "output": "Tool error: exit 1"}
    assert items[1]["content"] == [{"type": "input_text", "text": "and?"}]


def test_tool_result_images_ride_in_the_output_array() -> None:
    image = ImageBlock(media_type="image/png", data=PNG)
    items = call_then(ToolResultBlock("toolu_1", (TextBlock("screenshot:"), image)))
    assert items[0]["output"] == [
        {"type": "input_text", "text": "screenshot:"},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"},
    ]


def test_tool_result_images_can_move_to_a_following_user_message() -> None:
    image = ImageBlock(media_type="image/png", data=PNG)
    items = call_then(
        ToolResultBlock("toolu_1", (TextBlock("screenshot:"), image)), images_in_tool_output=False
    )
    assert items[0]["output"] == "screenshot:\n[attachments follow in the next user message]"
    assert items[1]["role"] == "user"
    assert [p["type"] for p in items[1]["content"]] == ["input_text", "input_image", "input_text"]


def test_tool_result_pdf_travels_as_an_input_file_after_the_outputs() -> None:
    pdf = DocumentBlock(media_type="application/pdf", data="JVBERi0x", title="r.pdf")
    items = call_then(ToolResultBlock("toolu_1", (pdf,)))
    assert items[0]["output"] == "[attachments follow in the next user message]"
    assert {
        "type": "input_file",
        "filename": "r.pdf",
        "file_data": "data:application/pdf;base64,JVBERi0x",
    } in items[1]["content"]


def test_orphaned_tool_result_becomes_text() -> None:
    body = body_of(request(user(ToolResultBlock("toolu_gone", (TextBlock("42"),)), "continue")))
    assert body["input"] == [
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Result of tool call toolu_gone:"},
                {"type": "input_text", "text": "42"},
                {"type": "input_text", "text": "continue"},
            ],
        }
    ]


def test_server_tool_traffic_in_history_becomes_assistant_text() -> None:
    turn = assistant(
        ToolUseBlock("srvtoolu_1", "web_search", {"query": "x"}, server=True),
        ToolResultBlock("srvtoolu_1", (TextBlock('[{"url": "u"}]'),)),
        "Found.",
    )
    body = body_of(request(user("search"), turn))
    text = body["input"][1]["content"][0]["text"]
    assert '[web_search {"query":"x"}]' in text and '[{"url": "u"}]' in text and text.endswith("Found.")


# -- thinking and its signature ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "options", "replayed"),
    [
        (ThinkingBlock("plan", MINE), {}, True),
        (ThinkingBlock("", MINE, redacted=True), {}, True),
        (ThinkingBlock("plan", MINE), {"replay_reasoning": False}, False),
        (ThinkingBlock("plan", Signature("codex", "gpt-5.4", "gAAAA-other")), {}, False),
        (ThinkingBlock("plan", Signature("kiro", streams.MODEL, "gAAAA-other")), {}, False),
        (ThinkingBlock("plan from another model"), {}, False),
        (ThinkingBlock("plan", Signature("codex", streams.MODEL, streams.ENCRYPTED, router=True)), {}, False),
    ],
)
def test_thinking_blocks(block: ThinkingBlock, options: dict[str, Any], replayed: bool) -> None:
    turn = assistant(block, ToolUseBlock("toolu_1", "Read", {}))
    items = body_of(
        request(user("go"), turn, user(ToolResultBlock("toolu_1", (TextBlock("x"),)))), **options
    )["input"]
    reasoning = [i for i in items if i["type"] == "reasoning"]
    if replayed:
        assert reasoning == [
            {"type": "reasoning", "summary": [], "content": None, "encrypted_content": streams.ENCRYPTED}
        ]
        assert items.index(reasoning[0]) == 1, "the reasoning item precedes the call it led to"
    else:
        assert reasoning == []
        assert all("plan" not in json.dumps(i) for i in items), "unsigned thinking is not passed on as text"


# -- tools ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (
            {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": {}},
            {"type": "object", "properties": {}},
        ),
        ({}, {"type": "object", "properties": {}}),
        (
            {
                "type": "object",
                "properties": {
                    "meta": {
                        "type": "object",
                        "propertyNames": {"type": "string"},
                        "additionalProperties": {},
                    }
                },
            },
            {
                "type": "object",
                "properties": {"meta": {"type": "object", "additionalProperties": {}, "properties": {}}},
            },
        ),
        (
            {
                "type": "object",
                "properties": {"propertyNames": {"type": "string"}, "$schema": {"type": "string"}},
            },
            {
                "type": "object",
                "properties": {"propertyNames": {"type": "string"}, "$schema": {"type": "string"}},
            },
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "ghost"]},
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
        ),
        (
            {
                "anyOf": [
                    {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                    {"type": "object", "properties": {"b": {"type": "number"}}},
                ]
            },
            {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "number"}}},
        ),
        (
            {"allOf": [{"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}]},
            {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
        ),
        (
            {"type": "object", "enum": [{}], "not": {"required": ["x"]}, "properties": {}},
            {"type": "object", "properties": {}},
        ),
        (
            {
                "type": "object",
                "properties": {"list": {"type": "array", "items": {"type": "object", "$id": "i"}}},
            },
            {
                "type": "object",
                "properties": {"list": {"type": "array", "items": {"type": "object", "properties": {}}}},
            },
        ),
    ],
)
def test_tool_schemas_are_normalised(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert function_parameters(schema) == expected
    body = body_of(request(tools=(Tool("T", "d", schema),)))
    assert body["tools"][0]["parameters"] == expected and body["tools"][0]["strict"] is False


def test_long_tool_names_are_shortened_everywhere_and_mapped_back() -> None:
    long_id = "toolu_" + "x" * 80
    tools = (
        Tool(streams.LONG_TOOL, "search", {"type": "object", "properties": {"query": {"type": "string"}}}),
    )
    history = (
        user("go"),
        assistant(ToolUseBlock(long_id, streams.LONG_TOOL, {"query": "a"})),
        user(ToolResultBlock(long_id, (TextBlock("r"),))),
    )
    payload = build_payload(
        request(*history, tools=tools, tool_choice=ToolChoice("tool", streams.LONG_TOOL)), ROUTE
    )
    assert_codex_accepts(payload.body)
    short = short_name(streams.LONG_TOOL)
    assert len(short) <= MAX_LENGTH and short.startswith("mcp__search_documents_by_semantic_query")
    assert short == short_name(streams.LONG_TOOL), "deterministic"
    call, output = payload.body["input"][1], payload.body["input"][2]
    assert payload.body["tools"][0]["name"] == call["name"] == payload.body["tool_choice"]["name"] == short
    assert (
        call["call_id"] == output["call_id"] == short_call_id(long_id) and len(call["call_id"]) <= MAX_LENGTH
    )
    assert payload.names.tool_name(short) == streams.LONG_TOOL
    assert payload.names.call_id(call["call_id"]) == long_id
    assert payload.names.tool_name("Read") == "Read"


def test_names_with_characters_codex_refuses_are_replaced() -> None:
    short = short_name("my.tool name")
    assert NAME.fullmatch(short) and short.startswith("my_tool_name_")


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        (None, "auto", True),
        (ToolChoice("auto"), "auto", True),
        (ToolChoice("any"), "required", True),
        (ToolChoice("none"), "none", True),
        (ToolChoice("tool", "Read"), {"type": "function", "name": "Read"}, True),
        (ToolChoice("tool", "web_search"), {"type": "web_search"}, True),
        (ToolChoice("auto", disable_parallel_tool_use=True), "auto", False),
    ],
)
def test_tool_choice(choice: ToolChoice | None, expected: Any, parallel: bool) -> None:
    tools = (
        Tool("Read", "read", {"type": "object", "properties": {}}),
        ServerTool("web_search_20250305", "web_search"),
    )
    body = body_of(request(tools=tools, tool_choice=choice))
    assert body["tool_choice"] == expected
    assert body["parallel_tool_calls"] is parallel


def test_without_tools_there_is_no_parallel_flag_and_choice_is_auto() -> None:
    body = body_of(request(tool_choice=ToolChoice("any")))
    assert body["tools"] == [] and body["tool_choice"] == "auto" and "parallel_tool_calls" not in body


def test_server_tools_map_to_web_search_or_are_dropped_with_a_reason() -> None:
    tools = (
        ServerTool(
            "web_search_20250305",
            "web_search",
            {
                "allowed_domains": ["docs.python.org"],
                "max_uses": 3,
                "user_location": {"type": "approximate", "city": "Oslo"},
            },
        ),
        ServerTool("code_execution_20250522", "code_execution"),
    )
    payload = build_payload(request(tools=tools), ROUTE)
    assert_codex_accepts(payload.body)
    assert payload.body["tools"] == [
        {
            "type": "web_search",
            "filters": {"allowed_domains": ["docs.python.org"]},
            "user_location": {"type": "approximate", "city": "Oslo"},
        }
    ]
    assert any("code_execution" in note for note in payload.notes)
    assert any("max_uses" in note for note in payload.notes)


# -- replies: recorded streams -----------------------------------------------------------------------------------


def test_plain_text() -> None:
    events = run(streams.PLAIN_TEXT)
    sse = anthropic_sse(events)
    reply = fold(events)
    assert reply.content == (TextBlock("Hello, world!"),)
    assert reply.stop_reason == "end_turn"
    assert reply.usage.input_tokens == 42 and reply.usage.output_tokens == 5
    assert [name for name, _ in sse].count("content_block_start") == 1


def test_reasoning_and_text_with_cached_usage() -> None:
    events = run(streams.REASONING_THEN_TEXT)
    anthropic_sse(events)
    reply = fold(events)
    thinking, text = reply.content
    assert thinking == ThinkingBlock("**Planning**\n\nRead the file first.\n\n**Checking** the output.", MINE)
    assert text == TextBlock("conformance-ok")
    assert (reply.usage.input_tokens, reply.usage.cache_read_input_tokens, reply.usage.output_tokens) == (
        176,
        1024,
        80,
    )


def test_reasoning_without_summary_is_a_redacted_block_carrying_the_signature() -> None:
    events = run(streams.REASONING_WITHOUT_SUMMARY)
    assert events[1:4] == [
        ThinkingStart(redacted=True),
        SignatureDelta(Signature("codex", streams.MODEL, streams.ENCRYPTED_2)),
        BlockStop(),
    ]
    sse = anthropic_sse(events)
    assert sse[1][1]["content_block"]["type"] == "redacted_thinking"
    assert fold(events).content[0] == ThinkingBlock(
        "", Signature("codex", streams.MODEL, streams.ENCRYPTED_2), True
    )


def test_reasoning_is_left_out_when_the_client_did_not_ask_for_thinking() -> None:
    events = run(streams.REASONING_THEN_TEXT, ReplyState(ROUTE, show_reasoning=False))
    anthropic_sse(events)
    assert fold(events).content == (TextBlock("conformance-ok"),)


@pytest.mark.parametrize("stream", [streams.REASONING_THEN_TEXT, streams.REASONING_WITHOUT_SUMMARY])
def test_signature_round_trips_through_the_client_into_the_next_request(stream: streams.Stream) -> None:
    reply = fold(run(stream))
    expected = next(b.signature for b in reply.content if isinstance(b, ThinkingBlock))
    assert expected is not None
    content = json.loads(reply_json(reply, "claude-opus-4-8"))["content"]
    later = parse_request(
        {
            "model": "claude-opus-4-8",
            "max_tokens": 100,
            "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": content},
                {"role": "user", "content": "and then?"},
            ],
        }
    )
    items = body_of(later)["input"]
    assert items[1] == {
        "type": "reasoning",
        "summary": [],
        "content": None,
        "encrypted_content": expected.value,
    }
    assert [i["type"] for i in items] == ["message", "reasoning", "message", "message"]


def test_reasoning_without_encrypted_content_reaches_the_client_signed_and_is_not_replayed() -> None:
    stream = streams.numbered([*streams.opening(), *streams.reasoning(0, [["Thought."]], encrypted=""),
                               *streams.message(1, "done"), streams.completed()])
    events = run(stream)
    assert not any(isinstance(event, SignatureDelta) for event in events)  # canonically: unsigned
    encoder = StreamEncoder("claude-opus-4-8", route=ROUTE)
    sse = checked(b"".join(encoder.encode(event) for event in events).decode())
    assert "signature_delta" in [d["delta"]["type"] for n, d in sse if n == "content_block_delta"]
    content = json.loads(reply_json(fold(events), "claude-opus-4-8", route=ROUTE))["content"]
    signature = decode_signature(content[0]["signature"])
    assert signature.router and (signature.provider, signature.model) == ("codex", streams.MODEL)
    later = parse_request({"model": "claude-opus-4-8", "max_tokens": 100, "messages": [
        {"role": "user", "content": "go"}, {"role": "assistant", "content": content},
        {"role": "user", "content": "and then?"}]})
    items = body_of(later)["input"]
    assert [i["type"] for i in items] == ["message", "message", "message"]  # no reasoning item, no stand-in
    assert signature.value not in json.dumps(items)


def test_parallel_calls_never_interleave_and_keep_their_own_arguments() -> None:
    events = run(streams.PARALLEL_CALLS)
    anthropic_sse(events)
    reply = fold(events)
    assert reply.content == (
        TextBlock("Reading both. Then compare."),
        ToolUseBlock("call_read", "Read", {"file_path": "/tmp/a.txt"}),
        ToolUseBlock("call_bash", "Bash", {"command": "echo hi"}),
    )
    assert reply.stop_reason == "tool_use"
    assert_blocks_do_not_interleave(events)


def assert_blocks_do_not_interleave(events: Sequence[Event]) -> None:
    open_block: Event | None = None
    for event in events:
        if isinstance(event, (ThinkingStart, ToolUseStart)) or type(event).__name__ == "TextStart":
            assert open_block is None, f"{event} opened inside {open_block}"
            open_block = event
        elif isinstance(event, BlockStop):
            assert open_block is not None
            open_block = None


def test_items_given_only_whole_are_not_lost() -> None:
    events = run(streams.WHOLE_ITEMS_ONLY)
    anthropic_sse(events)
    reply = fold(events)
    assert reply.content == (
        TextBlock("Let me look."),
        ToolUseBlock("call_1", "Read", {"file_path": "/etc/hosts"}),
    )
    assert ToolInputDelta('{"file_path":"/etc/hosts"}') in events


def test_items_only_in_completed_output_are_replayed() -> None:
    events = run(streams.OUTPUT_ONLY_IN_COMPLETED)
    anthropic_sse(events)
    assert fold(events).content == (ThinkingBlock("Thought.", MINE), TextBlock("Answer."))


def test_long_tool_name_is_mapped_back_to_the_clients_name() -> None:
    tools = (
        Tool(streams.LONG_TOOL, "search", {"type": "object", "properties": {"query": {"type": "string"}}}),
    )
    payload = build_payload(request(tools=tools), ROUTE)
    upstream = payload.body["tools"][0]["name"]
    assert upstream != streams.LONG_TOOL
    events = run(streams.single_call(upstream), ReplyState(ROUTE, payload.names))
    assert ToolUseStart("call_1", streams.LONG_TOOL) in events
    assert fold(events).content == (ToolUseBlock("call_1", streams.LONG_TOOL, {"query": "x"}),)


@pytest.mark.parametrize(
    ("stream", "stop_reason", "content"),
    [
        (streams.MAX_OUTPUT, "max_tokens", (TextBlock("A very long answer"),)),
        (streams.REFUSAL, "refusal", (TextBlock("I can't help with that."),)),
        (streams.WEB_SEARCH_THEN_TEXT, "end_turn", (TextBlock("Found it."),)),
    ],
)
def test_stop_reasons(stream: streams.Stream, stop_reason: str, content: tuple[Any, ...]) -> None:
    events = run(stream)
    anthropic_sse(events)
    reply = fold(events)
    assert reply.stop_reason == stop_reason and reply.content == content


def test_stream_ending_without_completed_is_an_upstream_failure_not_a_truncation() -> None:
    state = ReplyState(ROUTE)
    for name, data in streams.CUT_OFF:
        state.feed(name, data)
    with pytest.raises(UpstreamUnavailable, match=r"before response\.completed") as caught:
        state.finish()
    assert caught.value.retryable


def test_events_after_completion_are_ignored() -> None:
    state = ReplyState(ROUTE)
    events = [e for name, data in streams.PLAIN_TEXT for e in state.feed(name, data)]
    assert isinstance(events[-1], MessageStop)
    assert state.feed(*streams.PLAIN_TEXT[3]) == [] and state.finish() == []


def failure_of(stream: streams.Stream, state: ReplyState | None = None) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        run(stream, state)
    return caught.value


def test_context_overflow_in_the_stream() -> None:
    error = failure_of(streams.CONTEXT_OVERFLOW, ReplyState(ROUTE, context_window=272_000))
    assert isinstance(error, ContextTooLong) and not error.fallback
    assert (
        error.message.startswith("prompt is too long")
        and "gpt-5.5" in error.message
        and "272,000" in error.message
    )


def test_usage_limit_in_the_stream() -> None:
    error = failure_of(streams.USAGE_LIMIT)
    assert isinstance(error, RateLimited) and error.retry_after == 13872
    assert "plus plan" in error.message and "3 h 51 min" in error.message


def test_rate_limit_in_the_stream_reads_the_wait_from_the_message() -> None:
    failed = {"response": {"status": "failed", "error": {"code": "rate_limit_exceeded",
              "message": "Rate limit reached for gpt-5.5. Please try again in 250ms."}}}  # fmt: skip
    error = failure_of(streams.numbered([*streams.opening(), ("response.failed", failed)]))
    assert isinstance(error, RateLimited) and error.retry_after == 0.25 and "rate limit" in error.message


def test_unknown_failure_in_the_stream_is_worth_a_retry() -> None:
    failed = {"response": {"status": "failed", "error": {"code": "internal", "message": "oops"}}}
    error = failure_of(streams.numbered([*streams.opening(), ("response.failed", failed)]))
    assert isinstance(error, UpstreamUnavailable) and error.retryable and "oops" in error.message


def test_overload_in_the_stream() -> None:
    error = failure_of(streams.OVERLOADED)
    assert isinstance(error, Overloaded) and error.retryable


def test_unverifiable_reasoning_in_the_stream_is_its_own_error() -> None:
    error = failure_of(streams.BAD_REASONING_REPLAY)
    assert isinstance(error, InvalidEncryptedContent) and isinstance(error, UpstreamRejected)
    assert "gAAAABoQ1xYz0123" not in error.message


# -- HTTP failures ------------------------------------------------------------------------------------------------

NOW = 1_777_922_696.0  # 13872 s before the usage limit below resets


def usage_limit(**fields: Any) -> bytes:
    error = {
        "type": "usage_limit_reached",
        "message": "The usage limit has been reached",
        "plan_type": "plus",
    }
    return json.dumps({"error": {**error, "eligible_promo": None, **fields}}).encode()


def openai_error(message: str, code: str | None = None, kind: str = "invalid_request_error") -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}}).encode()


def detail(message: str) -> bytes:
    return json.dumps({"detail": message}).encode()


RETIRED = "The 'gpt-5.3-codex' model is not supported when using Codex with a ChatGPT account."
NOT_ROLLED_OUT = json.dumps({"type": "error", "status": 400, "error": {
    "type": "invalid_request_error",
    "message": "The 'gpt-5.5' model is not supported when using Codex with a ChatGPT account.",
}}).encode()  # fmt: skip
TOO_LONG = "Your input exceeds the context window of this model. Please adjust your input and try again."
UNVERIFIED = "The encrypted content gAAAABoQ1xYz0123456789Rg== could not be verified."
BAD_EFFORT = (
    "Unsupported value: 'minimal' is not supported with the 'gpt-5.5' model. Supported values are: 'low'."
)
CLOUDFLARE = b"<html><title>Attention Required! | Cloudflare</title></html>"
EXACT_RESET = usage_limit(resets_in_seconds=13872, resets_at=1777936568)
CAPACITY = openai_error("Selected model is at capacity. Please try a different model.", kind="")


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "words"),
    [
        (401, detail("Unauthorized"), {}, AuthError, ["log in again"]),
        (403, CLOUDFLARE, {}, PermissionDenied, ["HTML"]),
        (404, detail(RETIRED), {}, ModelUnavailable, ["gpt-5.5", "gpt-5.3-codex"]),
        (400, NOT_ROLLED_OUT, {}, ModelUnavailable, ["gpt-5.5"]),
        (404, usage_limit(resets_in_seconds=60), {}, RateLimited, ["usage limit", "1 min"]),
        (
            400,
            openai_error(TOO_LONG, "context_length_exceeded"),
            {},
            ContextTooLong,
            ["prompt is too long", "272,000"],
        ),
        (413, b"", {}, ContextTooLong, ["prompt is too long"]),
        (
            400,
            openai_error(UNVERIFIED, "invalid_encrypted_content"),
            {},
            InvalidEncryptedContent,
            ["verified"],
        ),
        (400, detail("Unsupported parameter: temperature"), {}, UpstreamRejected, ["parameter: temperature"]),
        (400, detail("Instructions are not valid"), {}, UpstreamRejected, ["Instructions are not valid"]),
        (
            400,
            openai_error(BAD_EFFORT, "unsupported_value"),
            {},
            UpstreamRejected,
            ["'minimal' is not supported"],
        ),
        (429, EXACT_RESET, {}, RateLimited, ["plus plan", "3 h 51 min", "UTC"]),
        (429, usage_limit(resets_at=1777936568), {}, RateLimited, ["3 h 51 min"]),
        (429, openai_error("Rate limit reached", kind=""), {"Retry-After": "20"}, RateLimited, ["20 s"]),
        (429, openai_error("Upgrade", kind="usage_not_included"), {}, PermissionDenied, ["does not include"]),
        (429, CAPACITY, {}, RateLimited, ["capacity", "gpt-5.5"]),
        (500, openai_error("boom", kind="internal_error"), {}, UpstreamUnavailable, ["HTTP 500", "boom"]),
        (502, b"<html>bad gateway</html>", {}, UpstreamUnavailable, ["HTTP 502"]),
        (503, openai_error("busy", "server_is_overloaded", ""), {}, Overloaded, ["busy"]),
        (504, b"", {}, UpstreamTimeout, ["HTTP 504"]),
    ],
)
def test_error_from_http(
    status: int, body: bytes, headers: dict[str, str], kind: type[ProviderError], words: list[str]
) -> None:
    error = error_from_http(status, body, headers, model="gpt-5.5", context_window=272_000, now=NOW)
    assert type(error) is kind, error.message
    assert error.provider == "codex" and error.upstream_status == status
    for word in words:
        assert word in error.message, (word, error.message)
    assert "gAAAABoQ1xYz0123" not in error.message


def test_usage_limit_retry_after_prefers_the_body_then_the_header() -> None:
    body = error_from_http(429, usage_limit(resets_at=NOW + 100), {}, now=NOW)
    assert isinstance(body, RateLimited) and body.retry_after == 100
    header = error_from_http(429, b"{}", {"retry-after": "7"}, now=NOW)
    assert isinstance(header, RateLimited) and header.retry_after == 7
    stream_hint = error_from_http(429, b'{"error":{"message":"Please try again in 1.5s"}}', {}, now=NOW)
    assert isinstance(stream_hint, RateLimited) and stream_hint.retry_after == 1.5


def test_error_messages_never_carry_tokens() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXZhbHVl"
    error = error_from_http(400, json.dumps({"detail": f"bad header Bearer {jwt} and {jwt}"}).encode(), {})
    assert jwt not in error.message and "eyJzdWIi" not in error.message
    long = error_from_http(400, json.dumps({"detail": "x" * 5000}).encode(), {})
    assert len(long.message) < 400


def test_the_json_type_decides_over_the_sse_event_name() -> None:
    state = ReplyState(ROUTE)
    events = [e for _, data in streams.PLAIN_TEXT for e in state.feed("message", data)]
    assert fold(events).content == (TextBlock("Hello, world!"),)


# -- what a limit limits ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers", "scope", "wait"),
    [
        (429, usage_limit(resets_at=NOW + 100, resets_in_seconds=50), {}, "account", 100),  # resets_at first
        (429, usage_limit(resets_at=NOW - 100, resets_in_seconds=50), {}, "account", 50),  # a past one: skew
        (429, usage_limit(resets_in_seconds=60), {}, "account", 60),
        (404, usage_limit(resets_in_seconds=60), {}, "account", 60),  # Codex reports quota as 404 too
        (404, openai_error("You've hit your usage limit.", kind=""), {}, "account", None),
        (429, openai_error("Rate limit reached", kind=""), {"Retry-After": "20"}, "account", 20),
        (429, openai_error("Slow down", "rate_limit_exceeded", ""), {}, "account", None),
        (429, CAPACITY, {}, "model", None),
        (429, CAPACITY, {"retry-after": "30"}, "model", 30),
    ],
)
def test_rate_limits_say_what_they_limit(
    status: int, body: bytes, headers: dict[str, str], scope: str, wait: float | None
) -> None:
    error = error_from_http(status, body, headers, model="gpt-5.5", now=NOW)
    assert isinstance(error, RateLimited), error.message
    assert error.scope == scope and error.retry_after == wait and error.fallback


def test_a_model_at_capacity_in_the_stream_limits_that_model() -> None:
    failed = {"response": {"status": "failed", "error": {"code": "server_is_overloaded",
              "message": "Selected model is at capacity. Please try a different model."}}}  # fmt: skip
    error = failure_of(streams.numbered([*streams.opening(), ("response.failed", failed)]))
    assert isinstance(error, RateLimited) and error.scope == "model" and "gpt-5.5" in error.message


def test_a_usage_limit_in_the_stream_is_the_accounts() -> None:
    error = failure_of(streams.USAGE_LIMIT)
    assert isinstance(error, RateLimited) and error.scope == "account"
