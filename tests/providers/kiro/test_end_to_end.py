"""Kiro end to end: the official `anthropic` SDK -> `router serve` -> a fake Kiro that enforces Kiro's rules.

The fake (fake_kiro.py) answers in the AWS binary event stream, refuses what the sheet says
Kiro refuses, and also serves the social token refresh, so each test checks what the client
saw and what reached the backend. The last test mixes providers: an opus turn answered by
a fake Codex (reasoning and a tool call), then a sonnet turn carrying that history to Kiro.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import anthropic
import pytest
from anthropic.types import Message, MessageParam, ToolParam

from providers.kiro.tokens import iso_time
from providers.kiro.translate import build_payload
from router.anthropic.decode import parse_request
from router.anthropic.signatures import decode_signature
from router.route import Route
from tests.conftest import claude_code_requests
from tests.providers.codex.fake_backend import ENCRYPTED_PREFIX, FakeCodex
from tests.providers.kiro.fake_kiro import IMPROPER, PROFILE_ARN, FakeKiro, check_request
from tests.support.live import router_env, router_serving, serve_asgi

SONNET = "claude-sonnet-4-6"
OPUS = "claude-opus-4-8"
BASH: ToolParam = {
    "name": "Bash",
    "description": "Run a shell command",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
    },
}
RUN: list[MessageParam] = [{"role": "user", "content": "please run the marker command"}]


def answered(first: Message, tool_use_id: str, output: str) -> list[MessageParam]:
    """The conversation after `first` (a tool call) with the tool's `output` as the next user turn."""
    return [
        *RUN,
        cast(MessageParam, {"role": "assistant", "content": [b.model_dump() for b in first.content]}),
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool_use_id, "content": output}]},
    ]


