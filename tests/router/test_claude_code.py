"""The real Claude Code CLI, headless, through a live router to a scripted upstream.

The upstream asks for a Bash call whose output the model could not guess (shell arithmetic),
so the test passes only if Claude Code really ran the tool, sent its result back through the
router, and received the final answer that quotes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.conversation import Request, Tool, ToolResultBlock
from router.errors import RateLimited
from router.server.runtime import Runtime
from tests.conftest import CLASSES, make_config
from tests.providers.openrouter.fake_openrouter import API_KEY, Body, Call, FakeOpenRouter, Turn, text_of
from tests.support.claude_code import claude_code_binary, claude_env
from tests.support.live import free_port, router_env, serve_asgi, served
from tests.support.scripted import ScriptedProvider, Step, text_reply, tool_reply

COMMAND = "echo router-e2e-$((6*7))"
MARKER = "router-e2e-42"


def respond(request: Request) -> Sequence[Step]:
    """Ask for the Bash call on a fresh prompt; once its result is back, quote it."""
    last = request.messages[-1]
    results = [b for b in last.content if isinstance(b, ToolResultBlock)]
    if results:
        return text_reply(f"The command printed: {results[0].text.strip()}")
    if any(isinstance(t, Tool) and t.name == "Bash" for t in request.tools):
        arguments = json.dumps({"command": COMMAND, "description": "Print the marker"})
        return tool_reply(("call_e2e_1", "Bash", arguments), text="Running it now.")
    return text_reply("ok")


def run_claude(base_url: str, home: Path, prompt: str) -> list[dict[str, Any]]:
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [str(claude_code_binary()), "-p", prompt, "--output-format", "stream-json", "--verbose",
         "--model", "claude-sonnet-5", "--allowedTools", "Bash", "--max-turns", "4"],
        cwd=work, env=claude_env(home, base_url), capture_output=True, text=True, timeout=180,
        stdin=subprocess.DEVNULL, check=False,
    )
    assert result.returncode == 0, f"claude failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip().startswith("{")]


def test_claude_code_runs_a_tool_through_the_router(tmp_path: Path) -> None:
    runtime = Runtime(make_config(), CLASSES)
    provider = runtime.providers["scripted"]
    assert isinstance(provider, ScriptedProvider)
    provider.responder = respond
    with served(runtime) as (url, _):
        messages = run_claude(url, tmp_path, "Run the marker command and tell me what it printed.")

    tool_results = [
        block for m in messages if m.get("type") == "user"
        for block in m["message"]["content"] if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    assert tool_results, "Claude Code never ran the tool"
    assert MARKER in json.dumps(tool_results[0]["content"])
    final = next(m for m in messages if m.get("type") == "result")
    assert final["subtype"] == "success" and not final["is_error"]
    assert f"The command printed: {MARKER}" in final["result"]

    # what reached the upstream: the tool result, paired with the call id the router handed out
    (request, route), = [(r, rt) for r, rt in provider.calls if any(
        isinstance(b, ToolResultBlock) for b in r.messages[-1].content)]
    result = next(b for b in request.messages[-1].content if isinstance(b, ToolResultBlock))
    assert result.tool_use_id == "toolu_call_e2e_1" and MARKER in result.text
    assert route.model == "mid-model" and request.session_id


OUT_OF_QUOTA = """
server: {ping_interval: 0.2, retries: 1}
providers: {scripted: {}, other: {}}
routes:
  - when: {tier: sonnet}
    use: scripted/mid-model
    fallback: [other/backup-model]
default: {use: other/backup-model}
"""


def test_claude_code_finishes_on_the_fallback_when_the_first_target_is_out_of_quota(tmp_path: Path) -> None:
    runtime = Runtime(make_config(OUT_OF_QUOTA), CLASSES)
    first, fallback = runtime.providers["scripted"], runtime.providers["other"]
    assert isinstance(first, ScriptedProvider) and isinstance(fallback, ScriptedProvider)
    first.responder = lambda request: [RateLimited("The usage limit has been reached", retry_after=3600)]
    fallback.responder = respond
    with served(runtime) as (url, _):
        messages = run_claude(url, tmp_path, "Run the marker command and tell me what it printed.")

    final = next(m for m in messages if m.get("type") == "result")
    assert final["subtype"] == "success" and not final["is_error"]
    assert f"The command printed: {MARKER}" in final["result"]
    assert len(first.calls) == 1  # asked once; on cooldown for the rest of the session
    assert len(fallback.calls) >= 2 and all(route.model == "backup-model" for _r, route in fallback.calls)


def bash_brain(body: Body) -> Turn:
    """The fake OpenRouter's model: ask for the Bash call when Bash is offered; quote its result once back."""
    messages = body["messages"]
    if messages[-1]["role"] == "tool":
        return Turn(text=f"The command printed: {text_of(messages[-1].get('content')).strip()}")
    if any(tool.get("function", {}).get("name") == "Bash" for tool in body.get("tools") or []):
        return Turn(text="Running it now.",
                    calls=(Call("Bash", {"command": COMMAND, "description": "Print the marker"}),))
    return Turn(text="ok")


def test_router_code_starts_a_router_for_the_real_claude_code_and_a_bash_round_trip_completes(tmp_path: Path) -> None:
    """`router code -p ...`: the router it starts (a real `router serve`) carries Claude Code's Bash call
    to a fake OpenRouter and the result back; the router is gone once Claude Code exits."""
    fake = FakeOpenRouter(brain=bash_brain)
    port = free_port()
    with serve_asgi(fake.app()) as backend:
        config = tmp_path / "config.yaml"
        config.write_text(f"""
server: {{port: {port}, auth_token: router-code-token, retries: 0, shutdown_grace: 1}}
providers: {{openrouter: {{api_key: "${{OPENROUTER_API_KEY}}", base_url: "{backend}", anthropic_endpoint: false}}}}
default: {{use: openrouter/openai/gpt-5}}
""")
        home = tmp_path / "home"
        (home / "work").mkdir(parents=True)
        # a stale base URL and an API key the router would refuse: `router code` must replace both
        env = router_env(**claude_env(home, "http://127.0.0.1:9"), SWITCHYARD_STATE_DIR=str(tmp_path / "state"),
                         OPENROUTER_API_KEY=API_KEY)
        env["PATH"] = f"{claude_code_binary().parent}{os.pathsep}{env.get('PATH', '')}"
        result = subprocess.run(
            [sys.executable, "-m", "router", "code", "--config", str(config),
             "-p", "Run the marker command and tell me what it printed.", "--output-format", "stream-json",
             "--verbose", "--model", "claude-sonnet-5", "--allowedTools", "Bash", "--max-turns", "4"],
            cwd=home / "work", env=env, capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL,
            check=False,
        )
    assert result.returncode == 0, \
        f"router code failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.strip().startswith("{")]
    final = next(m for m in messages if m.get("type") == "result")
    assert final["subtype"] == "success" and not final["is_error"]
    assert f"The command printed: {MARKER}" in final["result"]
    # the upstream saw the command's real output come back as the tool result
    assert fake.rejections == []
    tool_messages = [m for body in fake.requests for m in body["messages"] if m["role"] == "tool"]
    assert tool_messages and MARKER in text_of(tool_messages[-1].get("content"))
    assert "router-code-token" not in result.stderr
    with pytest.raises(httpx.ConnectError):  # the router `router code` started is stopped again
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2, trust_env=False)
