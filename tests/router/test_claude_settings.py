"""`router claude-settings`: our keys into Claude Code's settings.json and out again, nothing else touched."""

from __future__ import annotations

import io
import json
import subprocess
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from router.server import claude_settings, cli
from router.server.config import ServerConfig
from router.server.plugins import make_plugin_manager
from tests.conftest import CONFIG
from tests.support import scripted

TOKEN = "s3cret-router-token"
USER_SETTINGS: dict[str, Any] = {
    "model": "opus",
    "permissions": {"allow": ["Bash(git status)"], "deny": []},
    "env": {"MY_VAR": "mine", "OPENAI_API_KEY": "sk-users-own-secret"},
    "hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done"}]}]},
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cli, "make_plugin_manager",
                        lambda **kwargs: make_plugin_manager(builtins=(), extra=[scripted], autoload=False))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    (tmp_path / "config.yaml").write_text(CONFIG.replace("server: {", f"server: {{port: 9123, auth_token: {TOKEN}, "))
    return tmp_path / "home"


def run(home: Path, *args: str) -> int:
    return cli.main(["claude-settings", *args, "--config", str(home.parent / "config.yaml")])


def settings_file(home: Path, content: dict[str, Any] | None = None, mode: int = 0o644) -> Path:
    path = home / ".claude" / "settings.json"
    if content is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, indent=4))
        path.chmod(mode)
    return path


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob("settings.json.*.bak"))


def test_the_settings_file_follows_claude_config_dir(tmp_path: Path) -> None:
    assert claude_settings.settings_path({"HOME": str(tmp_path)}) == tmp_path / ".claude" / "settings.json"
    assert claude_settings.settings_path({"HOME": "/x", "CLAUDE_CONFIG_DIR": str(tmp_path / "cc")}) == \
        tmp_path / "cc" / "settings.json"


