"""The real Codex CLI (`codex exec`) through the router to the fake Kiro and OpenRouter backends.

The CLI is configured with the router as a custom model provider (`wire_api = "responses"`, the
only wire it speaks), so it sends its own tool set (`exec_command`, `apply_patch`, ...) to
`/v1/responses`. The fakes' brains answer as a model would: call `exec_command` with a marker
command, then report what the CLI's tool output said. The CLI really runs the command.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.openai.deployment import Deployment, deployed
from tests.providers.kiro.fake_kiro import Piece
from tests.providers.openrouter.fake_openrouter import Body, Call, Turn, text_of
from tests.support.codex_cli import API_KEY, run_codex_exec

COMMAND = "echo codex-cli-$((6*7))"
PROMPT = "Run the marker command and tell me what it printed."
MODELS = {"kiro": "claude-sonnet-4-6", "openrouter": "openrouter/anthropic/claude-haiku-4.5"}
PATCH_PROMPT = "Create notes.txt with a greeting."
PATCH = "*** Begin Patch\n*** Add File: notes.txt\n+hello from a patch\n+second line\n*** End Patch\n"
KNOWN = "gpt-5.5"
"""A name in the Codex CLI's own catalogue: for it the CLI sends its full tool set, `apply_patch` (a custom tool) included."""


def printed(output: str) -> str:
    """What the command printed, out of the CLI's tool output (`...Output:\\n<text>`)."""
    _, _, text = output.rpartition("Output:\n")
    return text.strip()


def openrouter_brain(body: Body) -> Turn:
    messages = body["messages"]
    asked = next(text_of(m.get("content")) for m in reversed(messages) if m["role"] == "user")
    if messages[-1]["role"] == "tool":
        if PATCH_PROMPT in asked:
            return Turn(text=f"Patched: {text_of(messages[-1].get('content')).strip()[:200]}")
        return Turn(text=f"The command printed: {printed(text_of(messages[-1].get('content')))}")
    names = {tool["function"]["name"] for tool in body.get("tools", [])}
    if PATCH_PROMPT in asked:
        assert "apply_patch" in names, names
        return Turn(reasoning="A new file, so a patch.", calls=(Call("apply_patch", {"input": PATCH}),))
    assert "exec_command" in names, names
    return Turn(reasoning="I will run it.", calls=(Call("exec_command", {"cmd": COMMAND}),))


def kiro_brain(state: dict[str, Any]) -> list[Piece]:
    current = state["currentMessage"]["userInputMessage"]
    context = current.get("userInputMessageContext", {})
    results = context.get("toolResults", [])
    if results:
        output = results[0]["content"][0].get("text", "")
        if "notes.txt" in output:
            return [("text", f"Patched: {output.strip()[:200]}")]
        return [("text", f"The command printed: {printed(output)}")]
    names = {tool["toolSpecification"]["name"] for tool in context.get("tools", [])}
    if PATCH_PROMPT in current["content"]:
        assert "apply_patch" in names, names
        return [("tool", ("tooluse_patch1", "apply_patch", {"input": PATCH}))]
    assert "exec_command" in names, names
    return [("tool", ("tooluse_cli1", "exec_command", {"cmd": COMMAND}))]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployed(tmp_path_factory.mktemp("codex-cli"), token=API_KEY, kiro_brain=kiro_brain,
                  openrouter_brain=openrouter_brain) as running:
        yield running


@pytest.mark.parametrize("upstream", MODELS)
def test_codex_exec_runs_a_shell_command_through_the_router(
    deployment: Deployment, upstream: str, tmp_path: Path
) -> None:
    before = len(deployment.requests_of(upstream))
    run = run_codex_exec(tmp_path, deployment.url + "/v1", PROMPT, model=MODELS[upstream], timeout=180)
    assert run.returncode == 0 and not run.turn_failed, run.explain()
    (execution,) = run.items("command_execution")
    assert execution["exit_code"] == 0 and execution["aggregated_output"].strip() == "codex-cli-42", execution
    assert run.final_message == "The command printed: codex-cli-42", run.explain()
    assert len(deployment.requests_of(upstream)) == before + 2  # the call, then the answer to its output
    rows = deployment.rows(lambda row: row["path"] == "/v1/responses" and row["provider"] == upstream, count=2)
    assert [(row["status"], row["stream"]) for row in rows] == [(200, 1), (200, 1)]
    assert rows[0]["session"] and rows[0]["session"] == rows[1]["session"]  # the CLI's session-id header


def test_a_wrong_key_fails_the_codex_turn_with_the_routers_message(deployment: Deployment, tmp_path: Path) -> None:
    run = run_codex_exec(tmp_path, deployment.url + "/v1", PROMPT, model=MODELS["kiro"], api_key="sk-wrong")
    assert run.returncode != 0 and run.turn_failed
    (failed,) = [event for event in run.events if event.get("type") == "turn.failed"]
    assert "401" in failed["error"]["message"] and "server.auth_token" in failed["error"]["message"], run.explain()
    assert "sk-router-test" not in run.stdout + run.stderr


@pytest.mark.parametrize("upstream", MODELS)
def test_codex_applies_a_patch_the_backend_wrote_through_its_custom_tool(upstream: str, tmp_path: Path) -> None:
    """Under a name the CLI knows, routed to the backend by a `model:` rule, it offers `apply_patch`."""
    target = {"kiro": "kiro/claude-sonnet-4.5", "openrouter": "openrouter/anthropic/claude-haiku-4.5"}[upstream]
    known = f"  - when: {{model: {KNOWN}}}\n    use: {target}\n"
    with deployed(tmp_path / "router", token=API_KEY, kiro_brain=kiro_brain, openrouter_brain=openrouter_brain,
                  first_routes=known) as deployment:
        run = run_codex_exec(tmp_path, deployment.url + "/v1", PATCH_PROMPT, model=KNOWN, timeout=180)
    assert run.returncode == 0 and not run.turn_failed, run.explain()
    assert (tmp_path / "work" / "notes.txt").read_text() == "hello from a patch\nsecond line\n"
    assert run.final_message is not None and run.final_message.startswith("Patched:"), run.explain()
    assert "notes.txt" in run.final_message  # the CLI's own report of the patch reached the backend
    first, second = deployment.requests_of(upstream)
    if upstream == "kiro":
        assert deployment.kiro.rejections == []
        return
    (tool,) = [t["function"] for t in first["tools"] if t["function"]["name"] == "apply_patch"]
    assert tool["parameters"]["required"] == ["input"]  # the freeform tool as a one-string function
    (assistant,) = [m for m in second["messages"] if m["role"] == "assistant"]
    (detail,) = assistant["reasoning_details"]  # the CLI asked for no summary: the text came back sealed
    assert detail["text"] == "A new file, so a patch." and detail["signature"]
    assert deployment.openrouter.rejections == []
