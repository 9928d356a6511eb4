"""One conversation, two providers: opus and sonnet on Codex, haiku on OpenRouter, behind one `router serve`.

Both fakes enforce their backend's rules: Codex rejects reasoning blobs it did not mint (and
function-call outputs without their call), the OpenRouter fake rejects Anthropic-only fields
and thinking signatures it did not mint. The conversation alternates between them, with a
tool round trip crossing the boundary, and every turn must be accepted; on top of that, each
backend must only ever see its own opaque reasoning, and get it back when the conversation
returns to it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import pytest

from router.anthropic.signatures import decode_signature
from tests.providers.codex.fake_backend import (
    ENCRYPTED_PREFIX,
    FakeCodex,
    call_item,
    message_item,
    reasoning_item,
)
from tests.providers.openrouter.fake_openrouter import API_KEY, FakeOpenRouter
from tests.support.live import router_env, router_serving, serve_asgi

OPUS = "claude-opus-4-8"
SONNET = "claude-sonnet-5"
HAIKU = "claude-haiku-4-5-20251001"
THINK = {"type": "enabled", "budget_tokens": 4096}
BASH = {"name": "Bash", "description": "Run a shell command",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}


def codex_brain() -> Any:
    """Codex's answers: a call when the last user words say "run", else a reply; reasoning every time."""
    calls = itertools.count(1)

    def brain(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        last = items[-1]
        if last.get("type") == "function_call_output":
            return [reasoning_item("Reading", "The tool finished."), message_item(f"Codex saw: {last['output']}")]
        said = " ".join(part.get("text", "") for part in last.get("content", []) if isinstance(part, dict))
        if "run" in said.lower():
            return [reasoning_item("Planning", "I should run the command."),
                    call_item(f"call_cx_{next(calls)}", "Bash", {"command": "echo cross-$((6*7))"})]
        return [reasoning_item("Answering", f"Answering turn {len(items)}."), message_item("codex again")]

    return brain


def write_auth(path: Path, tokens: dict[str, str]) -> None:
    document = {"auth_mode": "chatgpt", "OPENAI_API_KEY": None, "tokens": tokens, "last_refresh": "2026-11-01T00:00:00Z"}
    path.write_text(json.dumps(document, indent=2))
    path.chmod(0o600)


@dataclass
class Stack:
    codex: FakeCodex
    openrouter: FakeOpenRouter
    sdk: Any  # anthropic.Anthropic; its param TypedDicts are too narrow for test JSON


@pytest.fixture
def stack(tmp_path: Path, upstream_transport: str) -> Iterator[Stack]:
    codex, openrouter = FakeCodex(brain=codex_brain()), FakeOpenRouter()
    auth_file = tmp_path / "codex-home" / "auth.json"
    auth_file.parent.mkdir()
    write_auth(auth_file, dict(codex.tokens))
    with serve_asgi(codex.app()) as codex_url, serve_asgi(openrouter.app()) as openrouter_url:
        config = tmp_path / "config.yaml"
        config.write_text(f"""
server: {{retries: 0, upstream_transport: {upstream_transport}}}
providers:
  codex:
    base_url: {codex_url}
    token_url: {codex_url}/oauth/token
    auth_file: {auth_file}
  openrouter:
    api_key: ${{OPENROUTER_API_KEY}}
    base_url: {openrouter_url}
routes:
  - when: {{tier: opus}}
    use: codex/gpt-5.5
    effort: high
  - when: {{tier: sonnet}}
    use: codex/gpt-5.5
    effort: medium
  - when: {{tier: haiku}}
    use: openrouter/anthropic/claude-haiku-4.5
""")
        env = router_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg"), XDG_STATE_HOME=str(tmp_path / "st"),
                         OPENROUTER_API_KEY=API_KEY)
        with router_serving(config, tmp_path, env) as serving:
            yield Stack(codex, openrouter, anthropic.Anthropic(base_url=serving.url, api_key="sk-unused", max_retries=0))


def turn(stack: Stack, model: str, messages: list[dict[str, Any]]) -> Any:
    with stack.sdk.messages.stream(model=model, max_tokens=16000, messages=messages, thinking=THINK,
                                   tools=[BASH]) as stream:
        return stream.get_final_message()


