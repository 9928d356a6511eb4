"""Kiro request translation, without a network.

`assert_kiro_accepts` encodes the rules of protocol sheet A4 that keep Kiro from answering
"Improperly formed request": every recorded Claude Code request must become a body that
passes it, and each rule also has targeted cases below.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from providers.kiro.history import CONTINUE, EMPTY, EMPTY_RESULT
from providers.kiro.tools import DESCRIPTION_LIMIT, MAX_NAME_LENGTH, clean_schema, short_name
from providers.kiro.translate import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    Payload,
    PayloadOptions,
    build_payload,
    conversation_id,
    kiro_model_id,
)
from router.anthropic.decode import parse_request
from router.conversation import (
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
from router.errors import ContextTooLong
from router.route import Route
from tests.support.canonical import assistant, canonical_request, user

CLAUDE_CODE = Path(__file__).parents[2] / "fixtures" / "claude-code"
ROUTE = Route("kiro", "claude-sonnet-4-5")
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BAAQAF/gH+2W4cWQAAAABJRU5ErkJggg=="
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
IMAGE_FORMATS = {"png", "jpeg", "gif", "webp"}
TOP_LEVEL = {"conversationState", "profileArn", "additionalModelRequestFields"}
STATE_FIELDS = {
    "chatTriggerType",
    "conversationId",
    "agentContinuationId",
    "agentTaskType",
    "currentMessage",
    "history",
}


# -- Kiro's rules (protocol sheet A4), as one validator ---------------------------------------------


def assert_kiro_accepts(body: Mapping[str, Any], limit: int = DEFAULT_MAX_PAYLOAD_BYTES) -> None:
    """Fail with the rule's name when `body` breaks anything the sheet says Kiro refuses."""
    assert set(body) <= TOP_LEVEL, f"unexpected top-level fields {set(body) - TOP_LEVEL}"
    state = body["conversationState"]
    assert set(state) <= STATE_FIELDS
    assert state["chatTriggerType"] == "MANUAL"
    uuid.UUID(state["conversationId"])
    current = state["currentMessage"]["userInputMessage"]
    turns = [_turn(entry) for entry in state.get("history", [])] + [("user", current)]
    assert turns[0][0] == "user", "history must start with a user message"
    for (role, _), (next_role, _) in itertools.pairwise(turns):
        assert role != next_role, "roles must alternate"
    specs = _assert_tools(current)
    for index, (role, message) in enumerate(turns):
        assert isinstance(message["content"], str) and message["content"].strip(), (
            f"empty content in turn {index}"
        )
        if role == "user":
            _assert_user(message, is_current=index == len(turns) - 1)
        else:
            _assert_assistant(message, specs)
    _assert_pairs(turns)
    assert _measured(body) <= limit, "payload over the size limit"


