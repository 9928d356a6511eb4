"""Codex end to end: real clients -> `router serve` -> a fake Codex backend that enforces the backend's rules.

Clients: the official `anthropic` SDK, and the real Claude Code CLI headless. The fake
answers from its "brain" and records every request, so each test checks both what the
client saw and what reached the backend.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.providers.codex.fake_backend import ENCRYPTED_PREFIX, FakeCodex, chatgpt_tokens
from tests.support.claude_code import claude_code_binary, claude_env
from tests.support.live import router_env, router_serving, serve_asgi

SONNET = "claude-sonnet-5"


class Deployment:
    """The fake backend, the router in front of it, and an SDK client pointed at the router."""

    def __init__(self, fake: FakeCodex, url: str, auth_file: Path, home: Path) -> None:
        self.fake = fake
        self.url = url
        self.auth_file = auth_file
        self.home = home
        self.sdk = anthropic.Anthropic(base_url=url, api_key="sk-unused", max_retries=0)


def write_auth(path: Path, tokens: dict[str, str]) -> None:
    document = {"auth_mode": "chatgpt", "OPENAI_API_KEY": None, "tokens": tokens,
                "last_refresh": "2026-11-01T00:00:00Z", "agent_identity": "kept-as-is"}
    path.write_text(json.dumps(document, indent=2))
    path.chmod(0o600)


@pytest.fixture
def deployment(tmp_path: Path, request: pytest.FixtureRequest, upstream_transport: str) -> Iterator[Deployment]:
    fake = FakeCodex()
    auth_file = tmp_path / "codex-home" / "auth.json"
    auth_file.parent.mkdir()
    tokens = dict(fake.tokens)
    if getattr(request, "param", None) == "expired":  # the access token in the file has already expired
        tokens = {**chatgpt_tokens(expires_in=-60), "refresh_token": fake.tokens["refresh_token"]}
    write_auth(auth_file, tokens)
    with serve_asgi(fake.app()) as backend:
        config = tmp_path / "config.yaml"
        config.write_text(f"""
server: {{upstream_transport: {upstream_transport}}}
providers:
  codex:
    base_url: {backend}
    token_url: {backend}/oauth/token
    auth_file: {auth_file}
routes:
  - when: {{tier: opus}}
    use: codex/gpt-5.5
    effort: high
  - when: {{tier: sonnet}}
    use: codex/gpt-5.5
    effort: medium
