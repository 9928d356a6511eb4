"""OpenRouter translation, both directions, without a network.

`assert_chat_body` encodes what chat completions accept (roles, tool-call pairing, content
part shapes) and what must never leak from Anthropic's dialect: every recorded Claude Code
request must become a body that passes it, on a Claude model (cache marks allowed) and on
any other model (none). The reply direction is fed recorded chunk streams (chunks.py) and
its events are run through the Anthropic encoder and the SSE order checker, so the
canonical grammar is proven, not assumed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from providers.openrouter.anthropic_endpoint import (
    NativeReplyState,
    native_headers,
    native_payload,
    uses_endpoint,
)
from providers.openrouter.models import Catalogue, parse_models
from providers.openrouter.tools import MAX_NAME, short_name
from providers.openrouter.translate import (
    PayloadOptions,
    ReasoningMandatory,
    ReplyState,
    build_payload,
    error_from_http,
    error_from_stream,
    merge_preferences,
    usage_from,
)
from router.anthropic.decode import parse_request
from router.anthropic.encode import StreamEncoder, reply_json
from router.anthropic.signatures import decode_signature, encode_signature
from router.collect import Collector
from router.conversation import (
    CacheControl,
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
    Usage,
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
from tests.providers.openrouter import chunks
from tests.support.canonical import assistant, canonical_request, user
from tests.support.sse import checked

CLAUDE_CODE = Path(__file__).parents[2] / "fixtures" / "claude-code"
CLAUDE = Route("openrouter", chunks.MODEL)
LLAMA = Route("openrouter", chunks.OTHER_MODEL)
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BAAQAF/gH+2W4cWQAAAABJRU5ErkJggg=="
EPHEMERAL = CacheControl()


# -- what chat completions accept, as one validator ----------------------------------------------------

ALLOWED_FIELDS = {
    "model", "messages", "stream", "stream_options", "max_tokens", "temperature", "top_p", "top_k", "stop",
    "tools", "tool_choice", "parallel_tool_calls", "reasoning", "response_format", "provider",
}
EFFORTS = {"xhigh", "high", "medium", "low", "minimal", "none"}
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
ANTHROPIC_ONLY_KEYS = {"thinking", "input_schema", "tool_use_id", "signature", "output_config", "system",
                       "stop_sequences", "metadata", "source", "is_error"}
ANTHROPIC_ONLY_TYPES = {"tool_use", "tool_result", "image", "document", "thinking", "redacted_thinking"}


def assert_chat_body(body: Mapping[str, Any], *, cache_allowed: bool) -> None:
    """Fail with the rule's name when `body` breaks what chat completions (or OpenRouter) accept."""
    assert set(body) <= ALLOWED_FIELDS, f"unknown fields: {set(body) - ALLOWED_FIELDS}"
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "/" in body["model"] and isinstance(body["max_tokens"], int)
    _assert_reasoning(body.get("reasoning"))
    names = _assert_tools(body)
    _assert_messages(body["messages"], names)
    marks = list(_values_of(body, "cache_control"))
    if cache_allowed:
        assert len(marks) <= 4, "Anthropic allows at most 4 cache breakpoints"
        assert all(mark["type"] == "ephemeral" and set(mark) <= {"type", "ttl"} for mark in marks)
    else:
        assert not marks, "cache_control leaked to a model that caches automatically"
    leaked = {key for key in ANTHROPIC_ONLY_KEYS if list(_values_of(body["messages"], key))}
    assert not leaked, f"Anthropic-only fields leaked: {leaked}"
    assert "swy1." not in json.dumps(body), "a router-tagged signature leaked upstream"


def _assert_reasoning(reasoning: Any) -> None:
    if reasoning is None:
        return
    assert set(reasoning) <= {"effort", "max_tokens", "enabled", "exclude"}
    assert not ("effort" in reasoning and "max_tokens" in reasoning), "effort or max_tokens, not both"
    assert reasoning.get("effort", "high") in EFFORTS


def _assert_tools(body: Mapping[str, Any]) -> set[str]:
    tools = body.get("tools", [])
    names = [tool["function"]["name"] for tool in tools]
    assert len(names) == len(set(names)), "tool names must be unique"
    for tool in tools:
        assert tool["type"] == "function" and set(tool) == {"type", "function"}
        assert set(tool["function"]) <= {"name", "description", "parameters"}
        assert NAME.fullmatch(tool["function"]["name"]), tool["function"]["name"]
        assert isinstance(tool["function"]["parameters"], dict)
    if not tools:
        assert "tool_choice" not in body and "parallel_tool_calls" not in body
    choice = body.get("tool_choice", "auto")
    if isinstance(choice, str):
        assert choice in {"auto", "none", "required"}
    else:
        assert choice["type"] == "function" and choice["function"]["name"] in names
    return set(names)


def _assert_messages(messages: Sequence[Mapping[str, Any]], names: set[str]) -> None:
    """Roles, shapes, and pairing: every tool message answers a call of the assistant message before it."""
    open_calls: set[str] = set()
    assert messages, "no messages"
    for message in messages:
        role = message["role"]
        assert role in {"system", "user", "assistant", "tool"}, role
        if role != "tool":
            assert not open_calls, f"tool calls left unanswered before a {role} message: {open_calls}"
        if role == "assistant":
            open_calls = _assert_assistant(message, names)
        elif role == "tool":
            assert set(message) == {"role", "tool_call_id", "content"}
            assert message["tool_call_id"] in open_calls, "tool message without its tool call"
            open_calls.discard(message["tool_call_id"])
            _assert_content(message["content"], {"text"})
        else:
            assert set(message) == {"role", "content"}
            _assert_content(message["content"], {"text"} if role == "system" else {"text", "image_url", "file"})


