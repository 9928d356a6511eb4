"""The real OpenAI Codex CLI, installed from npm on first use into a cache folder of the repo.

Tests that drive it skip when npm is missing, unless `SWITCHYARD_REQUIRE_CODEX_CLI` is set, in
which case a missing CLI is a failure, never a silent skip. `$CODEX_CLI_BIN` names another binary.

Codex is run headless (`codex exec`) against a custom model provider at a local base URL, with an
isolated HOME and CODEX_HOME so it never reads a real `~/.codex`. The settings written here keep it
off the network: with them it made no DNS lookup at all when run in a loopback-only namespace,
while without them it looked up an analytics host (and waited ~5 s for it at exit) and the
plugin catalogue's hosts. The provider's retries default to none so a broken reply fails in well
under a second instead of after ~25 s of back-off.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.npm import NpmTool

VERSION = "0.171.0"  # the version the fixtures under tests/fixtures/codex-cli were captured from
TOOL = NpmTool("@openai/codex", VERSION, command="codex", folder="codex-cli", override="CODEX_CLI_BIN",
               require="SWITCHYARD_REQUIRE_CODEX_CLI")
PROVIDER_ID = "switchyard"
API_KEY_ENV = "SWITCHYARD_CODEX_API_KEY"
API_KEY = "sk-router-test"


def codex_cli_binary() -> Path:
    """The `codex` executable: $CODEX_CLI_BIN, or the cached install (made if missing)."""
    return TOOL.binary()


def _toml_string(value: str) -> str:
    """A TOML basic string; JSON's escapes are a subset TOML accepts."""
    return json.dumps(value, ensure_ascii=True)


def codex_config(base_url: str, model: str, *, retries: int = 0, idle_timeout_ms: int = 60_000) -> str:
    """config.toml text: one custom Responses provider at `base_url` (Codex appends `/responses`).

    `wire_api = "responses"` is the only value this version accepts ("chat" is a config error).
    """
    return "\n".join([
        f"model = {_toml_string(model)}",
        f"model_provider = {_toml_string(PROVIDER_ID)}",
        "check_for_update_on_startup = false",
        "",
        "[analytics]",
        "enabled = false",
        "",
        "[features]",
        "plugins = false",
        "",
        f"[model_providers.{PROVIDER_ID}]",
        'name = "Switchyard"',
        f"base_url = {_toml_string(base_url)}",
        f"env_key = {_toml_string(API_KEY_ENV)}",
        'wire_api = "responses"',
        f"request_max_retries = {retries}",
        f"stream_max_retries = {retries}",
        f"stream_idle_timeout_ms = {idle_timeout_ms}",
        "",
    ])


def write_codex_home(root: Path, base_url: str, model: str, **options: int) -> tuple[Path, Path]:
    """Make `root/home` (HOME) and `root/codex-home` (CODEX_HOME holding config.toml); return both."""
    home, codex_home = root / "home", root / "codex-home"
    home.mkdir(parents=True, exist_ok=True)
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(codex_config(base_url, model, **options), encoding="utf-8")
    return home, codex_home


def codex_env(home: Path, codex_home: Path, api_key: str = API_KEY) -> dict[str, str]:
    """A minimal environment: no inherited OpenAI keys, proxies or real home directory."""
    keep = ("PATH", "LANG", "LC_ALL", "TERM", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(HOME=str(home), CODEX_HOME=str(codex_home), NO_COLOR="1")
    env[API_KEY_ENV] = api_key
    return env


def exec_args(binary: Path, workdir: Path, model: str, prompt: str, *, json_events: bool = True) -> list[str]:
    """`codex exec` argv: no approvals, no sandbox, no git check, JSONL events on stdout if asked."""
    args = [str(binary), "exec", "--dangerously-bypass-approvals-and-sandbox", "--skip-git-repo-check",
            "--color", "never", "-C", str(workdir), "-m", model]
    if json_events:
        args.append("--json")
    args.append(prompt)
    return args


def parse_events(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects of `codex exec --json` output, one per line; other lines are skipped."""
    events: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


@dataclass(frozen=True)
class CodexRun:
    """One finished `codex exec`: exit code, raw output, parsed events (empty without --json)."""

    returncode: int
    stdout: str
    stderr: str
    elapsed: float
    events: list[dict[str, Any]] = field(default_factory=list)

    def items(self, kind: str) -> list[dict[str, Any]]:
        """The completed thread items of one type (`agent_message`, `command_execution`, `error`, ...)."""
        return [e["item"] for e in self.events
                if e.get("type") == "item.completed" and isinstance(e.get("item"), dict)
                and e["item"].get("type") == kind]

    @property
    def final_message(self) -> str | None:
        """The last agent message's text, as `codex exec` prints it alone on stdout without --json."""
        messages = self.items("agent_message")
        return str(messages[-1].get("text", "")) if messages else None

    @property
    def turn_failed(self) -> bool:
        return any(e.get("type") == "turn.failed" for e in self.events)

    def explain(self) -> str:
        return f"codex exec exited {self.returncode}:\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"


def run_codex_exec(root: Path, base_url: str, prompt: str, *, model: str = "gpt-5.5",
                   json_events: bool = True, timeout: float = 120, extra_args: Sequence[str] = (),
                   api_key: str = API_KEY, **options: int) -> CodexRun:
    """Run `codex exec` once under `root` (home, CODEX_HOME and workdir made there) and wait for it.

    The CLI runs in its own process group; on timeout the whole group is killed, so the native
    binary behind the npm launcher never outlives the test.
    """
    home, codex_home = write_codex_home(root, base_url, model, **options)
    workdir = root / "work"
    workdir.mkdir(parents=True, exist_ok=True)
    args = exec_args(codex_cli_binary(), workdir, model, prompt, json_events=json_events)
    if extra_args:
        args[2:2] = list(extra_args)
    started = time.monotonic()
    process = subprocess.Popen(
        args, cwd=workdir, env=codex_env(home, codex_home, api_key), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"codex exec did not finish within {timeout} s:\n{stdout[-3000:]}\n{stderr[-3000:]}")
    finally:
        _reap_group(process.pid)
    elapsed = time.monotonic() - started
    events = parse_events(stdout) if json_events else []
    return CodexRun(process.returncode, stdout, stderr, elapsed, events)


def _reap_group(pgid: int) -> None:
    """Kill anything the CLI left behind in its process group (it starts helpers of its own)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