@dataclass
class Deployment:
    """The fakes, the router in front of them, and an SDK client pointed at the router."""

    kiro: FakeKiro
    codex: FakeCodex
    url: str
    token_file: Path

    @property
    def sdk(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(base_url=self.url, api_key="sk-unused", max_retries=0)


def write_token_file(path: Path, fake: FakeKiro, *, expires_in: float = 3600) -> None:
    """The Kiro IDE's token cache after a social sign-in (2-space JSON, as the IDE writes it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "accessToken": fake.access_token,
        "refreshToken": fake.refresh_token,
        "profileArn": PROFILE_ARN,
        "expiresAt": iso_time(time.time() + expires_in),
        "authMethod": "social",
        "provider": "Github",
        "zzKeep": {"set": "by the IDE"},
    }
    path.write_text(json.dumps(document, indent=2))
    path.chmod(0o644)


def write_codex_auth(path: Path, tokens: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "auth_mode": "chatgpt",
                "OPENAI_API_KEY": None,
                "tokens": tokens,
                "last_refresh": "2026-11-01T00:00:00Z",
            },
            indent=2,
        )
    )
    path.chmod(0o600)


@contextmanager
def deployed(tmp_path: Path, upstream_transport: str, *, expired: bool = False) -> Iterator[Deployment]:
    kiro, codex = FakeKiro(), FakeCodex()
    token_file = tmp_path / ".aws" / "sso" / "cache" / "kiro-auth-token.json"
    write_token_file(token_file, kiro, expires_in=-60 if expired else 3600)
    codex_auth = tmp_path / "codex-home" / "auth.json"
    write_codex_auth(codex_auth, dict(codex.tokens))
    with ExitStack() as stack:
        kiro_url = stack.enter_context(serve_asgi(kiro.app()))
        codex_url = stack.enter_context(serve_asgi(codex.app()))
        config = tmp_path / "config.yaml"
        config.write_text(f"""
server: {{upstream_transport: {upstream_transport}}}
providers:
  kiro:
    api_url: {kiro_url}
    social_refresh_url: {kiro_url}/refreshToken
    token_file: {token_file}
  codex:
    base_url: {codex_url}
    token_url: {codex_url}/oauth/token
    auth_file: {codex_auth}
routes:
  - when: {{tier: opus}}
    use: codex/gpt-5.5
    effort: high
  - when: {{tier: sonnet}}
    use: kiro/{{model}}
default: {{use: kiro/claude-sonnet-4.5}}
""")
        env = router_env(
            HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg"), XDG_STATE_HOME=str(tmp_path / "state")
        )
        serving = stack.enter_context(router_serving(config, tmp_path, env))
        yield Deployment(kiro, codex, serving.url, token_file)


@pytest.fixture
def deployment(tmp_path: Path, upstream_transport: str) -> Iterator[Deployment]:
    with deployed(tmp_path, upstream_transport) as running:
        yield running


def current_message(body: dict[str, Any]) -> dict[str, Any]:
    return cast(dict[str, Any], body["conversationState"]["currentMessage"]["userInputMessage"])


def test_text_reply(deployment: Deployment) -> None:
    message = deployment.sdk.messages.create(
        model=SONNET,
        max_tokens=1000,
        system="You are terse.",
        messages=[{"role": "user", "content": "hello"}],
    )
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].type == "text" and message.content[0].text == "hello from the fake kiro backend"
    assert message.model == SONNET and message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 3000  # 1.5 % of claude-sonnet-4.6's 200k window
    sent = current_message(deployment.kiro.requests[-1])
    assert sent["modelId"] == "claude-sonnet-4.6" and "You are terse." in sent["content"]
    assert deployment.kiro.requests[-1]["profileArn"] == PROFILE_ARN
    headers = deployment.kiro.headers[-1]
    assert headers["x-amzn-codewhisperer-optout"] == "true" and headers["x-amzn-kiro-agent-mode"] == "vibe"
    assert "KiroIDE-" in headers["user-agent"] and deployment.kiro.rejections == []


def test_tool_round_trip(deployment: Deployment) -> None:
    with deployment.sdk.messages.stream(model=SONNET, max_tokens=4000, messages=RUN, tools=[BASH]) as stream:
        first = stream.get_final_message()
    assert [block.type for block in first.content] == ["tool_use"] and first.stop_reason == "tool_use"
    call = first.content[0]
    assert call.type == "tool_use" and call.name == "Bash"
    assert call.input == {"command": "echo kiro-e2e-$((6*7))", "description": "marker"}
    second = deployment.sdk.messages.create(
        model=SONNET, max_tokens=4000, tools=[BASH], messages=answered(first, call.id, "kiro-e2e-42\n")
    )
    assert second.content[-1].type == "text" and second.content[-1].text == "The command printed: kiro-e2e-42"
    assert deployment.kiro.rejections == []
    body = deployment.kiro.requests[-1]["conversationState"]
    uses = body["history"][-1]["assistantResponseMessage"]["toolUses"]
    results = current_message(deployment.kiro.requests[-1])["userInputMessageContext"]["toolResults"]
    assert [use["toolUseId"] for use in uses] == [result["toolUseId"] for result in results] == [call.id]


def test_thinking_is_shown_as_a_thinking_block(deployment: Deployment) -> None:
    message = deployment.sdk.messages.create(
        model=SONNET,
        max_tokens=8000,
        thinking={"type": "enabled", "budget_tokens": 4000},
        messages=[{"role": "user", "content": "hello"}],
    )
    assert [block.type for block in message.content] == ["thinking", "text"]
    thinking, reply = message.content
    # in-band thinking comes unsigned; the client sees the router's stand-in, tagged with the route
    assert thinking.type == "thinking" and thinking.thinking == "The user greeted me."
    signature = decode_signature(thinking.signature)
    assert signature.router and (signature.provider, signature.model) == ("kiro", SONNET)
    assert reply.type == "text" and reply.text == "hello from the fake kiro backend"
    assert current_message(deployment.kiro.requests[-1])["content"].startswith(
        "<thinking_mode>enabled</thinking_mode>\n<max_thinking_length>4000</max_thinking_length>"
    )


def test_tags_thinking_streams_signed_and_goes_back_to_kiro_and_codex_as_unsigned(deployment: Deployment) -> None:
    ask: list[MessageParam] = [{"role": "user", "content": "hello"}]
    with deployment.sdk.messages.stream(
        model=SONNET, max_tokens=8000, thinking={"type": "enabled", "budget_tokens": 4000}, messages=ask
    ) as stream:
        kinds = [event.type for event in stream]
        first = stream.get_final_message()
    assert "signature" in kinds and [block.type for block in first.content] == ["thinking", "text"]
    thinking = first.content[0]
    assert thinking.type == "thinking" and thinking.thinking == "The user greeted me." and thinking.signature
    stand_in = decode_signature(thinking.signature).value

    history = [*ask, cast(MessageParam, {"role": "assistant", "content": [b.model_dump() for b in first.content]}),
               {"role": "user", "content": "and again"}]
    for model in (SONNET, OPUS):  # back to Kiro, whose tag thinking it was; then to Codex
        reply = deployment.sdk.messages.create(
            model=model, max_tokens=8000, thinking={"type": "adaptive"}, messages=history
        )
        assert reply.content[-1].type == "text"
    assert deployment.kiro.rejections == [] and len(deployment.kiro.requests) == 2
    replayed = deployment.kiro.requests[-1]["conversationState"]["history"]
    assistant_turn = next(entry["assistantResponseMessage"] for entry in replayed if "assistantResponseMessage" in entry)
    assert "reasoningContent" not in assistant_turn  # tag thinking is not sent back (and never as a signature)
    assert stand_in not in deployment.kiro.raw[-1].decode()
    codex_input = json.dumps(deployment.codex.requests[-1]["input"])
    assert len(deployment.codex.requests) == 1 and '"reasoning"' not in codex_input and stand_in not in codex_input


def test_expired_token_is_refreshed_and_written_back(tmp_path: Path, upstream_transport: str) -> None:
    with deployed(tmp_path, upstream_transport, expired=True) as deployment:
        before = json.loads(deployment.token_file.read_text())
        message = deployment.sdk.messages.create(
            model=SONNET, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )
        assert message.content[0].type == "text"
        assert deployment.kiro.refreshes == 1 and deployment.kiro.generation == 2
        assert deployment.kiro.refresh_headers[-1]["user-agent"].startswith("KiroIDE-")
        after = json.loads(deployment.token_file.read_text())
        assert (after["accessToken"], after["refreshToken"]) == (
            deployment.kiro.access_token,
            deployment.kiro.refresh_token,
        )
        rotated = ("accessToken", "refreshToken", "expiresAt")
        assert {k: v for k, v in after.items() if k not in rotated} == {
            k: v for k, v in before.items() if k not in rotated
        }
        assert stat.S_IMODE(os.stat(deployment.token_file).st_mode) == 0o600
        assert deployment.token_file.read_text().startswith('{\n  "accessToken"')  # the IDE's layout kept


def test_throttling_before_the_first_event_is_a_rate_limit_error(deployment: Deployment) -> None:
    deployment.kiro.throttle_after.append(0)
    with pytest.raises(anthropic.RateLimitError) as caught:
        deployment.sdk.messages.create(
            model=SONNET, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )
    assert "throttling" in caught.value.message.lower()


def test_throttling_mid_stream_is_an_error_event(deployment: Deployment) -> None:
    deployment.kiro.throttle_after.append(3)  # after the metadata and two pieces of text
    received: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        deployment.sdk.messages.stream(
            model=SONNET, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream,
    ):
        received.extend(stream.text_stream)
    assert "".join(received) == "hello from the"
    error = caught.value.body
    assert isinstance(error, dict) and error["error"]["type"] == "rate_limit_error"


def test_a_conversation_moves_from_codex_to_kiro(deployment: Deployment) -> None:
    with deployment.sdk.messages.stream(
        model=OPUS, max_tokens=32000, messages=RUN, thinking={"type": "adaptive"}, tools=[BASH]
    ) as stream:
        first = stream.get_final_message()
    assert [block.type for block in first.content] == ["thinking", "tool_use"]
    assert deployment.kiro.requests == [] and len(deployment.codex.requests) == 1
    call = first.content[1]
    assert call.type == "tool_use"

    second = deployment.sdk.messages.create(
        model=SONNET,
        max_tokens=8000,
        thinking={"type": "adaptive"},
        tools=[BASH],
        messages=answered(first, call.id, "codex-e2e-42\n"),
    )

    assert [block.type for block in second.content] == ["thinking", "text"]
    assert (
        second.content[-1].type == "text" and second.content[-1].text == "The command printed: codex-e2e-42"
    )
    assert deployment.kiro.rejections == [] and len(deployment.kiro.requests) == 1  # accepted by every rule
    raw = deployment.kiro.raw[-1].decode()
    assert ENCRYPTED_PREFIX not in raw  # Codex's encrypted reasoning never reaches Kiro
    thinking = first.content[0]
    assert thinking.type == "thinking" and thinking.signature not in raw
    uses = deployment.kiro.requests[-1]["conversationState"]["history"][-1]["assistantResponseMessage"][
        "toolUses"
    ]
    assert [(use["name"], use["toolUseId"]) for use in uses] == [("Bash", call.id)]


def test_kiros_opaque_400_reaches_the_client_as_a_bad_request(deployment: Deployment) -> None:
    deployment.kiro.fail_next.append((400, {"message": "Improperly formed request.", "reason": None}))
    with pytest.raises(anthropic.BadRequestError) as caught:
        deployment.sdk.messages.create(
            model=SONNET, max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        )
    assert "Improperly formed request" in caught.value.message


def test_input_too_long_tells_the_client_to_compact(deployment: Deployment) -> None:
    deployment.kiro.max_payload_bytes = 50_000  # below the router's own limit, so Kiro is the one refusing
    with pytest.raises(anthropic.BadRequestError) as caught:
        deployment.sdk.messages.create(
            model=SONNET, max_tokens=100, messages=[{"role": "user", "content": "words " * 20_000}]
        )
    assert "prompt is too long" in caught.value.message
    assert deployment.kiro.rejections == ["size"]


# -- the fake's rules are real rules: it accepts what the router sends and refuses each breach -----------


def _payload_body(path: Path) -> dict[str, Any]:
    request = parse_request(json.loads(path.read_text()), session_id="session-1")
    return build_payload(request, Route("kiro", "claude-sonnet-4.5")).body


@pytest.mark.parametrize("path", claude_code_requests(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_recorded_claude_code_request_passes_the_fake(path: Path) -> None:
    assert check_request(_payload_body(path), {"claude-sonnet-4.5"}) is None


def _user(content: str, **context: Any) -> dict[str, Any]:
    message: dict[str, Any] = {"content": content, "modelId": "claude-sonnet-4.5", "origin": "AI_EDITOR"}
    if context:
        message["userInputMessageContext"] = context
    return {"userInputMessage": message}


def _assistant(content: str, *uses: str) -> dict[str, Any]:
    message: dict[str, Any] = {"content": content}
    if uses:
        message["toolUses"] = [{"toolUseId": use, "name": "Bash", "input": {}} for use in uses]
    return {"assistantResponseMessage": message}


def _spec(name: str = "Bash") -> dict[str, Any]:
    return {
        "toolSpecification": {"name": name, "description": "d", "inputSchema": {"json": {"type": "object"}}}
    }


def _body(history: list[dict[str, Any]], current: dict[str, Any]) -> dict[str, Any]:
    state = {
        "chatTriggerType": "MANUAL",
        "conversationId": "c",
        "history": history,
        "currentMessage": current,
    }
    return {"conversationState": state}


def _result(use: str, text: str = "ok") -> dict[str, Any]:
    return {"toolUseId": use, "content": [{"text": text}], "status": "success"}


GOOD = _body(
    [_user("hi"), _assistant("calling", "t1")], _user("here", tools=[_spec()], toolResults=[_result("t1")])
)


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        (_body([_user("a"), _user("b")], _user("c")), "roles must alternate"),
        (_body([_assistant("a")], _user("b")), "history must start with a user message"),
        (_body([_user("a"), _assistant(" ")], _user("b")), "empty content in turn 1"),
        (
            _body([_user("a", tools=[_spec()]), _assistant("b")], _user("c", tools=[_spec()])),
            "tools on a history message",
        ),
        (
            _body([_user("a"), _assistant("b", "t1")], _user("c", toolResults=[_result("t1")])),
            "tool use without a tool config",
        ),
        (
            _body([_user("a"), _assistant("b", "t1")], _user("c", tools=[_spec()])),
            "tool use without its result",
        ),
        (
            _body([_user("a"), _assistant("b")], _user("c", tools=[_spec()], toolResults=[_result("t9")])),
            "tool result without its use",
        ),
        (
            _body(
                [_user("a"), _assistant("b", "t1")],
                _user("c", tools=[_spec()], toolResults=[_result("t1", " ")]),
            ),
            "empty tool result",
        ),
        (_body([], _user("a", tools=[_spec("x" * 65)])), "bad tool specification"),
        (
            _body([], _user("a", tools=[_spec(), {"cachePoint": {"type": "default"}}])),
            "bad tool specification",
        ),
    ],
    ids=[
        "alternation",
        "user-first",
        "empty",
        "history-tools",
        "no-config",
        "unanswered",
        "orphan-result",
        "empty-result",
        "long-name",
        "cache-point",
    ],
)
def test_the_fake_refuses_each_breach_as_kiro_does(body: dict[str, Any], rule: str) -> None:
    assert check_request(GOOD, {"claude-sonnet-4.5"}) is None
    assert check_request(body, {"claude-sonnet-4.5"}) == (rule, IMPROPER)
