"""Captured Claude Code requests (tests/fixtures/claude-code/): decoded, re-encoded, and served.

Each fixture is a real request body Claude Code sent, with long prose replaced by placeholders.
They must decode into a faithful canonical `Request`, re-encode (router/anthropic/payload.py) to
the same JSON up to a small, explicit normalisation, and go through the app to the right route.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from router.anthropic.decode import BILLING_HEADER, decode_request
from router.anthropic.payload import request_payload
from router.anthropic.signatures import decode_signature, encode_signature
from router.conversation import (
    CacheControl,
    Message,
    Request,
    Signature,
    TextBlock,
    Thinking,
    ThinkingBlock,
    Tool,
    ToolResultBlock,
    drop_foreign_signatures,
)
from tests.conftest import Harness, claude_code_requests
from tests.support.sse import checked

FIXTURES = claude_code_requests()
IDS = [f"{path.parent.name}/{path.name}" for path in FIXTURES]

NOT_FORWARDED = ("stream", "context_management")
"""Top-level fields `request_payload` leaves out: the transport decides `stream`; context edits are applied."""

TIER_ROUTES = {
    "claude-opus-4-8": ("scripted", "big-model"),
    "claude-sonnet-5": ("scripted", "mid-model"),
    "claude-haiku-4-5-20251001": ("other", "small-model"),
}
SKIPPED_HEADERS = {"content-length", "host", "connection", "accept-encoding"}


@cache
def original(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def fresh(path: Path) -> dict[str, Any]:
    """A private deep copy of a fixture, safe to mutate."""
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def captured_headers(path: Path) -> dict[str, str]:
    """The headers Claude Code sent with this body, from the variant's index.json."""
    index = json.loads((path.parent / "index.json").read_text())
    (entry,) = [item for item in index if item["file"] == path.name]
    assert (entry["method"], entry["path"], entry["query"]) == ("POST", "/v1/messages", {"beta": "true"})
    return {k: v for k, v in entry["headers"].items() if k not in SKIPPED_HEADERS}


def signed(data: dict[str, Any]) -> bool:
    """Whether the fixture carries reasoning signatures (thinking or redacted_thinking from Anthropic)."""
    return any(
        isinstance(m["content"], list) and any(b.get("signature") or b["type"] == "redacted_thinking" for b in m["content"])
        for m in data["messages"]
    )


def test_fixtures_are_present_and_cover_every_tier() -> None:
    assert len(FIXTURES) == 11
    assert {original(p)["model"] for p in FIXTURES} == set(TIER_ROUTES)
    assert any(signed(original(p)) for p in FIXTURES)


# ------------------------------------------------------------------------------------- decode


