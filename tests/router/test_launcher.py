"""`router code`: the environment Claude Code is given, and the router it finds or starts and stops.

The process tests run `router code` for real with a fake `claude` on PATH (a script that records
its arguments, its environment and what the router answered it, then exits with a chosen code),
against a real `router serve` on 127.0.0.1 whose only provider points at a closed port.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.server import cli, launcher
from router.server.config import ServerConfig
from tests.support.live import free_port, router_env, router_process, wait_ready

TOKEN = "s3cret-router-token"

FAKE_CLAUDE = """#!{python}
import json, os, signal, sys, time, urllib.request
record = os.environ["FAKE_CLAUDE_RECORD"]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({{}}))

def status(path, token=None):
    request = urllib.request.Request(os.environ["ANTHROPIC_BASE_URL"] + path)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        return opener.open(request, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code
    except Exception as exc:
        return repr(exc)

seen = {{"argv": sys.argv[1:], "pid": os.getpid(), "health": status("/health"),
        "models": status("/v1/models", os.environ.get("ANTHROPIC_AUTH_TOKEN")),
        "models_bad_token": status("/v1/models", "wrong-token"),
        "env": {{k: v for k, v in os.environ.items() if k.startswith(("ANTHROPIC_", "FAKE_"))}}}}
if os.environ.get("FAKE_CLAUDE_MODE") == "wait":
    got = []
    signal.signal(signal.SIGINT, lambda *a: got.append("INT"))
    with open(record + ".ready", "w"):
        pass
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    seen["signals"] = got
with open(record, "w") as handle:
    json.dump(seen, handle)
sys.exit(int(os.environ.get("FAKE_CLAUDE_EXIT", "0")))
"""


# -- pure -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:8765"), ("0.0.0.0", "http://127.0.0.1:8765"), ("::", "http://[::1]:8765"),
    ("::1", "http://[::1]:8765"), ("localhost", "http://localhost:8765"),
])
def test_the_url_is_the_one_a_local_client_reaches(host: str, url: str) -> None:
    assert launcher.router_url(ServerConfig(host=host)) == url


def test_the_environment_points_claude_at_the_router_with_a_key_it_accepts() -> None:
    user = {"PATH": "/bin", "ANTHROPIC_API_KEY": "sk-ant-real", "ANTHROPIC_BASE_URL": "https://elsewhere",
            "ANTHROPIC_DEFAULT_OPUS_MODEL": "my-own-opus", "OTHER": "kept"}
    env = launcher.claude_env(user, ServerConfig(port=9001, auth_token=TOKEN))
    assert env == {"PATH": "/bin", "OTHER": "kept", "ANTHROPIC_DEFAULT_OPUS_MODEL": "my-own-opus",
                   "ANTHROPIC_BASE_URL": "http://127.0.0.1:9001", "ANTHROPIC_AUTH_TOKEN": TOKEN}
    assert user["ANTHROPIC_API_KEY"] == "sk-ant-real"  # the caller's mapping is not touched


def test_without_a_router_token_claude_gets_a_placeholder_and_no_tier_overrides() -> None:
    env = launcher.router_env(ServerConfig())
    assert env == {"ANTHROPIC_BASE_URL": "http://127.0.0.1:8765", "ANTHROPIC_AUTH_TOKEN": "switchyard"}


@pytest.mark.parametrize(("argv", "expected"), [
    (["code"], ["code", "--"]),
    (["code", "-p", "hi", "--config", "x"], ["code", "--", "-p", "hi", "--config", "x"]),
    (["code", "--config", "c.yaml", "-p", "hi"], ["code", "--config", "c.yaml", "--", "-p", "hi"]),
    (["code", "--config=c.yaml", "--", "--help"], ["code", "--config=c.yaml", "--", "--help"]),
    (["code", "--help"], ["code", "--help", "--"]),
    (["code", "--", "--", "x"], ["code", "--", "--", "x"]),
    (["code", "--conf", "c.yaml"], ["code", "--", "--conf", "c.yaml"]),  # no abbreviations
    (["status", "--config", "x"], ["status", "--config", "x"]),
])
def test_router_options_come_first_and_the_rest_goes_to_claude(argv: list[str], expected: list[str]) -> None:
    assert launcher.code_arguments(argv) == expected


def test_the_parser_hands_claude_its_arguments_unchanged() -> None:
    args = cli._parser().parse_args(launcher.code_arguments(
        ["code", "--config", "c.yaml", "-p", "say hi", "--model", "opus", "--allowedTools", "Bash", "--", "-x"]))
    assert args.config == Path("c.yaml")
    assert args.claude_args == ["-p", "say hi", "--model", "opus", "--allowedTools", "Bash", "--", "-x"]


@pytest.mark.parametrize(("code", "status"), [(0, 0), (3, 3), (-2, 130), (-15, 143)])
def test_exit_status_is_the_shells(code: int, status: int) -> None:
    assert launcher.exit_status(code) == status


def test_claude_missing_exits_127_and_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    config = tmp_path / "config.yaml"
    config.write_text(f"server: {{port: {free_port()}}}\n" + PROVIDERS)
    assert cli.main(["code", "--config", str(config), "-p", "hi"]) == 127
    err = capsys.readouterr().err
    assert "`claude`" in err and "not on PATH" in err and "@anthropic-ai/claude-code" in err
    assert not (tmp_path / "switchyard-state" / launcher.LOG_NAME).exists()  # no router was started


# -- processes --------------------------------------------------------------------------------

PROVIDERS = ("providers: {openrouter: {api_key: sk-or-v1-unused, base_url: 'http://127.0.0.1:9'}}\n"
             "default: {use: openrouter/some/model}\n")


class Setup:
    """A config on a free port, a fake `claude` on PATH, and the environment both run in."""

    def __init__(self, tmp_path: Path, server: str = "") -> None:
        self.tmp = tmp_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = tmp_path / "config.yaml"
        self.config.write_text(f"server: {{port: {self.port}, shutdown_grace: 0.5{server}}}\n" + PROVIDERS)
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        fake = bin_dir / "claude"
        fake.write_text(FAKE_CLAUDE.format(python=sys.executable))
        fake.chmod(0o755)
        self.record = tmp_path / "claude-record.json"
        self.state = tmp_path / "state"
        self.env = router_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
                              SWITCHYARD_STATE_DIR=str(self.state), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
                              FAKE_CLAUDE_RECORD=str(self.record), ANTHROPIC_API_KEY="sk-ant-from-the-shell")

    def code(self, *claude_args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "router", "code", "--config", str(self.config), *claude_args],
                                cwd=self.tmp, env={**self.env, **env}, text=True, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def seen(self) -> dict[str, Any]:
        return dict(json.loads(self.record.read_text()))

    def answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False


def finish(process: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate(timeout=10)
        raise AssertionError(f"router code did not finish:\n{out}\n{err}") from None
    return process.returncode, out, err


def test_no_router_running_one_is_started_for_claude_and_stopped_after(tmp_path: Path) -> None:
    setup = Setup(tmp_path, f", auth_token: {TOKEN}")
    assert not setup.answers()
    code, out, err = finish(setup.code("-p", "hello there", "--model", "opus", "--", "--not-ours",
                                       FAKE_CLAUDE_EXIT="7"))
    assert code == 7, err  # claude's exit status is ours
    seen = setup.seen()
    assert seen["argv"] == ["-p", "hello there", "--model", "opus", "--", "--not-ours"]
    assert seen["health"] == 200  # the router was up while claude ran
    assert seen["models"] == 200 and seen["models_bad_token"] == 401  # the token it was given is the one accepted
    env = seen["env"]
    assert env["ANTHROPIC_BASE_URL"] == setup.url and env["ANTHROPIC_AUTH_TOKEN"] == TOKEN
    assert "ANTHROPIC_API_KEY" not in env  # would be sent as x-api-key instead of the router's token
    assert not setup.answers()  # the router it started is gone
    log = (setup.state / launcher.LOG_NAME).read_text()
    assert f"listening on {setup.url}" in log and TOKEN not in log + out + err


def test_a_router_already_running_is_used_and_left_running(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    with router_process(["serve", "--config", str(setup.config)], tmp_path, setup.env) as server:
        wait_ready(setup.url)
        code, _, err = finish(setup.code("-p", "hi"))
        assert code == 0, err
        assert "using the router already running at " + setup.url in err
        seen = setup.seen()
        assert seen["health"] == 200 and seen["env"]["ANTHROPIC_AUTH_TOKEN"] == "switchyard"
        assert seen["models"] == 200  # no server.auth_token: the placeholder is accepted
        assert server.poll() is None and setup.answers()  # not ours to stop
    assert not (setup.state / launcher.LOG_NAME).exists()


def test_a_router_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    setup = Setup(tmp_path, ", host: 0.0.0.0")  # serve refuses: reachable from elsewhere, no token
    code, _, err = finish(setup.code("-p", "hi"))
    assert code == 1
    assert "`router serve` exited with status 2" in err and "can be reached from other machines" in err
    assert not setup.record.exists()  # claude never ran


def test_something_else_on_the_port_is_not_mistaken_for_a_router(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    other = subprocess.Popen([sys.executable, "-m", "http.server", str(setup.port), "--bind", "127.0.0.1"],
                             cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while launcher.probe(setup.url, timeout=1) is launcher.Found.NOTHING and time.monotonic() < deadline:
            time.sleep(0.05)
        code, _, err = finish(setup.code("-p", "hi"))
    finally:
        other.terminate()
        other.wait(timeout=10)
    assert code == 1 and "not a switchyard router" in err and str(setup.port) in err
    assert not setup.record.exists()


def test_a_sigint_sent_to_router_code_reaches_claude_and_the_router_still_stops(tmp_path: Path) -> None:
    setup = Setup(tmp_path)
    process = setup.code(FAKE_CLAUDE_MODE="wait", FAKE_CLAUDE_EXIT="130")
    ready = Path(f"{setup.record}.ready")
    deadline = time.monotonic() + 60
    while not ready.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready.exists(), finish(process)
    assert setup.answers()
    process.send_signal(signal.SIGINT)  # not from a terminal: router code passes it on
    code, _, err = finish(process)
    assert code == 130, err
    assert setup.seen()["signals"] == ["INT"]
    assert not setup.answers()