def assistant(message: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in message.content]}


def signed_by(message: Any) -> list[tuple[str, str]]:
    return [(s.provider, s.model) for s in (decode_signature(b.signature) for b in message.content if b.type == "thinking")]


def test_a_conversation_alternating_between_codex_and_openrouter_stays_valid(stack: Stack) -> None:
    # 1. opus on Codex: thinks, then asks for a tool
    history: list[dict[str, Any]] = [{"role": "user", "content": "please run the marker command"}]
    first = turn(stack, OPUS, history)
    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    assert signed_by(first) == [("codex", "gpt-5.5")]
    codex_blob = decode_signature(first.content[0].signature).value
    assert codex_blob.startswith(ENCRYPTED_PREFIX)
    call = first.content[1]
    assert call.type == "tool_use"

    # 2. the tool's result goes to haiku on OpenRouter, with the whole history
    history += [assistant(first),
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "cross-42\n"}]}]
    second = turn(stack, HAIKU, history)
    assert second.content[-1].type == "text" and second.content[-1].text == "The command printed: cross-42"
    assert signed_by(second) == [("openrouter", "anthropic/claude-haiku-4.5")]
    sent = stack.openrouter.requests[-1]
    assert ENCRYPTED_PREFIX not in json.dumps(sent) and "swy1." not in json.dumps(sent)  # Codex's reasoning stayed home
    assert not any("reasoning_details" in m for m in sent["messages"])
    assert [m["role"] for m in sent["messages"][-2:]] == ["assistant", "tool"]
    assert sent["messages"][-1]["tool_call_id"] == sent["messages"][-2]["tool_calls"][0]["id"]
    or_details = json.loads(decode_signature(second.content[0].signature).value)

    # 3. back to opus on Codex: its own reasoning is replayed, OpenRouter's is not sent
    history += [assistant(second), {"role": "user", "content": "what did it print, in your words?"}]
    third = turn(stack, OPUS, history)
    assert [b.type for b in third.content] == ["thinking", "text"] and third.content[1].text == "codex again"
    items = stack.codex.requests[-1]["input"]
    reasoning = [item["encrypted_content"] for item in items if item.get("type") == "reasoning"]
    assert codex_blob in reasoning  # Codex's chain of thought from turn 1 came back
    assert all(blob.startswith(ENCRYPTED_PREFIX) for blob in reasoning)
    codex_text = json.dumps(items)
    assert "reasoning_details" not in codex_text and "swy1." not in codex_text
    assert or_details[0]["signature"] not in codex_text  # OpenRouter's signature never reaches Codex
    assert [item["type"] for item in items if item.get("type", "").startswith("function_call")] == \
        ["function_call", "function_call_output"]

    # 4. sonnet (also Codex, same upstream model): another tool round trip, Codex on both sides
    history += [assistant(third), {"role": "user", "content": "run it once more"}]
    fourth = turn(stack, SONNET, history)
    again = fourth.content[-1]
    assert again.type == "tool_use" and again.id != call.id
    history += [assistant(fourth),
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": again.id, "content": "cross-42 again"}]}]
    fifth = turn(stack, SONNET, history)
    assert fifth.content[-1].text == "Codex saw: cross-42 again"
    blobs = [item["encrypted_content"] for item in stack.codex.requests[-1]["input"] if item.get("type") == "reasoning"]
    assert codex_blob in blobs and len(blobs) >= 3  # turns 1, 3 and 4 all replayed

    # 5. and haiku on OpenRouter once more: its own reasoning_details come back unchanged, Codex's do not
    history += [assistant(fifth), {"role": "user", "content": "thanks, that is all"}]
    sixth = turn(stack, HAIKU, history)
    assert sixth.content[-1].type == "text"
    sent = stack.openrouter.requests[-1]
    assert ENCRYPTED_PREFIX not in json.dumps(sent) and "swy1." not in json.dumps(sent)
    carried = [m["reasoning_details"] for m in sent["messages"] if "reasoning_details" in m]
    assert carried == [or_details]
    assert stack.openrouter.replays and all(replay.ok for replay in stack.openrouter.replays)
    assert stack.openrouter.rejections == []
    assert len(stack.codex.requests) == 4 and len(stack.openrouter.requests) == 2  # no retries hid a rejection
