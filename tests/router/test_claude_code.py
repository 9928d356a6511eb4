"""The real Claude Code CLI, headless, through a live router to a scripted upstream.

The upstream asks for a Bash call whose output the model could not guess (shell arithmetic),
so the test passes only if Claude Code really ran the tool, sent its result back through the
router, and received the final answer that quotes it.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from router.conversation import Request, Tool, ToolResultBlock
from router.errors import RateLimited
from router.server.runtime import Runtime
from tests.conftest import CLASSES, make_config
from tests.support.claude_code import claude_code_binary, claude_env
from tests.support.live import served
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