def _assert_assistant(message: Mapping[str, Any], names: set[str]) -> set[str]:
    assert set(message) <= {"role", "content", "tool_calls", "reasoning", "reasoning_details"}
    assert message.get("content") or message.get("tool_calls"), "empty assistant message"
    if message.get("content") is not None:
        _assert_content(message["content"], {"text"})
    if "reasoning_details" in message:
        assert isinstance(message["reasoning_details"], list) and message["reasoning_details"]
    calls = message.get("tool_calls", [])
    for call in calls:
        assert set(call) == {"id", "type", "function"} and call["type"] == "function"
        assert call["function"]["name"] in names, "a call to a tool that is not offered"
        assert isinstance(json.loads(call["function"]["arguments"]), dict)
    return {call["id"] for call in calls}


def _assert_content(content: Any, kinds: set[str]) -> None:
    if isinstance(content, str):
        assert content, "empty content"
        return
    assert isinstance(content, list) and content, "content must be a string or a non-empty list of parts"
    for part in content:
        assert part["type"] in kinds, (part["type"], kinds)
        match part["type"]:
            case "text":
                assert set(part) <= {"type", "text", "cache_control"} and isinstance(part["text"], str)
            case "image_url":
                assert set(part) == {"type", "image_url"}
                assert part["image_url"]["url"].startswith(("data:image/", "https://", "http://"))
            case "file":
                assert set(part["file"]) == {"filename", "file_data"} and part["file"]["filename"]
                assert part["file"]["file_data"].startswith(("data:", "https://", "http://"))