default: {{use: codex/gpt-5.5}}
""")
        env = router_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg"), XDG_STATE_HOME=str(tmp_path / "st"))
        with router_serving(config, tmp_path, env) as serving:
            yield Deployment(fake, serving.url, auth_file, tmp_path)


def test_text_reply_with_cached_usage(deployment: Deployment) -> None:
    message = deployment.sdk.messages.create(model=SONNET, max_tokens=1000, extra_body={"temperature": 1.0},
                                             messages=[{"role": "user", "content": "hello"}],
                                             system="You are terse.")
    assert message.content[0].type == "text" and message.content[0].text == "hello from the fake codex backend"
    assert message.model == SONNET
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens, message.usage.output_tokens) == (176, 1024, 42)
    sent = deployment.fake.requests[-1]
    assert sent["model"] == "gpt-5.5" and sent["reasoning"]["effort"] == "medium"
    assert "You are terse." in sent["instructions"]
    assert "temperature" not in sent and "max_output_tokens" not in sent


def test_tool_round_trip_keeps_reasoning_across_turns(deployment: Deployment) -> None:
    ask: list[Any] = [{"role": "user", "content": "please run the marker command"}]
    with deployment.sdk.messages.stream(model="claude-opus-4-8", max_tokens=32000, messages=ask,
                                        thinking={"type": "adaptive"},
                                        tools=[{"name": "Bash", "description": "Run a shell command",
                                                "input_schema": {"type": "object",
                                                                 "properties": {"command": {"type": "string"}},
                                                                 "required": ["command"]}}]) as stream:
        first = stream.get_final_message()
    kinds = [block.type for block in first.content]
    assert kinds == ["thinking", "tool_use"] and first.stop_reason == "tool_use"
    thinking, call = first.content[0], first.content[1]
    assert thinking.type == "thinking" and "I should run the command." in thinking.thinking
    assert call.type == "tool_use" and call.name == "Bash" and call.id.startswith("toolu_")
    assert call.input["command"] == "echo codex-e2e-$((6*7))"

    history: list[Any] = [*ask, {"role": "assistant", "content": [b.model_dump() for b in first.content]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "codex-e2e-42\n"}]}]
    second = deployment.sdk.messages.create(model="claude-opus-4-8", max_tokens=8000, messages=history,
                                            thinking={"type": "adaptive"})
    assert second.content[-1].type == "text" and second.content[-1].text == "The command printed: codex-e2e-42"
    replayed = deployment.fake.requests[-1]["input"]
    reasoning = [item for item in replayed if item.get("type") == "reasoning"]
    assert reasoning and reasoning[0]["encrypted_content"].startswith(ENCRYPTED_PREFIX)  # the chain of thought survived
    call_ids = {item["call_id"] for item in replayed if item.get("type") in ("function_call", "function_call_output")}
    assert len(call_ids) == 1


@pytest.mark.parametrize("deployment", ["expired"], indirect=True)
def test_expired_token_is_refreshed_and_written_back(deployment: Deployment) -> None:
    before = json.loads(deployment.auth_file.read_text())
    message = deployment.sdk.messages.create(model=SONNET, max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    assert message.content[0].type == "text"
    assert deployment.fake.refreshes == 1
    after = json.loads(deployment.auth_file.read_text())
    assert after["tokens"]["refresh_token"] == "rt-generation-2" == deployment.fake.tokens["refresh_token"]
    assert after["tokens"]["access_token"] == deployment.fake.tokens["access_token"]
    assert {k: v for k, v in after.items() if k not in ("tokens", "last_refresh")} == \
        {k: v for k, v in before.items() if k not in ("tokens", "last_refresh")}
    assert stat.S_IMODE(os.stat(deployment.auth_file).st_mode) == 0o600


def test_usage_limit_becomes_a_rate_limit_error_with_retry_after(deployment: Deployment) -> None:
    resets = int(time.time()) + 3600
    deployment.fake.fail_next.append((429, {"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached",
                                                      "plan_type": "plus", "resets_at": resets, "resets_in_seconds": 3600}}))
    with pytest.raises(anthropic.RateLimitError) as caught:
        deployment.sdk.messages.create(model=SONNET, max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    assert 3500 <= int(caught.value.response.headers["retry-after"]) <= 3600
    assert "usage limit" in caught.value.message.lower()


def test_context_overflow_tells_claude_code_to_compact(deployment: Deployment) -> None:
    deployment.fake.fail_next.append((400, {"error": {
        "message": "Your input exceeds the context window of this model. Please adjust your input and try again.",
        "type": "invalid_request_error", "param": "input", "code": "context_length_exceeded"}}))
    with pytest.raises(anthropic.BadRequestError) as caught:
        deployment.sdk.messages.create(model=SONNET, max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    assert "prompt is too long" in caught.value.message


def test_claude_code_runs_bash_through_codex(deployment: Deployment) -> None:
    home = deployment.home / "claude-home"
    (home / "work").mkdir(parents=True)
    import subprocess

    result = subprocess.run(
        [str(claude_code_binary()), "-p", "Please run the marker command and tell me what it printed.",
         "--output-format", "stream-json", "--verbose", "--model", SONNET, "--allowedTools", "Bash", "--max-turns", "4"],
        cwd=home / "work", env=claude_env(home, deployment.url), capture_output=True, text=True, timeout=180,
        stdin=subprocess.DEVNULL, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    messages: list[dict[str, Any]] = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    outputs = [block for m in messages if m.get("type") == "user" for block in m["message"]["content"]
               if isinstance(block, dict) and block.get("type") == "tool_result"]
    assert outputs and "codex-e2e-42" in json.dumps(outputs[0]["content"])  # the tool really ran
    final = next(m for m in messages if m.get("type") == "result")
    assert final["subtype"] == "success" and "The command printed: codex-e2e-42" in final["result"]
    # and the backend got Claude Code's whole request shape, accepted by every rule it enforces
    assert any(item.get("type") == "function_call_output" for item in deployment.fake.requests[-1]["input"])
    assert len(deployment.fake.requests[-1]["tools"]) >= 10