def _turn(entry: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    assert len(entry) == 1, entry.keys()
    if "userInputMessage" in entry:
        return "user", entry["userInputMessage"]
    return "assistant", entry["assistantResponseMessage"]


def _assert_user(message: Mapping[str, Any], *, is_current: bool) -> None:
    assert message["origin"] == "AI_EDITOR" and isinstance(message["modelId"], str)
    for image in message.get("images", []):
        assert image["format"] in IMAGE_FORMATS and isinstance(image["source"]["bytes"], str)
    context = message.get("userInputMessageContext", {})
    assert is_current or "tools" not in context, "tools only on the current message"
    for result in context.get("toolResults", []):
        assert result["status"] in ("success", "error")
        assert result["content"] and all(part["text"].strip() for part in result["content"]), (
            "empty tool result"
        )
        assert NAME.fullmatch(result["toolUseId"])


def _assert_assistant(message: Mapping[str, Any], specs: set[str]) -> None:
    for use in message.get("toolUses", []):
        assert NAME.fullmatch(use["name"]), use["name"]
        assert use["name"] in specs, "a tool use needs a tool config (TOOL_CONFIG_MISSING)"
        assert isinstance(use["input"], dict) and NAME.fullmatch(use["toolUseId"])


def _assert_tools(current: Mapping[str, Any]) -> set[str]:
    tools = current.get("userInputMessageContext", {}).get("tools", [])
    names: list[str] = []
    for tool in tools:
        assert set(tool) == {"toolSpecification"}, "no cachePoint (or anything else) in tools"
        spec = tool["toolSpecification"]
        assert NAME.fullmatch(spec["name"]) and len(spec["name"]) <= MAX_NAME_LENGTH
        assert spec["description"].strip() and len(spec["description"]) <= DESCRIPTION_LIMIT
        schema = spec["inputSchema"]["json"]
        assert schema["type"] == "object"
        for sub in _schemas(schema):
            assert "additionalProperties" not in sub and sub.get("required", ["x"]) != []
        names.append(spec["name"])
    assert len(names) == len(set(names)), "duplicate tool names"
    return set(names)


def _schemas(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield schema
    for sub in (schema.get("properties") or {}).values():
        if isinstance(sub, Mapping):
            yield from _schemas(sub)
    for key in ("items", "anyOf", "oneOf", "allOf"):
        value = schema.get(key)
        for sub in value if isinstance(value, list) else [value]:
            if isinstance(sub, Mapping):
                yield from _schemas(sub)


def _assert_pairs(turns: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    """Every result answers a use of the turn right before it, every use is answered right after."""
    for index, (role, message) in enumerate(turns):
        if role == "assistant":
            uses = {use["toolUseId"] for use in message.get("toolUses", [])}
            following = turns[index + 1][1].get("userInputMessageContext", {}).get("toolResults", [])
            assert uses <= {r["toolUseId"] for r in following}, "tool use without a result"
        else:
            results = [
                r["toolUseId"] for r in message.get("userInputMessageContext", {}).get("toolResults", [])
            ]
            before = turns[index - 1][1].get("toolUses", []) if index else []
            assert set(results) <= {use["toolUseId"] for use in before}, "tool result without its use"
            assert len(results) == len(set(results)), "duplicate tool results"


def _measured(body: Mapping[str, Any]) -> int:
    state = body["conversationState"]
    messages = [state["currentMessage"]["userInputMessage"]]
    messages += [
        entry["userInputMessage"] for entry in state.get("history", []) if "userInputMessage" in entry
    ]
    images = sum(len(image["source"]["bytes"]) for m in messages for image in m.get("images", []))
    return len(orjson.dumps(body)) - images


# -- helpers -------------------------------------------------------------------------------------


def fixture_requests() -> list[Path]:
    paths = sorted(CLAUDE_CODE.glob("*/*.json")) + [CLAUDE_CODE / "main-turn.json"]
    return [p for p in paths if isinstance(data := json.loads(p.read_text()), dict) and "messages" in data]


def load(path: Path, session_id: str | None = "session-1") -> Request:
    return parse_request(json.loads(path.read_text()), session_id=session_id)


def request(*messages: Message, **fields: Any) -> Request:
    return canonical_request("claude-sonnet-4-5", *messages, **fields)


def system(text: str) -> Message:
    return Message("system", (TextBlock(text),))


BASH = Tool("Bash", "Run a command", {"type": "object", "properties": {"command": {"type": "string"}}})


def call(call_id: str = "toolu_1", name: str = "Bash", **arguments: Any) -> ToolUseBlock:
    return ToolUseBlock(call_id, name, arguments or {"command": "ls"})


def result(call_id: str = "toolu_1", text: str = "ok", **fields: Any) -> ToolResultBlock:
    return ToolResultBlock(call_id, (TextBlock(text),) if text else (), **fields)


def payload_of(req: Request, route: Route = ROUTE, **options: Any) -> Payload:
    payload = build_payload(req, route, options=PayloadOptions(**options))
    assert_kiro_accepts(payload.body, options.get("max_payload_bytes", DEFAULT_MAX_PAYLOAD_BYTES))
    assert payload.encoded == orjson.dumps(payload.body)
    return payload


def state_of(req: Request, **options: Any) -> dict[str, Any]:
    state: dict[str, Any] = payload_of(req, **options).body["conversationState"]
    return state


def current_of(req: Request, **options: Any) -> dict[str, Any]:
    message: dict[str, Any] = state_of(req, **options)["currentMessage"]["userInputMessage"]
    return message


def roles(state: Mapping[str, Any]) -> list[str]:
    return [_turn(entry)[0] for entry in state.get("history", [])]


def contents(state: Mapping[str, Any]) -> list[str]:
    return [_turn(entry)[1]["content"] for entry in state.get("history", [])]


# -- every recorded Claude Code request ---------------------------------------------------------------


@pytest.mark.parametrize("path", fixture_requests(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_claude_code_request_becomes_a_body_kiro_accepts(path: Path) -> None:
    req = load(path)
    payload = payload_of(req, profile_arn="arn:aws:codewhisperer:us-east-1:123:profile/ABC")
    body = payload.body
    offered = {t.name for t in req.tools if isinstance(t, Tool)}
    tools = body["conversationState"]["currentMessage"]["userInputMessage"].get("userInputMessageContext", {})
    assert {
        payload.names.tool_name(t["toolSpecification"]["name"]) for t in tools.get("tools", [])
    } == offered
    assert "x-anthropic-billing-header" not in orjson.dumps(body).decode()
    assert body["profileArn"].startswith("arn:aws:codewhisperer")
    assert body["conversationState"]["currentMessage"]["userInputMessage"]["modelId"] == "claude-sonnet-4.5"


@pytest.mark.parametrize("path", fixture_requests(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_claude_code_system_prompt_opens_the_first_user_turn(path: Path) -> None:
    req = load(path)
    state = state_of(req)
    first = (
        _turn(state["history"][0])[1] if "history" in state else state["currentMessage"]["userInputMessage"]
    )
    assert "You are a Claude agent" in first["content"]
    assert orjson.dumps(state).decode().count("You are a Claude agent") == 1


@pytest.mark.parametrize("path", fixture_requests(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_thinking_mode_gives_a_valid_body(path: Path) -> None:
    for mode in ("tags", "native", "off"):
        payload_of(load(path), thinking_mode=mode)


def test_claude_code_tool_result_turn_pairs_the_call_with_its_result() -> None:
    req = load(CLAUDE_CODE / "default" / "03-tool-result-turn-opus.json")
    state = state_of(req)
    last = _turn(state["history"][-1])[1]
    results = state["currentMessage"]["userInputMessage"]["userInputMessageContext"]["toolResults"]
    assert [use["toolUseId"] for use in last["toolUses"]] == [r["toolUseId"] for r in results]
    assert results[0]["content"] == [{"text": "conformance-ok"}] and results[0]["status"] == "success"


def test_claude_code_mid_conversation_system_message_joins_the_user_turn_before_it() -> None:
    req = load(CLAUDE_CODE / "default" / "03-tool-result-turn-opus.json")
    assert [m.role for m in req.messages] == ["user", "system", "assistant", "user"]
    state = state_of(req)
    assert roles(state) == ["user", "assistant"]
    assert contents(state)[0].endswith("<text 6062 chars>")


# -- system prompt -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "where"),
    [
        ((user("question"),), "current"),
        ((user("first"), assistant("answer"), user("second")), "history"),
    ],
)
def test_system_prompt_is_folded_into_the_first_user_turn(messages: tuple[Message, ...], where: str) -> None:
    sys_blocks = (TextBlock("\n"), TextBlock("Be terse."))
    state = state_of(request(*messages, system=sys_blocks))
    if where == "current":
        assert state["currentMessage"]["userInputMessage"]["content"] == "Be terse.\n\nquestion"
    else:
        assert contents(state)[0] == "Be terse.\n\nfirst"
        assert state["currentMessage"]["userInputMessage"]["content"] == "second"


# -- roles: alternation, first and last turn -----------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "expected_roles", "expected_contents", "current"),
    [
        ((user("a"), user("b")), [], [], "a\n\nb"),
        ((user("a"), assistant("x"), assistant("y"), user("b")), ["user", "assistant"], ["a", "x\n\ny"], "b"),
        ((assistant("hello"), user("b")), ["user", "assistant"], [EMPTY, "hello"], "b"),
        ((user("a"), assistant("partial")), ["user", "assistant"], ["a", "partial"], CONTINUE),
        (
            (user("a"), system("note"), assistant("x"), user("b")),
            ["user", "assistant"],
            ["a\n\nnote", "x"],
            "b",
        ),
        (
            (user("a"), assistant("x"), system("note"), user("b")),
            ["user", "assistant"],
            ["a", "x"],
            "note\n\nb",
        ),
        (
            (user("a"), assistant("x"), system("note"), assistant("y"), user("b")),
            ["user", "assistant", "user", "assistant"],
            ["a", "x", "note", "y"],
            "b",
        ),
        ((system("only a note"),), [], [], "only a note"),
    ],
    ids=[
        "two-users",
        "two-assistants",
        "starts-with-assistant",
        "ends-with-assistant",
        "system-after-user",
        "system-before-user",
        "system-between-assistants",
        "system-only",
    ],
)
def test_roles_alternate_start_and_end_with_user(
    messages: tuple[Message, ...], expected_roles: list[str], expected_contents: list[str], current: str
) -> None:
    state = state_of(request(*messages))
    assert roles(state) == expected_roles
    assert contents(state) == expected_contents
    assert state["currentMessage"]["userInputMessage"]["content"] == current


# -- no empty content ------------------------------------------------------------------------------


def test_empty_content_gets_placeholders() -> None:
    req = request(
        user("a"),
        assistant(call("toolu_1")),
        user(result("toolu_1", "")),
        tools=(BASH,),
    )
    state = state_of(req)
    assert contents(state) == ["a", EMPTY]
    current = state["currentMessage"]["userInputMessage"]
    assert current["content"] == CONTINUE
    assert current["userInputMessageContext"]["toolResults"][0]["content"] == [{"text": EMPTY_RESULT}]


def test_whitespace_only_text_counts_as_empty() -> None:
    state = state_of(request(user("a"), assistant("   "), user("b")))
    assert contents(state) == ["a", EMPTY]


# -- tool pairing --------------------------------------------------------------------------------------


def test_error_results_keep_their_status() -> None:
    req = request(user("a"), assistant(call()), user(result(is_error=True)), tools=(BASH,))
    results = current_of(req)["userInputMessageContext"]["toolResults"]
    assert results == [{"toolUseId": "toolu_1", "content": [{"text": "ok"}], "status": "error"}]


@pytest.mark.parametrize(
    ("messages", "uses", "results", "dropped"),
    [
        ((user("a"), assistant("x", call("toolu_1")), user(result("toolu_9"), "go on")), [], [], 2),
        (
            (user("a"), assistant(call("toolu_1"), call("toolu_2")), user(result("toolu_2"))),
            ["toolu_2"],
            ["toolu_2"],
            1,
        ),
        ((user(result("toolu_0"), "start"),), [], [], 1),
        (
            (user("a"), assistant(call("toolu_1")), user(result("toolu_1"), result("toolu_1", "again"))),
            ["toolu_1"],
            ["toolu_1"],
            1,
        ),
        ((user("a"), assistant(call("toolu_1"))), [], [], 1),
    ],
    ids=[
        "result-for-another-call",
        "call-without-result",
        "result-without-any-call",
        "duplicate-result",
        "trailing-call",
    ],
)
def test_orphans_are_dropped_both_ways(
    messages: tuple[Message, ...], uses: list[str], results: list[str], dropped: int
) -> None:
    payload = payload_of(request(*messages, tools=(BASH,)))
    state = payload.body["conversationState"]
    all_uses = [
        u["toolUseId"] for entry in state.get("history", []) for u in _turn(entry)[1].get("toolUses", [])
    ]
    current_results = state["currentMessage"]["userInputMessage"].get("userInputMessageContext", {})
    assert all_uses == uses
    assert [r["toolUseId"] for r in current_results.get("toolResults", [])] == results
    assert len([note for note in payload.notes if note.startswith("dropped tool")]) == dropped


def test_results_in_an_earlier_turn_are_paired_with_their_own_calls() -> None:
    req = request(
        user("a"),
        assistant(call("toolu_1")),
        user(result("toolu_1")),
        assistant("done", call("toolu_2")),
        user(result("toolu_2", "second")),
        tools=(BASH,),
    )
    state = state_of(req)
    history_results = _turn(state["history"][2])[1]["userInputMessageContext"]["toolResults"]
    assert [r["toolUseId"] for r in history_results] == ["toolu_1"]
    assert "tools" not in _turn(state["history"][2])[1]["userInputMessageContext"]


def test_without_tools_the_tool_history_becomes_text() -> None:
    req = request(
        user("summarise"), assistant("let me look", call()), user(result(text="file.txt"), "now summarise")
    )
    state = state_of(req)
    assert "toolUses" not in _turn(state["history"][1])[1]
    assert "[tool call Bash (toolu_1)" in contents(state)[1]
    current = state["currentMessage"]["userInputMessage"]
    assert "userInputMessageContext" not in current
    assert current["content"] == "now summarise\n\n[tool result for toolu_1]\nfile.txt"


def test_tool_choice_none_sends_no_tools_and_flattens_history() -> None:
    req = request(user("a"), assistant(call()), user(result()), tools=(BASH,), tool_choice=ToolChoice("none"))
    payload = payload_of(req)
    current = payload.body["conversationState"]["currentMessage"]["userInputMessage"]
    assert "userInputMessageContext" not in current
    assert any("tool_choice none" in note for note in payload.notes)


def test_history_tools_no_longer_offered_get_stub_specs() -> None:
    req = request(user("a"), assistant(call(name="OldTool")), user(result()), tools=(BASH,))
    tools = current_of(req)["userInputMessageContext"]["tools"]
    assert [t["toolSpecification"]["name"] for t in tools] == ["Bash", "OldTool"]


def test_tools_travel_only_on_the_current_message() -> None:
    req = request(user("a"), assistant("b"), user("c"), tools=(BASH,))
    state = state_of(req)
    assert all("userInputMessageContext" not in _turn(entry)[1] for entry in state["history"])
    assert state["currentMessage"]["userInputMessage"]["userInputMessageContext"]["tools"][0] == {
        "toolSpecification": {
            "name": "Bash",
            "description": "Run a command",
            "inputSchema": {"json": {"type": "object", "properties": {"command": {"type": "string"}}}},
        }
    }


def test_server_tools_are_dropped_with_a_note_and_tool_choice_any_noted() -> None:
    search = ServerTool("web_search_20250305", "web_search")
    payload = payload_of(request(tools=(BASH, search), tool_choice=ToolChoice("any")))
    assert any("web_search" in note for note in payload.notes)
    assert any("tool_choice any" in note for note in payload.notes)


def test_tool_ids_kiro_would_refuse_are_made_safe_consistently() -> None:
    odd = "call:with/odd chars" + "x" * 80
    req = request(user("a"), assistant(call(odd)), user(result(odd)), tools=(BASH,))
    state = state_of(req)
    use_id = _turn(state["history"][1])[1]["toolUses"][0]["toolUseId"]
    assert NAME.fullmatch(use_id)
    assert (
        state["currentMessage"]["userInputMessage"]["userInputMessageContext"]["toolResults"][0]["toolUseId"]
        == use_id
    )


# -- tool names, descriptions, schemas -------------------------------------------------------------


LONG_NAME = "mcp__plugin_some-marketplace_some-very-long-server-name__do_something_rather_specific_indeed"


def test_long_tool_names_are_shortened_everywhere_and_mapped_back() -> None:
    tool = Tool(LONG_NAME, "Does something.")
    req = request(
        user("a"),
        assistant(call("toolu_1", LONG_NAME)),
        user(result("toolu_1")),
        tools=(tool,),
        system=(TextBlock(f"Prefer {LONG_NAME} for this."),),
    )
    payload = payload_of(req)
    state = payload.body["conversationState"]
    short = short_name(LONG_NAME)
    assert len(short) <= MAX_NAME_LENGTH and short.startswith("mcp__do_something")
    assert short == short_name(LONG_NAME), "deterministic"
    assert _turn(state["history"][1])[1]["toolUses"][0]["name"] == short
    assert (
        state["currentMessage"]["userInputMessage"]["userInputMessageContext"]["tools"][0][
            "toolSpecification"
        ]["name"]
        == short
    )
    assert payload.names.tool_name(short) == LONG_NAME
    assert payload.names.tool_name("Bash") == "Bash"
    assert LONG_NAME not in orjson.dumps(payload.body).decode()
    assert f"Prefer {short} for this." in contents(state)[0]


def test_similar_long_names_stay_distinct() -> None:
    other = LONG_NAME + "_two"
    assert short_name(LONG_NAME) != short_name(other)
    assert short_name("Bash") == "Bash"
    assert NAME.fullmatch(short_name("has spaces and.dots"))


@pytest.mark.parametrize(
    ("description", "moved"),
    [("", False), ("short", False), ("x" * DESCRIPTION_LIMIT, False), ("y" * (DESCRIPTION_LIMIT + 1), True)],
)
def test_long_descriptions_move_into_the_prompt(description: str, moved: bool) -> None:
    req = request(user("go"), tools=(Tool("Big", description),))
    current = current_of(req)
    spec = current["userInputMessageContext"]["tools"][0]["toolSpecification"]
    assert len(spec["description"]) <= DESCRIPTION_LIMIT
    assert spec["description"] == (description or "Tool: Big") or moved
    assert (description in current["content"] and "# Tool documentation" in current["content"]) == moved


def test_description_limit_is_an_option() -> None:
    req = request(user("go"), tools=(Tool("Small", "z" * 200),))
    current = current_of(req, description_limit=150)
    assert len(current["userInputMessageContext"]["tools"][0]["toolSpecification"]["description"]) <= 150
    assert "z" * 200 in current["content"]


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (
            {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "required": [],
                "additionalProperties": False,
                "$schema": "http://json-schema.org/draft-07/schema#",
            },
            {"type": "object", "properties": {"a": {"type": "string"}}},
        ),
        (
            {
                "type": "object",
                "properties": {"additionalProperties": {"type": "object", "additionalProperties": True}},
            },
            {"type": "object", "properties": {"additionalProperties": {"type": "object"}}},
        ),
        (
            {
                "type": "object",
                "properties": {
                    "l": {
                        "type": "array",
                        "items": {"type": "object", "required": [], "additionalProperties": False},
                    }
                },
            },
            {"type": "object", "properties": {"l": {"type": "array", "items": {"type": "object"}}}},
        ),
        (
            {
                "type": "object",
                "properties": {"x": {"anyOf": [{"type": "object", "additionalProperties": {}}]}},
            },
            {"type": "object", "properties": {"x": {"anyOf": [{"type": "object"}]}}},
        ),
    ],
)
def test_schemas_are_cleaned(schema: dict[str, Any], expected: dict[str, Any]) -> None:
    assert clean_schema(schema) == expected
    req = request(user("go"), tools=(Tool("T", "d", schema),))
    spec = current_of(req)["userInputMessageContext"]["tools"][0]["toolSpecification"]
    assert spec["inputSchema"]["json"] == expected


def test_a_schema_without_object_type_gets_one() -> None:
    req = request(user("go"), tools=(Tool("T", "d", {"properties": {"a": {"type": "string"}}}),))
    spec = current_of(req)["userInputMessageContext"]["tools"][0]["toolSpecification"]
    assert spec["inputSchema"]["json"] == {"type": "object", "properties": {"a": {"type": "string"}}}


# -- images and documents ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block", "images", "text"),
    [
        (ImageBlock("image/png", PNG), [{"format": "png", "source": {"bytes": PNG}}], None),
        (ImageBlock("image/jpeg", PNG), [{"format": "jpeg", "source": {"bytes": PNG}}], None),
        (ImageBlock(url="https://example.com/a.png"), [], "[image at https://example.com/a.png not included"),
        (ImageBlock("image/bmp", PNG), [], "[image (image/bmp) not included]"),
        (DocumentBlock(text="notes body", title="notes.txt"), [], "notes.txt\n\nnotes body"),
        (DocumentBlock("application/pdf", data=PNG), [], "[document (application/pdf) not included"),
    ],
)
def test_user_images_and_documents(block: Any, images: list[dict[str, Any]], text: str | None) -> None:
    current = current_of(request(user("look", block)))
    assert current.get("images", []) == images
    if text is not None:
        assert text in current["content"]


def test_images_in_tool_results_ride_on_the_message() -> None:
    shot = ToolResultBlock("toolu_1", (TextBlock("screenshot:"), ImageBlock("image/png", PNG)))
    req = request(user("a"), assistant(call()), user(shot), tools=(BASH,))
    current = current_of(req)
    assert current["images"] == [{"format": "png", "source": {"bytes": PNG}}]
    text = current["userInputMessageContext"]["toolResults"][0]["content"][0]["text"]
    assert text == "screenshot:\n[image attached to the message]"


def test_images_can_be_switched_off() -> None:
    current = current_of(request(user("look", ImageBlock("image/png", PNG))), send_images=False)
    assert "images" not in current and "[image (image/png) not included]" in current["content"]


def test_history_images_are_kept_in_their_turn() -> None:
    state = state_of(request(user("look", ImageBlock("image/png", PNG)), assistant("a cat"), user("thanks")))
    assert _turn(state["history"][0])[1]["images"][0]["format"] == "png"


# -- thinking -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("thinking", "effort", "route_effort", "budget"),
    [
        (Thinking("enabled", 2000), None, None, 2000),
        (Thinking("enabled", 500), None, None, 1024),
        (Thinking("enabled", 64000), None, None, 24576),
        (Thinking("adaptive"), None, None, 16000),
        (Thinking("adaptive"), "low", None, 4000),
        (Thinking("adaptive"), "medium", None, 8000),
        (Thinking("adaptive"), "low", "xhigh", 24576),
        (Thinking("adaptive"), "max", None, 24576),
    ],
)
def test_thinking_tags_carry_a_budget(
    thinking: Thinking, effort: str | None, route_effort: str | None, budget: int
) -> None:
    req = request(user("think"), thinking=thinking, effort=effort)
    route = Route("kiro", "claude-sonnet-4.5", effort=route_effort)
    payload = payload_of(req, route)
    content = payload.body["conversationState"]["currentMessage"]["userInputMessage"]["content"]
    assert content == (
        f"<thinking_mode>enabled</thinking_mode>\n<max_thinking_length>{budget}</max_thinking_length>\n\nthink"
    )
    assert payload.thinking_tags and payload.shows_thinking
    assert "additionalModelRequestFields" not in payload.body


def test_thinking_tags_go_before_the_folded_system_prompt() -> None:
    req = request(user("q"), system=(TextBlock("Sys."),), thinking=Thinking("adaptive"))
    content = current_of(req)["content"]
    assert content.startswith("<thinking_mode>enabled</thinking_mode>") and content.endswith("Sys.\n\nq")


@pytest.mark.parametrize(
    ("thinking", "effort", "route_effort", "fields"),
    [
        (
            Thinking("adaptive"),
            "medium",
            None,
            {
                "thinking": {"type": "adaptive", "display": "summarized"},
                "output_config": {"effort": "medium"},
            },
        ),
        (
            Thinking("adaptive"),
            None,
            None,
            {"thinking": {"type": "adaptive", "display": "summarized"}, "output_config": {"effort": "high"}},
        ),
        (
            Thinking("adaptive"),
            "low",
            "xhigh",
            {"thinking": {"type": "adaptive", "display": "summarized"}, "output_config": {"effort": "max"}},
        ),
        (Thinking("enabled", 5000), None, None, {"thinking": {"type": "enabled", "budget_tokens": 5000}}),
    ],
)
def test_native_thinking_uses_additional_model_request_fields(
    thinking: Thinking, effort: str | None, route_effort: str | None, fields: dict[str, Any]
) -> None:
    req = request(user("think"), thinking=thinking, effort=effort)
    payload = payload_of(req, Route("kiro", "claude-opus-4.5", effort=route_effort), thinking_mode="native")
    assert payload.body["additionalModelRequestFields"] == fields
    assert payload.body["conversationState"]["currentMessage"]["userInputMessage"]["content"] == "think"
    assert not payload.thinking_tags and payload.shows_thinking


@pytest.mark.parametrize(
    ("thinking", "mode"),
    [
        (None, "tags"),
        (Thinking("disabled"), "tags"),
        (Thinking("disabled"), "native"),
        (Thinking("adaptive"), "off"),
    ],
)
def test_no_thinking_requested(thinking: Thinking | None, mode: str) -> None:
    payload = payload_of(request(user("hi"), thinking=thinking), thinking_mode=mode)
    assert "additionalModelRequestFields" not in payload.body
    assert payload.body["conversationState"]["currentMessage"]["userInputMessage"]["content"] == "hi"
    assert not payload.thinking_tags


MINE = Signature("kiro", "claude-opus-4.5", "sig-abc")


@pytest.mark.parametrize(
    ("block", "mode", "expected"),
    [
        (
            ThinkingBlock("pondering", MINE),
            "native",
            {"reasoningText": {"text": "pondering", "signature": "sig-abc"}},
        ),
        (ThinkingBlock("", MINE, redacted=True), "native", {"redactedContent": "sig-abc"}),
        (ThinkingBlock("pondering", MINE), "tags", None),
        (ThinkingBlock("pondering", Signature("codex", "gpt-5.5", "x")), "native", None),
        (ThinkingBlock("pondering", Signature("kiro", "claude-sonnet-4.5", "x")), "native", None),
        (ThinkingBlock("pondering"), "native", None),
        (ThinkingBlock("pondering", Signature(MINE.provider, MINE.model, "stand-in", router=True)), "native", None),
        (ThinkingBlock("pondering", Signature(MINE.provider, MINE.model, "stand-in", router=True)), "tags", None),
    ],
)
def test_earlier_reasoning_goes_back_only_when_native_and_minted_here(
    block: ThinkingBlock, mode: str, expected: dict[str, Any] | None
) -> None:
    req = request(user("a"), assistant(block, "answer"), user("b"), thinking=Thinking("adaptive"))
    state = payload_of(req, Route("kiro", "claude-opus-4.5"), thinking_mode=mode).body["conversationState"]
    message = _turn(state["history"][1])[1]
    assert message.get("reasoningContent") == expected
    assert message["content"] == "answer"


# -- ids, model, profile ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("claude-sonnet-4-5", "claude-sonnet-4.5"),
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4.5"),
        ("claude-opus-4-5", "claude-opus-4.5"),
        ("claude-opus-4-1-20250805", "claude-opus-4.1"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4.5"),
        ("claude-opus-4-6[1m]", "claude-opus-4.6"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("claude-3-7-sonnet-20250219", "claude-3.7-sonnet"),
        ("claude-3-5-haiku", "claude-3.5-haiku"),
        ("claude-sonnet-4.5", "claude-sonnet-4.5"),
        ("claude-3.7-sonnet-thinking", "claude-3.7-sonnet-thinking"),
        ("claude-opus-latest", "claude-opus-latest"),
        ("auto", "auto"),
        ("CLAUDE_3_7_SONNET_20250219_V1_0", "CLAUDE_3_7_SONNET_20250219_V1_0"),
    ],
)
def test_kiro_model_ids(name: str, expected: str) -> None:
    assert kiro_model_id(name) == expected


def test_model_id_comes_from_the_route_unless_overridden() -> None:
    state = state_of(request(user("a"), assistant("b"), user("c")))
    assert state["currentMessage"]["userInputMessage"]["modelId"] == "claude-sonnet-4.5"
    assert _turn(state["history"][0])[1]["modelId"] == "claude-sonnet-4.5"
    assert current_of(request(), model_id="CUSTOM_ID")["modelId"] == "CUSTOM_ID"


def test_profile_arn_only_when_given() -> None:
    assert "profileArn" not in payload_of(request()).body
    assert payload_of(request(), profile_arn="arn:x").body["profileArn"] == "arn:x"


def test_conversation_id_is_stable_per_session() -> None:
    first = request(user("hello"), session_id="s-1")
    later = request(user("hello"), assistant("hi"), user("more"), session_id="s-1")
    other = request(user("hello"), session_id="s-2")
    ids = [state_of(r)["conversationId"] for r in (first, later, other)]
    assert ids[0] == ids[1] != ids[2]
    assert conversation_id(first) == ids[0]


def test_without_a_session_the_first_user_message_names_the_conversation() -> None:
    first = request(user("hello"))
    later = request(user("hello"), assistant("hi"), user("more"))
    assert state_of(first)["conversationId"] == state_of(later)["conversationId"]
    assert state_of(request(user("bye")))["conversationId"] != state_of(first)["conversationId"]


def test_continuation_id_differs_per_turn_but_not_per_retry() -> None:
    first = request(user("hello"), session_id="s")
    later = request(user("hello"), assistant("hi"), user("more"), session_id="s")
    assert state_of(first)["agentContinuationId"] == state_of(first)["agentContinuationId"]
    assert state_of(first)["agentContinuationId"] != state_of(later)["agentContinuationId"]
    given, continuation = str(uuid.uuid4()), str(uuid.uuid4())
    state = state_of(first, conversation_id=given, continuation_id=continuation, agent_task_type=None)
    assert (state["conversationId"], state["agentContinuationId"]) == (given, continuation)
    assert "agentTaskType" not in state


def test_output_schema_becomes_an_instruction() -> None:
    req = request(
        user("title?"), output_schema={"type": "object", "properties": {"title": {"type": "string"}}}
    )
    assert 'matches this JSON Schema, and nothing else:\n{"type":"object"' in current_of(req)["content"]


# -- size ---------------------------------------------------------------------------------------------


def test_oversize_payload_is_context_too_long_never_trimmed() -> None:
    big = request(user("x" * 2000), assistant("y" * 2000), user("z"))
    with pytest.raises(ContextTooLong) as caught:
        build_payload(big, ROUTE, options=PayloadOptions(max_payload_bytes=3000))
    assert caught.value.message.startswith("prompt is too long")
    assert caught.value.provider == "kiro"


def test_the_default_limit_is_the_sheets_1_2_mb() -> None:
    assert DEFAULT_MAX_PAYLOAD_BYTES == 1_200_000
    with pytest.raises(ContextTooLong, match="^prompt is too long"):
        build_payload(request(user("x" * 1_250_000)), ROUTE)
    payload = payload_of(request(user("x" * 1_100_000)))
    assert payload.large


def test_image_bytes_do_not_count_towards_the_limit() -> None:
    image = ImageBlock("image/png", "A" * 50_000)
    payload = payload_of(request(user("look", image)), max_payload_bytes=10_000)
    assert payload.size < 10_000 < len(payload.encoded)
    assert not payload.large


def test_the_payload_sets_up_its_reply_state() -> None:
    tags = payload_of(request(user("q"), thinking=Thinking("adaptive")), Route("kiro", "claude-opus-4-6"))
    state = tags.reply_state(ROUTE)
    assert state.splitter.enabled and state.show_thinking and state.context_window == 1_000_000
    assert not state.large_request
    plain = payload_of(request(user("x" * 800_000)))
    state = plain.reply_state(ROUTE, context_window_tokens=123)
    assert not state.splitter.enabled and not state.show_thinking and state.context_window == 123
    assert state.large_request