def test_install_and_uninstall_round_trip_leaves_every_other_key(home: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = settings_file(home, USER_SETTINGS, mode=0o640)
    original = path.read_text()

    assert run(home, "install", "--yes", "--statusline") == 0
    out = capsys.readouterr().out
    written = json.loads(path.read_text())
    assert written["env"] == {**USER_SETTINGS["env"], "ANTHROPIC_BASE_URL": "http://127.0.0.1:9123",
                              "ANTHROPIC_AUTH_TOKEN": TOKEN}
    assert written["statusLine"]["type"] == "command"
    shown = subprocess.run(written["statusLine"]["command"], shell=True, input='{"session_id": "s"}',
                           capture_output=True, text=True, timeout=30, env={**os.environ, "NO_COLOR": "1"})
    assert shown.returncode == 0 and shown.stdout.startswith("switchyard")  # the registered command runs
    assert " -S " in written["statusLine"]["command"]  # without `site`: it needs only the standard library
    assert {k: v for k, v in written.items() if k not in ("env", "statusLine", "switchyard")} == \
        {k: v for k, v in USER_SETTINGS.items() if k != "env"}
    assert set(written["switchyard"]["owns"]) == {"env.ANTHROPIC_BASE_URL", "env.ANTHROPIC_AUTH_TOKEN", "statusLine"}
    assert TOKEN not in json.dumps(written["switchyard"])  # fingerprints, not values
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # the file keeps its mode
    (saved,) = backups(path)
    assert saved.read_text() == original  # the old file, beside it
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []  # atomic: no temp left
    # the diff was shown, with every secret hidden
    assert '+    "ANTHROPIC_BASE_URL": "http://127.0.0.1:9123"' in out and "+  \"statusLine\"" in out
    assert TOKEN not in out and "sk-users-own-secret" not in out
    assert '"OPENAI_API_KEY": "<hidden>"' in out and '+    "ANTHROPIC_AUTH_TOKEN": "<hidden, changed>"' in out
    assert claude_settings.fingerprint(TOKEN) not in out  # not even a digest of it
    assert f"the old file is in {saved}" in out

    assert run(home, "uninstall", "--yes") == 0
    capsys.readouterr()
    assert json.loads(path.read_text()) == USER_SETTINGS
    assert len(backups(path)) == 2


def test_uninstall_removes_only_what_is_still_ours(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = settings_file(home, USER_SETTINGS)
    assert run(home, "install", "--yes") == 0
    doc = json.loads(path.read_text())
    doc["env"]["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:9999"  # edited by hand since
    doc["statusLine"] = {"type": "command", "command": "my-own-line"}  # never ours
    path.write_text(json.dumps(doc))
    capsys.readouterr()

    assert run(home, "uninstall", "--yes") == 0
    out = capsys.readouterr().out
    after = json.loads(path.read_text())
    assert after["env"] == {**USER_SETTINGS["env"], "ANTHROPIC_BASE_URL": "http://127.0.0.1:9999"}
    assert after["statusLine"] == {"type": "command", "command": "my-own-line"}
    assert "switchyard" not in after
    assert "leaving env.ANTHROPIC_BASE_URL: it was changed" in out


def test_without_the_marker_uninstall_matches_values(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = settings_file(home, {"env": {"ANTHROPIC_BASE_URL": "http://127.0.0.1:9123", "ANTHROPIC_AUTH_TOKEN": TOKEN,
                                        "KEEP": "1"}, "statusLine": {"type": "command", "command": "x"}})
    assert run(home, "uninstall", "--yes") == 0
    assert json.loads(path.read_text()) == {"env": {"KEEP": "1"}, "statusLine": {"type": "command", "command": "x"}}


def test_install_into_no_file_creates_a_private_one(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = settings_file(home)
    assert run(home, "install", "--yes") == 0
    assert json.loads(path.read_text())["env"]["ANTHROPIC_AUTH_TOKEN"] == TOKEN
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and backups(path) == []
    assert "--- /dev/null" in capsys.readouterr().out
    assert run(home, "install", "--yes") == 0
    assert "up to date" in capsys.readouterr().out and backups(path) == []  # nothing to do, nothing backed up
    assert run(home, "uninstall", "--yes") == 0
    assert json.loads(path.read_text()) == {}
    assert run(home, "uninstall", "--yes") == 0
    assert "nothing to remove" in capsys.readouterr().out


def test_not_in_a_terminal_it_refuses_without_yes(home: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    path = settings_file(home, USER_SETTINGS)
    before = path.read_text()
    assert run(home, "install") == 1
    captured = capsys.readouterr()
    assert "--yes" in captured.err and "+    \"ANTHROPIC_BASE_URL\"" in captured.out  # the diff, then the refusal
    assert path.read_text() == before and backups(path) == []


@pytest.mark.parametrize(("answer", "writes"), [("y", True), ("yes", True), ("", False), ("n", False)])
def test_the_prompt_writes_only_on_yes(tmp_path: Path, answer: str, writes: bool) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{}")
    asked: list[str] = []
    out = io.StringIO()

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return answer

    code = claude_settings.command("install", ServerConfig(), path=path, out=out, err=out, ask=ask, interactive=True)
    assert asked == [f"write these changes to {path}? [y/N] "]
    assert code == (0 if writes else 1)
    env = json.loads(path.read_text()).get("env")
    assert env == ({"ANTHROPIC_BASE_URL": "http://127.0.0.1:8765", "ANTHROPIC_AUTH_TOKEN": "switchyard"}
                   if writes else None)


def test_show_prints_the_state_and_what_would_be_written(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = settings_file(home, USER_SETTINGS)
    before = path.read_text()
    assert run(home, "show", "--statusline") == 0
    out = capsys.readouterr().out
    assert f"settings file: {path}" in out and "installed: no" in out
    assert 'env.ANTHROPIC_BASE_URL = "http://127.0.0.1:9123"' in out and "statusLine = " in out
    assert "+    \"ANTHROPIC_BASE_URL\"" in out and TOKEN not in out
    assert path.read_text() == before  # show writes nothing

    assert run(home, "install", "--yes") == 0
    capsys.readouterr()
    assert run(home, "show") == 0
    out = capsys.readouterr().out
    assert "env.ANTHROPIC_AUTH_TOKEN: as written" in out and "already holds all of it" in out


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"env": "x"}'])
def test_a_file_it_cannot_edit_safely_is_left_alone(home: Path, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = settings_file(home, {})
    path.write_text(text)
    assert run(home, "install", "--yes") == 2
    assert f"cannot edit {path}" in capsys.readouterr().err
    assert path.read_text() == text and backups(path) == []


def test_a_new_token_shows_in_the_diff_without_showing_either_token(home: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = settings_file(home, {})
    assert run(home, "install", "--yes") == 0
    config = home.parent / "config.yaml"
    config.write_text(config.read_text().replace(TOKEN, "an-0ther-token"))
    capsys.readouterr()
    assert run(home, "install", "--yes") == 0
    out = capsys.readouterr().out
    assert '-    "ANTHROPIC_AUTH_TOKEN": "<hidden>"' in out
    assert '+    "ANTHROPIC_AUTH_TOKEN": "<hidden, changed>"' in out
    assert TOKEN not in out and "an-0ther-token" not in out
    assert json.loads(path.read_text())["env"]["ANTHROPIC_AUTH_TOKEN"] == "an-0ther-token"