def _values_of(value: Any, key: str) -> Iterator[Any]:
    """Every value under `key`, at any depth, except inside `reasoning_details` (opaque, sent back as received)."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            if name == key:
                yield item
            if name != "reasoning_details":
                yield from _values_of(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _values_of(item, key)
    if isinstance(value, Mapping) and value.get("type") in ANTHROPIC_ONLY_TYPES:
        raise AssertionError(f"Anthropic block type {value['type']!r} leaked")


# -- helpers ---------------------------------------------------------------------------------------------


def fixture_requests() -> list[Path]:
    paths = sorted(CLAUDE_CODE.glob("*/*.json")) + [CLAUDE_CODE / "main-turn.json"]
    return [p for p in paths if isinstance(data := json.loads(p.read_text()), dict) and "messages" in data]


def request(*messages: Message, **fields: Any) -> Request:
    return canonical_request("claude-opus-4-8", *messages, **fields)


def body_of(req: Request, route: Route = LLAMA, **options: Any) -> dict[str, Any]:
    body = build_payload(req, route, options=PayloadOptions(**options)).body
    assert_chat_body(body, cache_allowed=route.model.startswith("anthropic/"))
    return body


def run(stream: chunks.Stream, state: ReplyState | None = None) -> list[Event]:
    state = state or ReplyState(CLAUDE)
    events = [event for data in stream for event in state.feed(data)]
    return events + state.finish()


def anthropic_sse(events: Sequence[Event]) -> list[tuple[str, dict[str, Any]]]:
    encoder = StreamEncoder("claude-opus-4-8")
    return checked(b"".join(encoder.encode(event) for event in events).decode())


def fold(events: Sequence[Event]) -> Reply:
    collector = Collector()
    for event in events:
        collector.add(event)
    return collector.reply()


BASH = Tool("Bash", "Run a command", {"type": "object", "properties": {"command": {"type": "string"}}})
READ = Tool("Read", "Read a file", {"type": "object", "properties": {"file_path": {"type": "string"}}})


# -- every recorded Claude Code request ---------------------------------------------------------------


@pytest.mark.parametrize("route", [CLAUDE, LLAMA], ids=["claude", "llama"])
@pytest.mark.parametrize("path", fixture_requests(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_claude_code_request_becomes_a_valid_chat_body(path: Path, route: Route) -> None:
    req = parse_request(json.loads(path.read_text()))
    payload = build_payload(req, route)
    assert_chat_body(payload.body, cache_allowed=route is CLAUDE)
    offered = {t.name for t in req.tools if isinstance(t, Tool)}
    assert {payload.names.tool_name(t["function"]["name"]) for t in payload.body.get("tools", [])} == offered
    assert "x-anthropic-billing-header" not in json.dumps(payload.body["messages"][0])
    assert payload.body["max_tokens"] == req.max_tokens


@pytest.mark.parametrize("path", fixture_requests(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_claude_code_cache_marks_reach_claude_models(path: Path) -> None:
    req = parse_request(json.loads(path.read_text()))
    body = build_payload(req, CLAUDE).body
    marked = sum(1 for m in req.system if m.cache_control) + sum(
        1 for m in req.messages for b in m.content if getattr(b, "cache_control", None)
    )
    assert len(list(_values_of(body, "cache_control"))) == min(marked, 4)


def test_claude_code_tool_result_turn_pairs_call_and_answer() -> None:
    req = parse_request(json.loads((CLAUDE_CODE / "default" / "03-tool-result-turn-opus.json").read_text()))
    messages = build_payload(req, LLAMA).body["messages"]
    call_message, answer = messages[-2], messages[-1]
    (call,) = call_message["tool_calls"]
    assert call["function"]["name"] == "Bash"
    assert json.loads(call["function"]["arguments"]) == dict(req.messages[2].content[1].input)  # type: ignore[union-attr]
    assert answer == {"role": "tool", "tool_call_id": call["id"], "content": "conformance-ok"}
    assert "reasoning_details" not in call_message, "an Anthropic signature must not reach OpenRouter"


# -- messages -------------------------------------------------------------------------------------------


def test_system_prompt_and_system_turns_stay_in_place() -> None:
    req = request(
        user("a"), Message("system", (TextBlock("mid-conversation note"),)), assistant("b"), user("c"),
        system=(TextBlock("\n"), TextBlock("Be terse.")),
    )
    messages = body_of(req)["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("system", "Be terse."), ("user", "a"), ("system", "mid-conversation note"), ("assistant", "b"), ("user", "c"),
    ]


@pytest.mark.parametrize(
    ("block", "parts"),
    [
        (ImageBlock(media_type="image/png", data=PNG),
         [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]),
        (ImageBlock(url="https://example.com/a.png"),
         [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]),
        (DocumentBlock(media_type="text/plain", text="notes", title="N.txt"), [{"type": "text", "text": "N.txt\n\nnotes"}]),
        (DocumentBlock(media_type="text/plain", data="aGVsbG8="), [{"type": "text", "text": "hello"}]),
        (DocumentBlock(media_type="application/pdf", data="JVBERi0x"),
         [{"type": "file", "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}}]),
        (DocumentBlock(media_type="application/pdf", data="JVBERi0x", title="r.pdf", context="Q3"),
         [{"type": "text", "text": "Q3"},
          {"type": "file", "file": {"filename": "r.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}}]),
        (DocumentBlock(url="https://example.com/r.pdf"),
         [{"type": "file", "file": {"filename": "document.pdf", "file_data": "https://example.com/r.pdf"}}]),
    ],
)
def test_user_content_parts(block: Any, parts: list[dict[str, Any]]) -> None:
    (message,) = body_of(request(user("look", block)))["messages"]
    assert message == {"role": "user", "content": [{"type": "text", "text": "look"}, *parts]}


def test_tool_calls_and_results_pair_up_and_images_move_to_a_user_message() -> None:
    image = ImageBlock(media_type="image/png", data=PNG)
    req = request(
        user("go"),
        assistant("Checking.", ToolUseBlock("toolu_1", "Bash", {"command": "ls"}),
                  ToolUseBlock("toolu_2", "Read", {"file_path": "/x.png"})),
        user(ToolResultBlock("toolu_1", (TextBlock("a\nb"),)),
             ToolResultBlock("toolu_2", (image,), is_error=False),
             TextBlock("and now?")),
        tools=(BASH, READ),
    )
    messages = body_of(req)["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {"id": "toolu_1", "type": "function", "function": {"name": "Bash", "arguments": '{"command":"ls"}'}},
            {"id": "toolu_2", "type": "function", "function": {"name": "Read", "arguments": '{"file_path":"/x.png"}'}},
        ],
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "toolu_1", "content": "a\nb"}
    assert messages[3] == {"role": "tool", "tool_call_id": "toolu_2",
                           "content": "[attachments follow in the next user message]"}
    assert messages[4]["role"] == "user" and messages[4]["content"] == [
        {"type": "text", "text": "Attachments returned by tool call toolu_2:"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "text", "text": "and now?"},
    ]


@pytest.mark.parametrize(
    ("result", "content"),
    [
        (ToolResultBlock("toolu_1", (TextBlock("boom"),), is_error=True), "Tool error: boom"),
        (ToolResultBlock("toolu_1"), "(no output)"),
        (ToolResultBlock("toolu_1", (TextBlock("a"), TextBlock("b"))), [{"type": "text", "text": "a"},
                                                                        {"type": "text", "text": "b"}]),
    ],
)
def test_tool_result_text(result: ToolResultBlock, content: Any) -> None:
    req = request(user("go"), assistant(ToolUseBlock("toolu_1", "Bash", {})), user(result), tools=(BASH,))
    assert body_of(req)["messages"][-1] == {"role": "tool", "tool_call_id": "toolu_1", "content": content}


def test_a_result_without_its_call_becomes_user_text() -> None:
    req = request(user(ToolResultBlock("toolu_gone", (TextBlock("42"),))), tools=(BASH,))
    assert body_of(req)["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "Result of tool call toolu_gone:"}, {"type": "text", "text": "42"}]}]


def test_server_tool_traffic_is_context_and_server_tools_are_dropped_with_a_note() -> None:
    req = request(
        user("search"),
        assistant(ToolUseBlock("srvtoolu_1", "web_search", {"query": "x"}, server=True), "Found it."),
        user("thanks"),
        tools=(BASH, ServerTool("web_search_20250305", "web_search")),
    )
    payload = build_payload(req, LLAMA)
    assert_chat_body(payload.body, cache_allowed=False)
    assert payload.body["messages"][1] == {"role": "assistant", "content": '[web_search {"query":"x"}]\n\nFound it.'}
    assert [t["function"]["name"] for t in payload.body["tools"]] == ["Bash"]
    assert payload.notes and "web_search" in payload.notes[0]


def test_long_tool_names_are_shortened_and_mapped_back() -> None:
    long_name = "mcp__claude_ai_Very_Long_Integration_Server_Name__search_documents_by_semantic_query_x"
    tool = Tool(long_name, "", {"type": "object"})
    req = request(user("go"), assistant(ToolUseBlock("toolu_1", long_name, {})),
                  user(ToolResultBlock("toolu_1", (TextBlock("ok"),))), tools=(tool,),
                  tool_choice=ToolChoice("tool", long_name))
    payload = build_payload(req, LLAMA)
    assert_chat_body(payload.body, cache_allowed=False)
    short = payload.body["tools"][0]["function"]["name"]
    assert short == short_name(long_name) and len(short) <= MAX_NAME and short.startswith("mcp__search")
    assert payload.body["tool_choice"] == {"type": "function", "function": {"name": short}}
    assert payload.names.tool_name(short) == long_name
    state = ReplyState(LLAMA, payload.names)
    events = run([chunks.call_start(0, "call_1", short, "{}"), chunks.chunk({}, "tool_calls")], state)
    assert ToolUseStart("call_1", long_name) in events


# -- top-level fields --------------------------------------------------------------------------------------


def test_sampling_and_limits_are_passed() -> None:
    body = body_of(request(max_tokens=64000, temperature=0.5, top_p=0.9, top_k=40, stop_sequences=("END",)))
    assert {k: body[k] for k in ("max_tokens", "temperature", "top_p", "top_k", "stop")} == {
        "max_tokens": 64000, "temperature": 0.5, "top_p": 0.9, "top_k": 40, "stop": ["END"]}


@pytest.mark.parametrize(
    ("choice", "expected", "parallel"),
    [
        (None, None, None),
        (ToolChoice("auto"), "auto", None),
        (ToolChoice("any"), "required", None),
        (ToolChoice("none"), "none", None),
        (ToolChoice("tool", "Bash"), {"type": "function", "function": {"name": "Bash"}}, None),
        (ToolChoice("tool", "web_search"), "auto", None),
        (ToolChoice("auto", disable_parallel_tool_use=True), "auto", False),
    ],
)
def test_tool_choice(choice: ToolChoice | None, expected: Any, parallel: bool | None) -> None:
    body = body_of(request(tools=(BASH,), tool_choice=choice))
    assert body.get("tool_choice") == expected
    assert body.get("parallel_tool_calls") == parallel


def test_no_tools_means_no_tool_choice() -> None:
    body = body_of(request(tool_choice=ToolChoice("any")))
    assert "tools" not in body and "tool_choice" not in body


@pytest.mark.parametrize(
    ("route_effort", "effort", "thinking", "disable", "expected"),
    [
        ("low", "high", Thinking("adaptive"), True, {"effort": "low"}),  # the route decides first
        (None, "high", Thinking("adaptive"), True, {"effort": "high"}),  # then output_config.effort
        (None, "max", None, True, {"effort": "xhigh"}),  # OpenRouter's top effort
        (None, None, Thinking("enabled", 31999), True, {"max_tokens": 31999}),
        (None, None, Thinking("adaptive"), True, {"enabled": True}),
        (None, None, Thinking("disabled"), True, {"enabled": False}),
        (None, "high", Thinking("disabled"), True, {"enabled": False}),
        (None, None, Thinking("disabled"), False, None),  # a model that always reasons
        ("none", None, None, False, None),
        (None, None, None, True, None),
    ],
)
def test_reasoning(route_effort: str | None, effort: str | None, thinking: Thinking | None, disable: bool,
                   expected: dict[str, Any] | None) -> None:
    route = Route("openrouter", chunks.OTHER_MODEL, effort=route_effort)
    body = body_of(request(effort=effort, thinking=thinking), route, disable_reasoning=disable)
    assert body.get("reasoning") == expected


def test_output_schema_becomes_response_format() -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
    body = body_of(request(output_schema=schema))
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


def test_provider_preferences_route_keys_win() -> None:
    merged = merge_preferences({"order": ["anthropic"], "allow_fallbacks": False, "data_collection": "deny"},
                               {"allow_fallbacks": True, "sort": "price"})
    assert merged == {"order": ["anthropic"], "allow_fallbacks": True, "data_collection": "deny", "sort": "price"}
    assert merge_preferences(None, None) is None
    assert body_of(request(), provider=merged)["provider"] == merged
    assert "provider" not in body_of(request())


# -- caching ----------------------------------------------------------------------------------------------


def test_cache_marks_ride_on_text_parts_for_claude_models_only() -> None:
    req = request(
        user(TextBlock("long context", EPHEMERAL)),
        assistant(ToolUseBlock("toolu_1", "Bash", {})),
        user(ToolResultBlock("toolu_1", (TextBlock("out"),), cache_control=CacheControl(ttl="1h"))),
        system=(TextBlock("sys", EPHEMERAL),), tools=(BASH,),
    )
    messages = body_of(req, CLAUDE)["messages"]
    assert messages[0]["content"] == [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}]
    assert messages[1]["content"] == [{"type": "text", "text": "long context", "cache_control": {"type": "ephemeral"}}]
    assert messages[3]["content"] == [{"type": "text", "text": "out",
                                       "cache_control": {"type": "ephemeral", "ttl": "1h"}}]
    plain = body_of(req, LLAMA)["messages"]
    assert [m["content"] for m in plain if m["role"] != "assistant"] == ["sys", "long context", "out"]


def test_only_the_last_four_breakpoints_are_kept() -> None:
    req = request(*(user(TextBlock(f"t{i}", EPHEMERAL)) if i % 2 == 0 else assistant(f"a{i}") for i in range(11)),
                  system=(TextBlock("sys", EPHEMERAL),))
    payload = build_payload(req, CLAUDE)
    assert_chat_body(payload.body, cache_allowed=True)
    marked = [part["text"] for m in payload.body["messages"] if isinstance(m["content"], list)
              for part in m["content"] if "cache_control" in part]
    assert marked == ["t4", "t6", "t8", "t10"]
    assert payload.notes == ("kept the last 4 cache breakpoints, dropped 3",)


# -- replies: text and tool calls ------------------------------------------------------------------------


def test_text_reply() -> None:
    events = run(chunks.text("Hel", "lo"))
    assert events == [MessageStart(chunks.MODEL), TextStart(), TextDelta("Hel"), TextDelta("lo"), BlockStop(),
                      MessageStop("end_turn", Usage(100, 20, cost=0.00042))]
    anthropic_sse(events)


def test_single_tool_call_in_many_fragments() -> None:
    events = run(chunks.SINGLE_CALL)
    sse = anthropic_sse(events)
    reply = fold(events)
    assert reply.stop_reason == "tool_use"
    text, call = reply.content
    assert text == TextBlock("Let me look.")
    assert call == ToolUseBlock("toolu_01A", "Bash", json.loads(chunks.BASH_ARGS))
    deltas = [e for e in events if isinstance(e, ToolInputDelta)]
    assert len(deltas) > 5, "arguments stream as they come"
    assert [name for name, _ in sse].count("content_block_start") == 2


def test_parallel_interleaved_calls_never_interleave_blocks() -> None:
    events = run(chunks.PARALLEL_INTERLEAVED)
    anthropic_sse(events)
    reply = fold(events)
    assert reply.content == (
        ToolUseBlock("call_a", "Bash", json.loads(chunks.BASH_ARGS)),
        ToolUseBlock("call_b", "Read", json.loads(chunks.READ_ARGS)),
    )
    second = events.index(ToolUseStart("call_b", "Read"))
    assert isinstance(events[second - 1], BlockStop), "the second call opens only after the first closed"


def test_a_call_whose_name_comes_late_waits_for_it() -> None:
    stream = [
        chunks.chunk({"tool_calls": [{"index": 0, "id": "call_x", "function": {"arguments": '{"a"'}}]}),
        chunks.chunk({"tool_calls": [{"index": 0, "function": {"name": "Bash", "arguments": ": 1}"}}]}),
        chunks.chunk({}, "tool_calls"),
    ]
    events = run(stream)
    assert events[1:4] == [ToolUseStart("call_x", "Bash"), ToolInputDelta('{"a": 1}'), BlockStop()]


def test_text_after_tool_calls_waits_until_they_are_done() -> None:
    stream = [chunks.call_start(0, "call_a", "Bash", "{}"), chunks.chunk({"content": "and"}),
              chunks.call_more(0, ""), chunks.chunk({}, "tool_calls")]
    events = run(stream)
    anthropic_sse(events)
    assert [type(e) for e in events] == [MessageStart, ToolUseStart, ToolInputDelta, BlockStop, TextStart, TextDelta,
                                         BlockStop, MessageStop]


# -- replies: reasoning -----------------------------------------------------------------------------------


def test_reasoning_with_details_becomes_a_signed_thinking_block() -> None:
    events = run(chunks.REASONING_WITH_SIGNATURE)
    sse = anthropic_sse(events)
    assert events[1:5] == [ThinkingStart(), *(ThinkingDelta(p) for p in chunks.REASONING_PIECES)]
    (signature,) = [e.signature for e in events if isinstance(e, SignatureDelta)]
    assert signature.minted_by("openrouter", chunks.MODEL)
    assert json.loads(signature.value) == chunks.MERGED_DETAILS
    assert signature.value == json.dumps(chunks.MERGED_DETAILS, separators=(",", ":")), "compact JSON"
    assert any(d["delta"].get("type") == "signature_delta" for n, d in sse if n == "content_block_delta")


def test_the_signature_round_trips_through_the_client_unchanged() -> None:
    """Reply -> Anthropic JSON (as the client sees it) -> next request -> reasoning_details as received."""
    reply = fold(run(chunks.REASONING_WITH_SIGNATURE))
    content = json.loads(reply_json(reply, "claude-opus-4-8"))["content"]
    next_turn = parse_request({
        "model": "claude-opus-4-8", "max_tokens": 1000,
        "tools": [{"name": "Bash", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "list /tmp"},
            {"role": "assistant", "content": content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": content[-1]["id"], "content": "a b"}]},
        ],
    })
    body = body_of(next_turn, CLAUDE)
    replayed = body["messages"][1]
    assert replayed["reasoning_details"] == chunks.MERGED_DETAILS
    assert replayed["reasoning"] == "".join(chunks.REASONING_PIECES)
    assert replayed["tool_calls"][0]["id"] == content[-1]["id"] == body["messages"][2]["tool_call_id"]
    other_model = body_of(next_turn, Route("openrouter", "anthropic/claude-sonnet-4.5"))
    assert "reasoning_details" not in other_model["messages"][1], "another model's details are not replayed"


def test_encrypted_only_reasoning_is_a_redacted_block() -> None:
    events = run(chunks.ENCRYPTED_ONLY)
    sse = anthropic_sse(events)
    signature = Signature("openrouter", chunks.MODEL, json.dumps([chunks.ENCRYPTED_DETAIL], separators=(",", ":")))
    assert events[1:4] == [ThinkingStart(redacted=True), SignatureDelta(signature), BlockStop()]
    redacted = next(d["content_block"] for n, d in sse if n == "content_block_start")
    assert redacted == {"type": "redacted_thinking", "data": encode_signature(signature)}
    body = body_of(request(user("q"), Message("assistant", fold(events).content), user("more")), CLAUDE)
    assert body["messages"][1] == {"role": "assistant", "content": "Done.", "reasoning_details": [chunks.ENCRYPTED_DETAIL]}


def test_reasoning_text_without_details_has_no_signature() -> None:
    events = run(chunks.REASONING_WITHOUT_DETAILS)
    anthropic_sse(events)
    assert events[1:4] == [ThinkingStart(), ThinkingDelta("Thinking it over."), BlockStop()]
    assert not any(isinstance(e, SignatureDelta) for e in events)


def test_reasoning_without_details_reaches_the_client_signed_and_goes_back_in_neither_dialect() -> None:
    events = run(chunks.REASONING_WITHOUT_DETAILS)
    encoder = StreamEncoder("claude-opus-4-8", route=CLAUDE)
    sse = checked(b"".join(encoder.encode(event) for event in events).decode())
    assert "signature_delta" in [d["delta"]["type"] for n, d in sse if n == "content_block_delta"]
    content = json.loads(reply_json(fold(events), "claude-opus-4-8", route=CLAUDE))["content"]
    signature = decode_signature(content[0]["signature"])
    assert signature.router and (signature.provider, signature.model) == ("openrouter", chunks.MODEL)
    later = parse_request({"model": "claude-opus-4-8", "max_tokens": 100, "messages": [
        {"role": "user", "content": "q"}, {"role": "assistant", "content": content},
        {"role": "user", "content": "more"}]})
    chat = body_of(later, CLAUDE)
    assert "reasoning_details" not in chat["messages"][1] and signature.value not in json.dumps(chat)
    native = native_payload(later, CLAUDE)
    assert native["messages"][1]["content"] == [{"type": "text", "text": "42"}]  # Claude would refuse it
    assert signature.value not in json.dumps(native)


def test_hidden_reasoning_keeps_only_its_signature() -> None:
    """Thinking not asked for: no text, but signed details still come back (redacted) for the next round."""
    events = run(chunks.REASONING_WITH_SIGNATURE, ReplyState(CLAUDE, show_thinking=False))
    anthropic_sse(events)
    assert not any(isinstance(e, ThinkingDelta) for e in events)
    assert events[1] == ThinkingStart(redacted=True)
    assert not any(isinstance(e, ThinkingStart) for e in run(chunks.REASONING_WITHOUT_DETAILS,
                                                             ReplyState(CLAUDE, show_thinking=False)))


def test_details_with_text_but_no_reasoning_field_still_show_the_text() -> None:
    stream = [chunks.chunk({"reasoning_details": [chunks.thinking_detail("Hmm.")]}),
              chunks.chunk({"reasoning_details": [chunks.thinking_detail(signature="sig")]}),
              chunks.chunk({"content": "ok"}, "stop")]
    events = run(stream)
    assert events[1:3] == [ThinkingStart(), ThinkingDelta("Hmm.")]
    (signature,) = [e.signature for e in events if isinstance(e, SignatureDelta)]
    assert json.loads(signature.value) == [{**chunks.thinking_detail("Hmm."), "signature": "sig"}]


# -- replies: usage, stop reasons, failures -----------------------------------------------------------------


def test_usage_counts_cached_and_written_tokens_apart() -> None:
    events = run(chunks.CACHED_USAGE)
    assert events[-1] == MessageStop("end_turn", Usage(input_tokens=500, output_tokens=50,
                                                       cache_read_input_tokens=8_000, cache_creation_input_tokens=1_500,
                                                       cost=0.0123))
    assert usage_from(chunks.CACHED_USAGE[-1]["usage"])[1] == 0.0123
    assert usage_from(None) == (Usage(), None)


@pytest.mark.parametrize(
    ("finish", "stop"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal"), ("tool_calls", "end_turn"),
     ("something_new", "end_turn")],
)
def test_finish_reasons(finish: str, stop: str) -> None:
    assert run(chunks.text("x", finish=finish))[-1].stop_reason == stop  # type: ignore[union-attr]


def test_stop_after_tool_calls_is_tool_use() -> None:
    stream = [chunks.call_start(0, "call_a", "Bash", "{}"), chunks.chunk({}, "stop")]
    assert run(stream)[-1] == MessageStop("tool_use")


@pytest.mark.parametrize(
    ("code", "message", "error"),
    [
        (502, "Provider returned error", UpstreamUnavailable),
        (429, "Rate limit exceeded upstream", RateLimited),
        (400, "This endpoint's maximum context length is 131072 tokens", ContextTooLong),
        ("server_error", "Internal error", UpstreamUnavailable),
    ],
)
def test_mid_stream_error_chunk_raises(code: Any, message: str, error: type[ProviderError]) -> None:
    state = ReplyState(CLAUDE)
    stream = chunks.mid_stream_error(code, message, provider_name="Anthropic")
    events = [e for data in stream[:-1] for e in state.feed(data)]
    assert events[-1] == TextDelta("Partial")
    with pytest.raises(error) as info:
        state.feed(stream[-1])
    assert info.value.provider == "openrouter"
    if error is ContextTooLong:
        assert info.value.message.startswith("prompt is too long")


def test_finish_reason_error_without_an_error_object_raises() -> None:
    with pytest.raises(UpstreamUnavailable):
        run([chunks.chunk({"content": "x"}), chunks.chunk({}, "error")])


def test_a_stream_without_finish_reason_is_never_a_silent_truncation() -> None:
    with pytest.raises(UpstreamUnavailable, match="ended before"):
        run(chunks.NO_FINISH)


# -- HTTP failures ---------------------------------------------------------------------------------------------


def _error(status: int, message: str, **metadata: Any) -> bytes:
    return json.dumps({"error": {"code": status, "message": message, **({"metadata": metadata} if metadata else {})}}).encode()


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "words"),
    [
        (400, _error(400, "model: invalid value"), {}, UpstreamRejected, "rejected"),
        (400, _error(400, "Provider returned error", raw='{"message":"prompt is too long: 210000 tokens"}'), {},
         ContextTooLong, "prompt is too long"),
        (400, _error(400, "Reasoning is mandatory for this endpoint and cannot be disabled."), {},
         ReasoningMandatory, "reasoning"),
        (401, _error(401, "No auth credentials found"), {}, AuthError, "providers.openrouter.api_key"),
        (402, _error(402, "Insufficient credits"), {}, RateLimited, "credits exhausted"),
        (403, _error(403, "Input flagged", reasons=["violence"], flagged_input="bad words", provider_name="OpenAI"),
         {}, PermissionDenied, "flagged for violence"),
        (404, _error(404, "No endpoints found matching your data policy"), {}, ModelUnavailable, "cannot serve"),
        (408, _error(408, "Timed out"), {}, UpstreamTimeout, "timed out"),
        (429, _error(429, "Rate limited"), {"Retry-After": "12"}, RateLimited, "rate limit"),
        (502, _error(502, "Model down"), {}, UpstreamUnavailable, "HTTP 502"),
        (503, _error(503, "No available provider"), {}, Overloaded, "no provider"),
        (500, b"<html>oops</html>", {}, UpstreamUnavailable, "error page"),
    ],
)
def test_http_errors(status: int, body: bytes, headers: dict[str, str], error: type[ProviderError], words: str) -> None:
    exc = error_from_http(status, body, headers, model=chunks.MODEL)
    assert type(exc) is error and words in exc.message
    assert exc.upstream_status == status and exc.provider == "openrouter"
    if isinstance(exc, RateLimited) and status == 429:
        assert exc.retry_after == 12.0
    assert ModelUnavailable.fallback and not ReasoningMandatory.fallback


def test_error_messages_never_carry_a_key() -> None:
    exc = error_from_http(401, _error(401, "bad key sk-or-v1-0123456789abcdef0123"), {})
    assert "0123456789abcdef" not in exc.message
    exc = error_from_http(400, _error(400, "bad key sk-or-v1-0123456789abcdef0123"), {})
    assert "sk-or-…" in exc.message and "0123456789abcdef" not in exc.message


# -- the Anthropic endpoint -------------------------------------------------------------------------------------


def test_anthropic_endpoint_only_for_claude_models() -> None:
    assert uses_endpoint("anthropic/claude-opus-4.5", True)
    assert not uses_endpoint("anthropic/claude-opus-4.5", False)
    assert not uses_endpoint("openai/gpt-5", True)


def test_native_payload_carries_raw_signatures_and_drops_unverifiable_thinking() -> None:
    ours = Signature("openrouter", chunks.MODEL, "raw-anthropic-signature")
    req = request(
        user("q"),
        assistant(ThinkingBlock("mine", ours), ThinkingBlock("unsigned"),
                  ThinkingBlock("", Signature("openrouter", chunks.MODEL, "redacted-data"), redacted=True), "a"),
        user("more"), betas=("interleaved-thinking-2025-05-14",),
    )
    body = native_payload(req, Route("openrouter", chunks.MODEL, effort="xhigh"), provider={"order": ["anthropic"]})
    assert body["model"] == chunks.MODEL and body["stream"] is True
    assert body["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "mine", "signature": "raw-anthropic-signature"},
        {"type": "redacted_thinking", "data": "redacted-data"},
        {"type": "text", "text": "a"},
    ]
    assert body["output_config"] == {"effort": "high"} and body["provider"] == {"order": ["anthropic"]}
    assert native_headers(req) == {"anthropic-version": "2023-06-01", "anthropic-beta": "interleaved-thinking-2025-05-14"}


def test_reasoning_signed_in_one_mode_is_converted_for_the_other() -> None:
    """A Claude conversation may switch between chat completions and the Anthropic endpoint."""
    claude_encrypted = {"type": "reasoning.encrypted", "data": "redacted-blob", "format": "anthropic-claude-v1",
                        "index": 1}
    chat_minted = Signature("openrouter", chunks.MODEL, json.dumps(
        [*chunks.MERGED_DETAILS, claude_encrypted, chunks.ENCRYPTED_DETAIL], separators=(",", ":")))
    native_minted = Signature("openrouter", chunks.MODEL, "EqRawClaudeSignature==")
    req = request(
        user("q"), assistant(ThinkingBlock("".join(chunks.REASONING_PIECES), chat_minted), "a"),
        user("r"), assistant(ThinkingBlock("Natively.", native_minted),
                             ThinkingBlock("", Signature("openrouter", chunks.MODEL, "raw-redacted"), redacted=True),
                             "b"),
        user("s"),
    )
    native = native_payload(req, CLAUDE)["messages"]
    assert native[1]["content"][:2] == [
        {"type": "thinking", "thinking": "".join(chunks.REASONING_PIECES), "signature": chunks.SIGNATURE},
        {"type": "redacted_thinking", "data": "redacted-blob"},
    ]
    assert len(native[1]["content"]) == 3, "OpenAI's encrypted reasoning has no Claude form and is left out"
    chat = body_of(req, CLAUDE)["messages"]
    assert chat[3]["reasoning_details"] == [
        {"type": "reasoning.text", "text": "Natively.", "signature": "EqRawClaudeSignature==",
         "format": "anthropic-claude-v1", "index": 0},
        {"type": "reasoning.encrypted", "data": "raw-redacted", "format": "anthropic-claude-v1", "index": 0},
    ]
    assert chat[3]["reasoning"] == "Natively."


NATIVE_STREAM: list[tuple[str, dict[str, Any]]] = [
    ("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4-5", "content": [],
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "cache_creation_input_tokens": 0,
                  "output_tokens": 1}}}),
    ("ping", {"type": "ping"}),
    ("content_block_start", {"type": "content_block_start", "index": 0,
                             "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "thinking_delta", "thinking": "Hmm."}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "signature_delta", "signature": "raw-sig"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("content_block_start", {"type": "content_block_start", "index": 1,
                             "content_block": {"type": "web_search_tool_result", "tool_use_id": "s", "content": []}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ("content_block_start", {"type": "content_block_start", "index": 2,
                             "content_block": {"type": "tool_use", "id": "toolu_9", "name": "Bash", "input": {}}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 2,
                             "delta": {"type": "input_json_delta", "partial_json": '{"command": "ls"}'}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 2}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                       "usage": {"output_tokens": 30}}),
    ("message_stop", {"type": "message_stop"}),
]


def test_native_reply_wraps_signatures_and_skips_what_it_cannot_carry() -> None:
    state = NativeReplyState(CLAUDE)
    events = [e for name, data in NATIVE_STREAM for e in state.feed(name, data)] + state.finish()
    anthropic_sse(events)
    assert events == [
        MessageStart("claude-opus-4-5", Usage(10, 1, 90, 0)),
        ThinkingStart(), ThinkingDelta("Hmm."), SignatureDelta(Signature("openrouter", chunks.MODEL, "raw-sig")),
        BlockStop(),
        ToolUseStart("toolu_9", "Bash"), ToolInputDelta('{"command": "ls"}'), BlockStop(),
        MessageStop("tool_use", Usage(10, 30, 90, 0)),
    ]


def test_native_error_event_and_cut_off_stream_raise() -> None:
    state = NativeReplyState(CLAUDE)
    state.feed(*NATIVE_STREAM[0])
    with pytest.raises(Overloaded):
        state.feed("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    with pytest.raises(UpstreamUnavailable, match="message_stop"):
        NativeReplyState(CLAUDE).finish()


# -- models ------------------------------------------------------------------------------------------------------

MODELS = {"data": [
    {"id": "anthropic/claude-opus-4.5", "name": "Anthropic: Claude Opus 4.5", "context_length": 200000,
     "top_provider": {"max_completion_tokens": 64000, "context_length": 200000, "is_moderated": True},
     "supported_parameters": ["tools", "reasoning", "max_tokens"], "pricing": {"prompt": "0.000005"}},
    {"id": "openai/gpt-5", "name": "OpenAI: GPT-5", "context_length": 400000, "top_provider": {},
     "supported_parameters": ["reasoning"], "reasoning": {"mandatory": True,
                                                          "supported_efforts": ["minimal", "low", "medium", "high"]}},
    {"id": "meta-llama/llama-3.3-70b-instruct:free", "context_length": 131072, "supported_parameters": ["tools"]},
    {"name": "no id"},
    "junk",
]}


def test_models_are_parsed() -> None:
    opus, gpt, llama = parse_models(MODELS)
    assert (opus.id, opus.display_name, opus.context_window, opus.max_output_tokens, opus.efforts) == (
        "anthropic/claude-opus-4.5", "Anthropic: Claude Opus 4.5", 200000, 64000, ("low", "medium", "high"))
    assert gpt.efforts == ("minimal", "low", "medium", "high") and gpt.max_output_tokens is None
    assert (llama.display_name, llama.efforts) == ("meta-llama/llama-3.3-70b-instruct:free", ())
    assert parse_models({"data": "nope"}) == () and parse_models(None) == ()


async def test_catalogue_caches_for_its_ttl_and_warns_on_failure() -> None:
    now = [0.0]
    calls: list[int] = []
    warnings: list[str] = []
    answers: list[Any] = [MODELS, RuntimeError("down")]

    async def fetch() -> Any:
        calls.append(1)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    catalogue = Catalogue(fetch, 100.0, warn=warnings.append, clock=lambda: now[0])
    assert len(await catalogue.all()) == 3
    now[0] = 99.0
    assert len(await catalogue.all()) == 3 and len(calls) == 1
    now[0] = 100.0
    assert len(await catalogue.all()) == 3, "a failure keeps the last good list"
    assert len(calls) == 2 and warnings and "RuntimeError" in warnings[0]
    empty = Catalogue(fetch, 100.0, warn=warnings.append)
    assert await empty.all() == ()


# -- what a limit limits --------------------------------------------------------------------------------------


def test_a_429_limits_the_model_and_a_402_the_account() -> None:
    limited = error_from_http(429, _error(429, "Rate limit exceeded"), {"Retry-After": "12"}, model=chunks.MODEL)
    assert isinstance(limited, RateLimited) and limited.scope == "model" and limited.retry_after == 12.0
    assert chunks.MODEL in limited.message
    broke = error_from_http(402, _error(402, "Insufficient credits"), {}, model=chunks.MODEL)
    assert isinstance(broke, RateLimited) and broke.scope == "account" and broke.retry_after is None
    assert broke.message.startswith("OpenRouter credits exhausted") and broke.fallback


def test_limits_inside_the_stream_say_what_they_limit_too() -> None:
    broke = error_from_stream({"code": 402, "message": "Insufficient credits"})
    assert isinstance(broke, RateLimited) and broke.scope == "account"
    limited = error_from_stream({"type": "rate_limit_error", "message": "slow down"})
    assert isinstance(limited, RateLimited) and limited.scope == "model"


@pytest.mark.parametrize("asked, sent", [("minimal", "low"), ("xhigh", "high"), ("max", "max"), ("medium", "medium")])
def test_the_clients_effort_reaches_claude_in_claudes_words(asked: str, sent: str) -> None:
    """A request's own effort (from an OpenAI client's `reasoning_effort`, say) is mapped like a route's."""
    body = native_payload(request(user("q"), effort=asked), CLAUDE)
    assert body["output_config"] == {"effort": sent}