def without_billing(system: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Claude Code's system blocks less its billing line (a block of its own in every fixture)."""
    return [block for block in system if not block["text"].startswith(BILLING_HEADER)]


def text_blocks(value: str | list[dict[str, Any]]) -> tuple[TextBlock, ...]:
    if isinstance(value, str):
        return (TextBlock(value),) if value else ()
    return tuple(
        TextBlock(b["text"], CacheControl(**b["cache_control"]) if "cache_control" in b else None) for b in value
    )


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_fixture_decodes_faithfully(path: Path) -> None:
    data = original(path)
    request = decode_request(path.read_bytes(), session_id="sess", betas=("b-1",))

    assert request.model == data["model"]
    assert request.max_tokens == data["max_tokens"]
    assert request.stream is data["stream"] is True
    assert (request.session_id, request.betas) == ("sess", ("b-1",))
    assert request.metadata == data["metadata"]
    assert request.temperature == data.get("temperature")

    assert len(data["system"]) == 3 and data["system"][0]["text"].startswith(BILLING_HEADER)
    assert request.system == text_blocks(without_billing(data["system"])), "the billing line never reaches a provider"
    assert sum(block.cache_control is not None for block in request.system) == sum(
        "cache_control" in block for block in data["system"])

    assert len(request.tools) == len(data["tools"])
    for tool, raw in zip(request.tools, data["tools"], strict=True):
        assert isinstance(tool, Tool)
        assert (tool.name, tool.description, tool.input_schema) == (raw["name"], raw["description"], raw["input_schema"])

    thinking = data["thinking"]
    assert request.thinking == Thinking(thinking["type"], thinking.get("budget_tokens"))
    output = data.get("output_config", {})
    assert request.effort == output.get("effort")
    assert request.output_schema == output.get("format", {}).get("schema")

    # context_management keeps all thinking in every fixture, so every message survives whole and in place
    assert [m.role for m in request.messages] == [m["role"] for m in data["messages"]]
    for message, raw in zip(request.messages, data["messages"], strict=True):
        content = raw["content"]
        assert len(message.content) == (1 if isinstance(content, str) else len(content))
        if raw["role"] == "system":
            assert message == Message("system", text_blocks(content))


@pytest.mark.parametrize("path", [p for p in FIXTURES if signed(original(p))],
                         ids=[i for i, p in zip(IDS, FIXTURES) if signed(original(p))])
def test_fixture_tool_turn_decodes_thinking_tool_use_and_result(path: Path) -> None:
    data = original(path)
    request = decode_request(path.read_bytes())
    assistant = next(m for m in request.messages if m.role == "assistant")
    raw_thinking, raw_call = next(m for m in data["messages"] if m["role"] == "assistant")["content"]
    thinking, call = assistant.content
    # Claude Code's signature came from Anthropic: unknown origin, kept verbatim
    assert thinking == ThinkingBlock(raw_thinking["thinking"], Signature("", "", raw_thinking["signature"]))
    assert (call.id, call.name, call.input) == (raw_call["id"], raw_call["name"], raw_call["input"])  # type: ignore[union-attr]
    result = request.messages[-1].content[0]
    assert result == ToolResultBlock(raw_call["id"], (TextBlock("conformance-ok"),), is_error=False,
                                     cache_control=CacheControl())


# ------------------------------------------------------------------------------------- re-encode


def normal_block(block: dict[str, Any]) -> dict[str, Any]:
    block = dict(block)
    if block["type"] == "tool_result":
        if block.get("is_error") is False:  # the default is omitted
            del block["is_error"]
        content = block.get("content", [])
        block["content"] = [{"type": "text", "text": content}] if isinstance(content, str) and content else (
            [] if content == "" else [normal_block(part) for part in content])
    return block


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """The payload the router must produce for a Claude Code body, rule by rule.

    - `stream` and `context_management` are dropped (the transport decides; the edits are applied);
    - an empty `tools` list is omitted (the title-generation request sends `"tools": []`);
    - string `system` and string message content become one text block; Claude Code's billing
      line in `system` is dropped (it means nothing to a backend);
    - tool_result: `is_error: false` is omitted, string content becomes one text block;
    - signatures the router did not mint (all of the fixtures') go back exactly as they came.
    Everything else must come back exactly as sent.
    """
    expected = {key: value for key, value in data.items() if key not in NOT_FORWARDED}
    if expected.get("tools") == []:
        del expected["tools"]
    if isinstance(expected.get("system"), str):
        expected["system"] = [{"type": "text", "text": expected["system"]}]
    if "system" in expected:
        expected["system"] = without_billing(expected["system"])
    expected["messages"] = [
        {"role": m["role"], "content": [{"type": "text", "text": m["content"]}] if isinstance(m["content"], str)
         else [normal_block(block) for block in m["content"]]}
        for m in data["messages"]
    ]
    return expected


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_fixture_reencodes_to_the_same_json(path: Path) -> None:
    data = fresh(path)
    payload = request_payload(decode_request(path.read_bytes()))
    assert payload == normalise(data)
    for message in decode_request(path.read_bytes()).messages:  # decoded as of unknown origin
        for block in message.content:
            if isinstance(block, ThinkingBlock) and block.signature is not None:
                assert block.signature.provider == "" and decode_signature(block.signature.value) == block.signature


def strip_signatures(request: Request) -> Request:
    """The request with every signature removed (to compare everything else)."""
    return request.evolve(messages=tuple(
        Message(m.role, tuple(ThinkingBlock(b.thinking, None, b.redacted) if isinstance(b, ThinkingBlock) else b
                              for b in m.content))
        for m in request.messages
    ))


def reencoded(path: Path) -> tuple[Request, Request]:
    decoded = decode_request(path.read_bytes())
    data = request_payload(decoded)
    data["stream"] = True  # the payload leaves `stream` to the transport; the fixture asked for it
    return decoded, decode_request(json.dumps(data).encode())


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_decode_of_payload_gives_back_the_request_except_signatures(path: Path) -> None:
    decoded, again = reencoded(path)
    assert strip_signatures(again) == strip_signatures(decoded)


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
def test_decode_of_payload_gives_back_the_request(path: Path) -> None:
    decoded, again = reencoded(path)
    assert again == decoded


def test_foreign_signature_survives_encode_then_decode() -> None:
    foreign = Signature("", "", "EqQBCkYIBxgCKkB")
    assert decode_signature(encode_signature(foreign)) == foreign


# ------------------------------------------------------------------------------------- through the app


@pytest.mark.parametrize("path", FIXTURES, ids=IDS)
async def test_fixture_is_served_and_routed_by_tier(harness: Harness, path: Path) -> None:
    data = original(path)
    headers = captured_headers(path)
    response = await harness.http.post("/v1/messages?beta=true", content=path.read_bytes(), headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = checked(response.text)
    assert events[-1][0] == "message_stop"
    assert events[0][1]["message"]["model"] == data["model"]

    provider, model = TIER_ROUTES[data["model"]]
    backend, idle = (harness.scripted, harness.other) if provider == "scripted" else (harness.other, harness.scripted)
    assert idle.calls == []
    (request, route), = backend.calls
    assert (route.provider, route.model) == (provider, model)

    betas = tuple(b for b in headers["anthropic-beta"].split(",") if b)
    assert request.session_id == headers["x-claude-code-session-id"]
    assert request.betas == betas and "interleaved-thinking-2025-05-14" in betas
    expected = decode_request(path.read_bytes(), session_id=headers["x-claude-code-session-id"], betas=betas)
    # what the provider gets is the decoded request, minus signatures it did not mint (Anthropic's, here)
    assert request == drop_foreign_signatures(expected, provider, model)
    if signed(data):
        assert request != expected
        thinking = [b for m in request.messages for b in m.content if isinstance(b, ThinkingBlock)]
        assert thinking and all(b.signature is None for b in thinking)
