"""Responses API requests (router/openai/responses_decode.py) -> the canonical `Request`.

Every field the dialect reads is checked against the canonical value it must become, and every
refused request against the OpenAI-style `param` its error names. One request is shaped the way
Codex CLI sends them (instructions, developer and user messages, reasoning with encrypted content,
function and custom tool calls, a lark-grammar `apply_patch`); captured ones in
tests/fixtures/codex-cli/ are decoded too, when there are any.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest

from router.anthropic.signatures import encode_signature
from router.conversation import (
    DocumentBlock,
    ImageBlock,
    Message,
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
from router.errors import RequestError
from router.openai.chat_decode import DEFAULT_MAX_TOKENS, RAW_ARGUMENTS, InvalidParam
from router.openai.responses_decode import CUSTOM_INPUT, WEB_SEARCH, ResponsesRequest, decode_responses

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()
PDF = base64.b64encode(b"%PDF-1.4 fake").decode()
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "codex-cli"
APPLY_PATCH_GRAMMAR = 'start: begin_patch hunk+ end_patch\nbegin_patch: "*** Begin Patch" LF\nend_patch: "*** End Patch" LF?\n'
CODEX_SIGNATURE = Signature("codex", "gpt-5.5", "gAAAAABoriginal==")


def body(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"model": "gpt-x", "input": "hi"}
    data.update(fields)
    return data


def decode(**fields: Any) -> ResponsesRequest:
    return decode_responses(orjson.dumps(body(**fields)))


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def codex_request() -> dict[str, Any]:
    """A second turn as Codex CLI sends it (field for field, with shortened texts)."""
    return {
        "model": "gpt-5.5",
        "instructions": "You are Codex, a coding agent.",
        "input": [
            {"type": "message", "role": "developer",
             "content": [{"type": "input_text", "text": "<permissions instructions>sandbox</permissions instructions>"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "# AGENTS.md\nbe brief"}]},
            {"type": "message", "role": "user",
             "content": [{"type": "input_text", "text": "<environment_context>cwd</environment_context>"}]},
            user("fix the typo in README"),
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "**Looking around**"}], "content": None,
             "encrypted_content": encode_signature(CODEX_SIGNATURE)},
            {"type": "function_call", "name": "shell_command", "call_id": "call_ls",
             "arguments": '{"command":"cat README.md","workdir":"/repo"}'},
            {"type": "function_call_output", "call_id": "call_ls", "output": "Exit code: 0\nOutput:\nteh readme\n"},
            {"type": "reasoning", "summary": [], "content": None, "encrypted_content": "gAAAAABforeign=="},
            {"type": "custom_tool_call", "status": "completed", "call_id": "call_patch", "name": "apply_patch",
             "input": "*** Begin Patch\n*** Update File: README.md\n-teh\n+the\n*** End Patch\n"},
            {"type": "custom_tool_call_output", "call_id": "call_patch", "output": "Success. Updated README.md"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Fixed."}]},
            user("thanks, now run the tests"),
        ],
        "tools": [
            {"type": "function", "name": "shell_command", "description": "Runs a shell command.", "strict": False,
             "parameters": {"type": "object", "properties": {"command": {"type": "string"}, "workdir": {"type": "string"}},
                            "required": ["command"], "additionalProperties": False}},
            {"type": "function", "name": "update_plan", "description": "Updates the plan.", "strict": False,
             "parameters": {"type": "object", "properties": {"plan": {"type": "array", "items": {"type": "object"}}}}},
            {"type": "custom", "name": "apply_patch", "description": "Use apply_patch to edit files.",
             "format": {"type": "grammar", "syntax": "lark", "definition": APPLY_PATCH_GRAMMAR}},
            {"type": "web_search"},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199a6c2-7d1e-7a40-9f4e-1c2b3d4e5f60",
        "text": {"verbosity": "low"},
    }


# -- the Codex CLI shape -------------------------------------------------------------------------


def test_a_codex_cli_request_decodes_into_the_canonical_conversation() -> None:
    decoded = decode_responses(orjson.dumps(codex_request()))
    request = decoded.request
    assert request.model == "gpt-5.5"
    assert request.system == (
        TextBlock("You are Codex, a coding agent."),
        TextBlock("<permissions instructions>sandbox</permissions instructions>"),
    )
    assert request.messages == (
        Message("user", (
            TextBlock("# AGENTS.md\nbe brief"),
            TextBlock("<environment_context>cwd</environment_context>"),
            TextBlock("fix the typo in README"),
        )),
        Message("assistant", (
            ThinkingBlock("**Looking around**", CODEX_SIGNATURE),
            ToolUseBlock("call_ls", "shell_command", {"command": "cat README.md", "workdir": "/repo"}),
        )),
        Message("user", (ToolResultBlock("call_ls", (TextBlock("Exit code: 0\nOutput:\nteh readme\n"),)),)),
        Message("assistant", (
            ThinkingBlock("", Signature("", "", "gAAAAABforeign=="), redacted=True),
            ToolUseBlock("call_patch", "apply_patch",
                         {CUSTOM_INPUT: "*** Begin Patch\n*** Update File: README.md\n-teh\n+the\n*** End Patch\n"}),
        )),
        Message("user", (ToolResultBlock("call_patch", (TextBlock("Success. Updated README.md"),)),)),
        Message("assistant", (TextBlock("Fixed."),)),
        Message("user", (TextBlock("thanks, now run the tests"),)),
    )
    assert request.stream and request.effort == "medium" and request.thinking == Thinking("adaptive")
    assert request.tool_choice == ToolChoice("auto", disable_parallel_tool_use=True)
    assert request.session_id == "0199a6c2-7d1e-7a40-9f4e-1c2b3d4e5f60"
    assert request.max_tokens == DEFAULT_MAX_TOKENS
    assert decoded.custom_tools == frozenset({"apply_patch"})
    assert decoded.encrypted_reasoning and decoded.reasoning_summary and not decoded.store
    assert decoded.include == ("reasoning.encrypted_content",)


def test_codex_cli_tools_become_canonical_tools() -> None:
    tools = decode_responses(orjson.dumps(codex_request())).request.tools
    shell, plan, patch, search = tools
    assert shell == Tool("shell_command", "Runs a shell command.", codex_request()["tools"][0]["parameters"])
    assert plan.name == "update_plan"
    assert isinstance(patch, Tool) and patch.name == "apply_patch" and patch.description == "Use apply_patch to edit files."
    assert patch.input_schema["required"] == [CUSTOM_INPUT]
    field = patch.input_schema["properties"][CUSTOM_INPUT]
    assert field["type"] == "string" and APPLY_PATCH_GRAMMAR in field["description"] and "lark" in field["description"]
    assert search == WEB_SEARCH


def test_the_response_echoes_what_the_request_set() -> None:
    echo = decode_responses(orjson.dumps(codex_request())).echo
    assert echo["tools"] == codex_request()["tools"]
    assert echo["tool_choice"] == "auto" and echo["parallel_tool_calls"] is False
    assert echo["instructions"] == "You are Codex, a coding agent."
    assert echo["reasoning"] == {"effort": "medium", "summary": "auto"}
    assert echo["text"] == {"format": {"type": "text"}, "verbosity": "low"}
    assert echo["prompt_cache_key"] == "0199a6c2-7d1e-7a40-9f4e-1c2b3d4e5f60"


def captured() -> list[Path]:
    if not FIXTURES.is_dir():
        return []
    return sorted(path for path in FIXTURES.glob("*.json") if path.name != "index.json")


@pytest.mark.skipif(not captured(), reason="no captured Codex CLI requests in tests/fixtures/codex-cli yet")
@pytest.mark.parametrize("path", captured(), ids=lambda p: p.name)
def test_captured_codex_cli_requests_decode(path: Path) -> None:
    data = orjson.loads(path.read_bytes())
    decoded = decode_responses(path.read_bytes())
    request = decoded.request
    assert request.model == data["model"] and request.stream
    assert request.session_id == data["prompt_cache_key"]
    assert decoded.encrypted_reasoning and not decoded.store
    # Codex CLI's leading developer messages are the system prompt; the user turn follows.
    assert request.system and request.messages[0].role == "user"
    developer = [part["text"] for item in data["input"] if item.get("role") == "developer" for part in item["content"]]
    assert [block.text for block in request.system] == developer
    tools = data["tools"]
    custom = {tool["name"] for tool in tools if tool["type"] == "custom"}
    assert decoded.custom_tools == custom
    namespaced = {f"{tool['name']}__{inner['name']}" for tool in tools if tool["type"] == "namespace" for inner in tool["tools"]}
    assert set(decoded.namespaced) == namespaced
    functions = {tool["name"] for tool in tools if tool["type"] in ("function", "custom")}
    assert {tool.name for tool in request.tools} == functions | namespaced | {"web_search"}
    assert set(decoded.dropped_tools) == {tool["type"] for tool in tools} - {"function", "custom", "namespace", "web_search"}
    calls = [item for item in data["input"] if item["type"] == "function_call"]
    used = [block for message in request.messages for block in message.content if isinstance(block, ToolUseBlock)]
    assert [(b.id, b.name, b.input) for b in used] == [(c["call_id"], c["name"], orjson.loads(c["arguments"])) for c in calls]
    outputs = [item["call_id"] for item in data["input"] if item["type"] == "function_call_output"]
    results = [block for message in request.messages for block in message.content if isinstance(block, ToolResultBlock)]
    assert [r.tool_use_id for r in results] == outputs
    reasoning = [item for item in data["input"] if item["type"] == "reasoning"]
    thinking = [block for message in request.messages for block in message.content if isinstance(block, ThinkingBlock)]
    assert [(t.thinking, t.signature) for t in thinking] == [
        (item["summary"][0]["text"], Signature("", "", item["encrypted_content"])) for item in reasoning
    ]


# -- fields ----------------------------------------------------------------------------------


def test_a_minimal_request_decodes_with_defaults() -> None:
    decoded = decode()
    request = decoded.request
    assert request.messages == (Message("user", (TextBlock("hi"),)),)
    assert request.max_tokens == DEFAULT_MAX_TOKENS and request.system == () and request.tools == ()
    assert request.tool_choice is None and request.thinking is None and not request.stream
    assert not decoded.encrypted_reasoning and not decoded.reasoning_summary and decoded.store
    assert decoded.custom_tools == frozenset()


@pytest.mark.parametrize(
    ("fields", "attribute", "expected"),
    [
        ({"max_output_tokens": 100}, "max_tokens", 100),
        ({"temperature": 0.5}, "temperature", 0.5),
        ({"top_p": 1}, "top_p", 1.0),
        ({"stream": True}, "stream", True),
        ({"instructions": "be terse"}, "system", (TextBlock("be terse"),)),
        ({"instructions": ""}, "system", ()),
        ({"user": "u-1"}, "metadata", {"user_id": "u-1"}),
        ({"reasoning": {"effort": "high"}}, "effort", "high"),
        ({"reasoning": {"effort": "high"}}, "thinking", Thinking("adaptive")),
        ({"reasoning": {"effort": "none"}}, "thinking", Thinking("disabled")),
        ({"reasoning": {"effort": "none"}}, "effort", None),
        ({"reasoning": {"summary": "auto"}}, "thinking", None),
        ({"text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}},
         "output_schema", {"type": "object"}),
        ({"text": {"format": {"type": "json_object"}}}, "output_schema", None),
        ({"tool_choice": "required"}, "tool_choice", ToolChoice("any")),
        ({"tool_choice": "none"}, "tool_choice", ToolChoice("none")),
        ({"tool_choice": {"type": "function", "name": "f"}}, "tool_choice", ToolChoice("tool", "f")),
        ({"tool_choice": {"type": "custom", "name": "apply_patch"}}, "tool_choice", ToolChoice("tool", "apply_patch")),
        ({"tool_choice": {"type": "web_search"}}, "tool_choice", ToolChoice("tool", "web_search")),
        ({"parallel_tool_calls": True}, "tool_choice", None),
        ({"parallel_tool_calls": False, "tool_choice": "required"}, "tool_choice", ToolChoice("any", None, True)),
        ({"prompt_cache_key": "conv-1"}, "session_id", "conv-1"),
    ],
)
def test_top_level_fields(fields: dict[str, Any], attribute: str, expected: Any) -> None:
    assert getattr(decode(**fields).request, attribute) == expected


@pytest.mark.parametrize(
    ("fields", "shown", "encrypted"),
    [
        ({"reasoning": {"effort": "low", "summary": "detailed"}}, True, False),
        ({"reasoning": {"effort": "low", "summary": "none"}}, False, False),
        ({"reasoning": {"effort": "low", "generate_summary": "concise"}}, True, False),
        ({"include": ["reasoning.encrypted_content", "message.output_text.logprobs"]}, False, True),
    ],
)
def test_reasoning_summary_and_include_decide_what_reasoning_shows(
    fields: dict[str, Any], shown: bool, encrypted: bool
) -> None:
    decoded = decode(**fields)
    assert (decoded.reasoning_summary, decoded.encrypted_reasoning) == (shown, encrypted)


def test_the_caller_session_id_wins_over_the_prompt_cache_key() -> None:
    data = orjson.dumps(body(prompt_cache_key="conv-1"))
    assert decode_responses(data, session_id="header-session").request.session_id == "header-session"
    assert decode_responses(orjson.dumps(body())).request.session_id is None


def test_ignored_fields_change_nothing() -> None:
    plain = decode().request
    ignored = decode(service_tier="priority", truncation="auto", stream_options={"include_obfuscation": False},
                     store=False, metadata={"k": "v"}, client_metadata={"x": "y"}, prompt_cache_retention="24h").request
    assert ignored == plain


# -- input items -------------------------------------------------------------------------------


def test_items_without_a_type_are_easy_input_messages() -> None:
    request = decode(input=[{"role": "developer", "content": "rules"}, {"role": "user", "content": "hello"},
                            {"role": "assistant", "content": "hi there"}, {"role": "user", "content": "again"}]).request
    assert request.system == (TextBlock("rules"),)
    assert request.messages == (
        Message("user", (TextBlock("hello"),)),
        Message("assistant", (TextBlock("hi there"),)),
        Message("user", (TextBlock("again"),)),
    )


def test_a_later_system_message_stays_in_place_as_a_system_turn() -> None:
    request = decode(instructions="top", input=[user("a"), {"role": "system", "content": "mid"}, user("b")]).request
    assert request.system == (TextBlock("top"),)
    assert [m.role for m in request.messages] == ["user", "system", "user"]
    assert request.messages[1].content == (TextBlock("mid"),)


def test_user_content_parts_become_text_images_and_files() -> None:
    parts = [
        {"type": "input_text", "text": "look"},
        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}", "detail": "auto"},
        {"type": "input_image", "image_url": "https://example.com/cat.png"},
        {"type": "input_file", "file_data": f"data:application/pdf;base64,{PDF}", "filename": "a.pdf"},
        {"type": "input_file", "file_url": "https://example.com/b.pdf"},
        {"type": "input_text", "text": ""},
    ]
    (message,) = decode(input=[{"type": "message", "role": "user", "content": parts}]).request.messages
    assert message.content == (
        TextBlock("look"),
        ImageBlock(media_type="image/png", data=PNG),
        ImageBlock(url="https://example.com/cat.png"),
        DocumentBlock(media_type="application/pdf", data=PDF, title="a.pdf"),
        DocumentBlock(url="https://example.com/b.pdf"),
    )


def test_assistant_parts_keep_text_and_refusals() -> None:
    content = [{"type": "output_text", "text": "one", "annotations": []}, {"type": "refusal", "refusal": "no"}]
    request = decode(input=[user("q"), {"type": "message", "role": "assistant", "content": content}]).request
    assert request.messages[1] == Message("assistant", (TextBlock("one"), TextBlock("no")))


def test_parallel_calls_share_one_assistant_turn_and_their_outputs_one_user_turn() -> None:
    items = [
        user("weather?"),
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call", "call_id": "c2", "name": "weather", "arguments": '{"city":"Rome"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        {"type": "function_call_output", "call_id": "c2",
         "output": [{"type": "input_text", "text": "rain"}, {"type": "input_image", "image_url": f"data:image/png;base64,{PNG}"}]},
        user("and tomorrow?"),
    ]
    messages = decode(input=items).request.messages
    assert messages == (
        Message("user", (TextBlock("weather?"),)),
        Message("assistant", (ToolUseBlock("c1", "weather", {"city": "Paris"}), ToolUseBlock("c2", "weather", {"city": "Rome"}))),
        Message("user", (
            ToolResultBlock("c1", (TextBlock("sunny"),)),
            ToolResultBlock("c2", (TextBlock("rain"), ImageBlock(media_type="image/png", data=PNG))),
            TextBlock("and tomorrow?"),
        )),
    )


@pytest.mark.parametrize(("arguments", "expected"), [
    ('{"a": 1', {RAW_ARGUMENTS: '{"a": 1'}),
    ("[1, 2]", {RAW_ARGUMENTS: "[1, 2]"}),
    ("", {}),
])
def test_unparseable_call_arguments_are_kept_as_text(arguments: str, expected: dict[str, Any]) -> None:
    items = [user("go"), {"type": "function_call", "call_id": "c", "name": "f", "arguments": arguments}]
    assert decode(input=items).request.messages[1].content == (ToolUseBlock("c", "f", expected),)


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"type": "reasoning", "summary": [{"type": "summary_text", "text": "a"}, {"type": "summary_text", "text": "b"}]},
         ThinkingBlock("a\n\nb")),
        ({"type": "reasoning", "summary": [{"type": "summary_text", "text": "short"}],
          "content": [{"type": "reasoning_text", "text": "raw thoughts"}]}, ThinkingBlock("raw thoughts")),
        ({"type": "reasoning", "summary": [], "encrypted_content": encode_signature(CODEX_SIGNATURE)},
         ThinkingBlock("", CODEX_SIGNATURE, redacted=True)),
        ({"type": "reasoning", "summary": [{"type": "summary_text", "text": "t"}],
          "encrypted_content": encode_signature(Signature("kiro", "m", "nonce", router=True))},
         ThinkingBlock("t", Signature("kiro", "m", "nonce", router=True))),
    ],
)
def test_reasoning_items_become_thinking_blocks(item: dict[str, Any], expected: ThinkingBlock) -> None:
    assert decode(input=[user("q"), item]).request.messages[1].content == (expected,)


def test_empty_reasoning_and_dropped_items_leave_nothing() -> None:
    items = [user("q"), {"type": "reasoning", "summary": [], "encrypted_content": None},
             {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "x"}},
             {"type": "mcp_list_tools", "id": "l", "server_label": "s", "tools": []},
             {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "found"}]}]
    assert decode(input=items).request.messages == (
        Message("user", (TextBlock("q"),)), Message("assistant", (TextBlock("found"),))
    )


# -- tools ---------------------------------------------------------------------------------------


def test_function_tools_without_parameters_take_an_empty_object() -> None:
    (tool,) = decode(tools=[{"type": "function", "name": "now"}]).request.tools
    assert tool == Tool("now", "", {"type": "object", "properties": {}})


def test_free_text_custom_tools_take_one_string() -> None:
    decoded = decode(tools=[{"type": "custom", "name": "note", "description": "Write a note."}])
    (tool,) = decoded.request.tools
    assert isinstance(tool, Tool) and tool.input_schema["properties"][CUSTOM_INPUT]["type"] == "string"
    assert decoded.custom_tools == frozenset({"note"})


def test_web_search_settings_carry_over_in_the_canonical_terms() -> None:
    spec = {"type": "web_search_preview", "filters": {"allowed_domains": ["a.org"]},
            "user_location": {"type": "approximate", "country": "FR"}}
    (tool,) = decode(tools=[spec]).request.tools
    assert tool == ServerTool(WEB_SEARCH.type, "web_search",
                              {"allowed_domains": ["a.org"], "user_location": {"type": "approximate", "country": "FR"}})


def test_hosted_tools_the_router_cannot_run_are_dropped_and_named() -> None:
    hosted = [{"type": "file_search", "vector_store_ids": ["vs"]}, {"type": "local_shell"},
              {"type": "code_interpreter", "container": {"type": "auto"}}, {"type": "image_generation"}]
    decoded = decode(tools=[{"type": "function", "name": "f"}, *hosted])
    assert [tool.name for tool in decoded.request.tools] == ["f"]
    assert decoded.dropped_tools == ("file_search", "local_shell", "code_interpreter", "image_generation")
    assert decoded.echo["tools"][1:] == hosted


@pytest.mark.parametrize("kind", ["file_search", "local_shell", "image_generation", "code_interpreter", "mcp"])
def test_forcing_a_hosted_tool_the_router_cannot_run_is_refused(kind: str) -> None:
    with pytest.raises(InvalidParam) as caught:
        decode(tools=[{"type": kind}], tool_choice={"type": kind})
    assert caught.value.param == "tool_choice.type" and kind in str(caught.value)


def test_allowed_tools_keep_only_the_listed_tools() -> None:
    tools = [{"type": "function", "name": "a"}, {"type": "function", "name": "b"}, {"type": "custom", "name": "c"}]
    allowed = {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "a"}, {"type": "custom", "name": "c"}]}
    request = decode(tools=tools, tool_choice=allowed).request
    assert [tool.name for tool in request.tools] == ["a", "c"] and request.tool_choice == ToolChoice("auto")
    one = {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "b"}]}
    request = decode(tools=tools, tool_choice=one).request
    assert [tool.name for tool in request.tools] == ["b"] and request.tool_choice == ToolChoice("tool", "b")


def test_namespaced_tools_get_joined_names_and_their_calls_decode_to_them() -> None:
    tools = [{"type": "namespace", "name": "agents", "description": "Sub-agents.",
              "tools": [{"type": "function", "name": "spawn", "parameters": {"type": "object"}},
                        {"type": "custom", "name": "script"}]}]
    items = [user("go"), {"type": "function_call", "call_id": "c1", "namespace": "agents", "name": "spawn", "arguments": "{}"},
             {"type": "custom_tool_call", "call_id": "c2", "namespace": "agents", "name": "script", "input": "x"}]
    decoded = decode(tools=tools, input=items)
    assert [tool.name for tool in decoded.request.tools] == ["agents__spawn", "agents__script"]
    assert decoded.namespaced == {"agents__spawn": ("agents", "spawn"), "agents__script": ("agents", "script")}
    assert decoded.custom_tools == frozenset({"agents__script"})
    assert decoded.request.messages[1].content == (
        ToolUseBlock("c1", "agents__spawn", {}), ToolUseBlock("c2", "agents__script", {CUSTOM_INPUT: "x"})
    )



NAMESPACED = [{"type": "function", "name": "exec", "parameters": {"type": "object"}},
              {"type": "namespace", "name": "agents", "description": "Sub-agents.",
               "tools": [{"type": "function", "name": "spawn", "parameters": {"type": "object"}}]}]


@pytest.mark.parametrize("choice", [{"type": "function", "name": "spawn", "namespace": "agents"},
                                    {"type": "function", "name": "spawn"}])
def test_a_forced_namespaced_tool_is_forced_by_its_joined_name(choice: dict[str, Any]) -> None:
    request = decode(tools=NAMESPACED, tool_choice=choice).request
    assert request.tool_choice == ToolChoice("tool", "agents__spawn")
    assert "agents__spawn" in {tool.name for tool in request.tools}



def test_a_declared_tool_wins_over_a_namespaced_one_of_the_same_name() -> None:
    tools = [*NAMESPACED, {"type": "function", "name": "spawn", "parameters": {"type": "object"}}]
    assert decode(tools=tools, tool_choice={"type": "function", "name": "spawn"}).request.tool_choice == ToolChoice(
        "tool", "spawn")

def test_allowed_tools_keep_a_namespaced_tool() -> None:
    allowed = {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "spawn"}]}
    assert [tool.name for tool in decode(tools=NAMESPACED, tool_choice=allowed).request.tools] == ["agents__spawn"]


def test_allowed_tools_that_leave_nothing_to_call_are_refused() -> None:
    allowed = {"type": "allowed_tools", "mode": "required", "tools": [{"type": "file_search"}]}
    with pytest.raises(InvalidParam) as refused:
        decode(tools=[*NAMESPACED, {"type": "file_search", "vector_store_ids": ["v"]}], tool_choice=allowed)
    assert refused.value.param == "tool_choice.tools"

# -- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": None}, "model"),
        ({"input": None}, "input"),
        ({"input": []}, "input"),
        ({"input": ""}, "input"),
        ({"previous_response_id": "resp_123"}, "previous_response_id"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"prompt": {"id": "pmpt_1"}}, "prompt"),
        ({"background": True}, "background"),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"reasoning": {"effort": "extreme"}}, "reasoning.effort"),
        ({"reasoning": {"summary": "verbose"}}, "reasoning.summary"),
        ({"text": {"format": {"type": "yaml"}}}, "text.format.type"),
        ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"tool_choice": {"type": "function"}}, "tool_choice.name"),
        ({"parallel_tool_calls": "no"}, "parallel_tool_calls"),
        ({"include": "reasoning.encrypted_content"}, "include"),
        ({"tools": [{"name": "f"}]}, "tools[0].type"),
        ({"tools": [{"type": "function"}]}, "tools[0].name"),
        ({"tools": [{"type": "custom", "name": "c", "format": {"type": "regexish"}}]}, "tools[0].format.type"),
        ({"tools": [{"type": "namespace", "name": "n", "tools": [{"type": "web_search"}]}]}, "tools[0].tools[0].type"),
        ({"input": [{"content": "no role or type"}]}, "input[0].type"),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"input": [{"type": "local_shell_call", "call_id": "c", "action": {}}]}, "input[0].type"),
        ({"input": [{"type": "computer_call_output", "call_id": "c"}]}, "input[0].type"),
        ({"input": [{"role": "user", "content": [{"type": "text", "text": "x"}]}]}, "input[0].content[0].type"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]},
         "input[0].content[0].file_id"),
        ({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "ftp://x"}]}]},
         "input[0].content[0].image_url"),
        ({"input": [{"role": "user", "content": [{"type": "input_file", "file_data": "data:application/pdf,raw"}]}]},
         "input[0].content[0].file_data"),
        ({"input": [{"role": "developer", "content": [{"type": "input_image", "image_url": "https://x"}]}]},
         "input[0].content[0].type"),
        ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id"),
        ({"input": [{"type": "function_call_output", "call_id": "c"}]}, "input[0].output"),
        ({"input": [{"type": "reasoning", "summary": [{"type": "summary_text", "text": 1}]}]}, "input[0].summary[0].text"),
    ],
)
def test_invalid_requests_name_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidParam) as caught:
        decode(**fields)
    assert caught.value.param == param
    assert isinstance(caught.value, RequestError)


def test_previous_response_id_is_refused_with_a_reason() -> None:
    with pytest.raises(InvalidParam, match="keeps no stored responses"):
        decode(previous_response_id="resp_1")


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1]"])
def test_bodies_that_are_not_json_objects_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidParam) as caught:
        decode_responses(raw)
    assert caught.value.param is None


def test_too_deep_bodies_are_refused_naming_where() -> None:
    deep: Any = "x"
    for _ in range(200):
        deep = [deep]
    with pytest.raises(InvalidParam, match="nested more than") as caught:
        decode(metadata={"k": deep})
    assert caught.value.param is not None and caught.value.param.startswith("metadata")
