"""`router statusline`: the line Claude Code shows, from the real state file and ledger, never an error.

Most tests run the installed `router` console script as Claude Code does (JSON on stdin, the
first line of stdout), against a state directory written by the router's own stores.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import sqlite3
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.provider import DEFAULT_ACCOUNT
from router.quota import QuotaWindow
from router.server import cli, statusline
from router.server.cooldowns import Cooldowns, SqliteStore, state_file
from router.server.ledger import Ledger, LedgerRow, ledger_file
from router.server.runtime import state_dir

HEAVY = ("uvicorn", "starlette", "httpx", "httpcore", "asyncio", "yaml", "pluggy", "router.server.app",
         "router.server.cli", "router.server.runtime", "router.provider")
SPARED = ("typing", "pathlib", "urllib.parse", "importlib.util", "logging", "dataclasses", "argparse", "threading")
"""Lighter modules the status line does without too: each costs an interpreter with no `site` start-up
work milliseconds (this suite's interpreter may have them loaded before the first line runs)."""
ROOT = Path(__file__).resolve().parents[2]
OPUS = "claude-opus-4-5"
HAIKU = "claude-haiku-4-5"
ESC = "\x1b["


def _script() -> list[str]:
    """The installed `router` console script (what settings.json runs), else `python -m router`."""
    script = Path(sysconfig.get_path("scripts")) / "router"
    return [str(script)] if script.exists() else [sys.executable, "-m", "router"]


def run_statusline(stdin: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "TZ": "UTC", **env}
    environment.pop("NO_COLOR", None)
    environment.update(env)
    return subprocess.run([*_script(), "statusline", *args], input=stdin, capture_output=True, text=True,
                          env=environment, timeout=60, check=False)


def claude_code_input(session: str = "s1", model: str | None = f"{OPUS}[1m]") -> str:
    """What Claude Code passes a statusLine command (its documented fields)."""
    data: dict[str, object] = {
        "hook_event_name": "Status", "session_id": session, "transcript_path": f"/tmp/{session}.jsonl",
        "cwd": "/tmp/project", "workspace": {"current_dir": "/tmp/project", "project_dir": "/tmp/project"},
        "version": "2.0.0", "output_style": {"name": "default"},
        "cost": {"total_cost_usd": 0.0, "total_duration_ms": 1000, "total_api_duration_ms": 800,
                 "total_lines_added": 0, "total_lines_removed": 0},
    }
    if model is not None:
        data["model"] = {"id": model, "display_name": "Opus"}
    return json.dumps(data)


def row(session: str, at: float, input_tokens: int, output_tokens: int, cached: int, *, model: str = OPUS,
        rule: str = "tier=opus", upstream: str = "gpt-5.5", status: int = 200, path: str = "/v1/messages",
        account: str = "work") -> LedgerRow:
    return LedgerRow(at=at, session=session, path=path, stream=True, client_model=model, tier=None, rule=rule,
                     provider="codex", account=account, upstream_model=upstream, input_tokens=input_tokens,
                     output_tokens=output_tokens, cached_tokens=cached, cost=None, ttfb_ms=20.0, total_ms=900.0,
                     status=status, error_type=None if status == 200 else "rate_limit_error")


def write_ledger(folder: Path, rows: list[LedgerRow]) -> None:
    ledger = Ledger(ledger_file(folder))
    for item in rows:
        ledger.record(item)
    ledger.close()


def cooldowns(folder: Path) -> Iterator[Cooldowns]:
    store = SqliteStore(state_file(folder))
    try:
        yield Cooldowns(store)
    finally:
        store.close()


def hhmm(at: float) -> str:
    """The reset time as the line tells it in UTC: `HH:MM` today, `Day HH:MM` on another day this week."""
    moment, today = time.gmtime(at), time.gmtime()
    return time.strftime("%H:%M" if moment[:3] == today[:3] else "%a %H:%M", moment)


@pytest.fixture
def populated(_state_dir: Path) -> dict[str, float]:
    """Quota figures of codex/work and a ledger with two sessions; s1's last request went to haiku."""
    now = time.time()
    resets = {"5 h": now + 2 * 3600, "weekly": now + 3 * 86400}
    for state in cooldowns(_state_dir):
        state.report_quota("codex", "work", [
            QuotaWindow("5 h", used_percent=42.0, resets_at=resets["5 h"], window_minutes=300),
            QuotaWindow("weekly", used_percent=18.0, resets_at=resets["weekly"], window_minutes=10080),
            QuotaWindow("credits", detail="unlimited"),
        ])
        state.report_quota("codex", "other", [QuotaWindow("5 h", used_percent=77.0, resets_at=now + 60)])
    write_ledger(_state_dir, [
        row("s1", now - 30, 1500, 300, 40_000),
        row("s1", now - 20, 2000, 200, 40_000),
        row("s1", now - 15, 7000, 0, 0, path="/v1/messages/count_tokens"),  # counted, not spent
        row("s1", now - 10, 10, 5, 0, model=HAIKU, rule="tier=haiku", upstream="gpt-5.4-mini"),
        row("s2", now - 5, 99_999, 8_888, 777_777, account="other", rule="tier=sonnet", upstream="gpt-5.3"),
    ])
    return resets


# ---------------------------------------------------------------- what the line says


def test_the_line_names_the_lane_the_sessions_tokens_and_the_accounts_quota(populated: dict[str, float]) -> None:
    done = run_statusline(claude_code_input("s1"), NO_COLOR="1")
    assert done.returncode == 0, done.stderr
    line = done.stdout
    assert line.count("\n") == 1 and line.endswith("\n")
    assert line.startswith("switchyard · tier=opus → codex/work gpt-5.5 · ")  # the main model's lane, not haiku's
    assert "in 3.5k out 505 cached 80.0k" in line  # 1500+2000+10, 300+200+5, 40k+40k: s1's messages only
    assert "100.0k" not in line and "8.9k" not in line and "777k" not in line  # nothing of s2
    assert f"5 h 42% ↻{hhmm(populated['5 h'])}" in line
    assert f"weekly 18% ↻{hhmm(populated['weekly'])}" in line
    assert "credits" not in line and "77%" not in line  # no figure to show; another account's
    assert "cooling" not in line


def test_without_the_main_model_the_last_request_names_the_lane(populated: dict[str, float]) -> None:
    line = run_statusline(claude_code_input("s1", model=None), NO_COLOR="1").stdout
    assert "tier=haiku → codex/work gpt-5.4-mini" in line
    assert "in 3.5k out 505 cached 80.0k" in line


def test_the_other_session_gets_its_own_lane_tokens_and_account(populated: dict[str, float]) -> None:
    line = run_statusline(claude_code_input("s2", model="claude-sonnet-4-5"), NO_COLOR="1").stdout
    assert "tier=sonnet → codex/other gpt-5.3" in line
    assert "in 100.0k out 8.9k cached 777k" in line
    assert "5 h 77%" in line and "42%" not in line


def test_a_cooling_account_says_until_when(_state_dir: Path) -> None:
    now = time.time()
    for state in cooldowns(_state_dir):
        state.report_quota("codex", "work", [QuotaWindow("5 h", used_percent=100.0, resets_at=now + 5400)])
        state.strike("codex", "work", "gpt-9", retry_after=60.0, reason="another model's")
    store = SqliteStore(state_file(_state_dir))
    until = [c.until for c in Cooldowns(store).snapshot() if c.model is None]
    store.close()
    assert len(until) == 1  # the used-up window put the whole account on cooldown until its reset
    write_ledger(_state_dir, [row("s1", now - 5, 10, 10, 0)])
    line = run_statusline(claude_code_input("s1"), NO_COLOR="1").stdout
    assert f"5 h 100% ↻{hhmm(now + 5400)}" in line
    assert line.rstrip("\n").endswith(f" · cooling until {hhmm(until[0])}")


def test_a_request_refused_for_cooling_shows_the_sessions_account(_state_dir: Path) -> None:
    now = time.time()
    for state in cooldowns(_state_dir):
        until = state.strike("codex", "work", None, retry_after=1800.0, reason="rate limited").until
    refused = row("s1", now - 5, 0, 0, 0, status=429)
    write_ledger(_state_dir, [row("s1", now - 60, 10, 10, 0), dataclasses.replace(refused, account=None)])
    line = run_statusline(claude_code_input("s1"), NO_COLOR="1").stdout
    assert "tier=opus → codex gpt-5.5 · last 429" in line  # served by no account
    assert line.rstrip("\n").endswith(f" · cooling until {hhmm(until)}")  # the one the session had


def test_a_cooldown_of_another_model_or_one_that_ended_is_not_shown(_state_dir: Path) -> None:
    now = time.time()
    clock = [now - 7200]
    store = SqliteStore(state_file(_state_dir), clock=lambda: clock[0])
    state = Cooldowns(store, clock=lambda: clock[0])
    state.strike("codex", "work", None, retry_after=60.0, reason="over an hour ago")  # ended long since
    clock[0] = now
    state.strike("codex", "work", "gpt-9", retry_after=600.0, reason="a model the session does not use")
    store.close()
    write_ledger(_state_dir, [row("s1", now - 5, 10, 10, 0)])
    line = run_statusline(claude_code_input("s1"), NO_COLOR="1").stdout
    assert "tier=opus → codex/work gpt-5.5" in line
    assert "cooling" not in line


def test_a_failed_last_request_and_the_default_account_read_short(_state_dir: Path) -> None:
    now = time.time()
    write_ledger(_state_dir, [row("s1", now - 5, 10, 10, 0, status=429, account=DEFAULT_ACCOUNT)])
    line = run_statusline(claude_code_input("s1"), NO_COLOR="1").stdout
    assert "tier=opus → codex gpt-5.5 · last 429 · in 10 out 10 cached 0" in line


def test_a_request_the_user_interrupted_is_no_failure(_state_dir: Path) -> None:
    write_ledger(_state_dir, [row("s1", time.time() - 5, 10, 3, 0, status=499)])
    line = run_statusline(claude_code_input("s1"), NO_COLOR="1").stdout
    assert "tier=opus → codex/work gpt-5.5 · in 10 out 3 cached 0" in line and "last" not in line


def test_colour_unless_no_color(populated: dict[str, float]) -> None:
    coloured = run_statusline(claude_code_input("s1")).stdout
    plain = run_statusline(claude_code_input("s1"), NO_COLOR="1").stdout
    assert ESC in coloured and ESC not in plain
    assert f"{ESC}36mtier=opus → codex/work gpt-5.5{ESC}0m" in coloured
    stripped = coloured
    for code in ("2", "36", "33", "31", "0"):
        stripped = stripped.replace(f"{ESC}{code}m", "")
    assert stripped == plain


# ---------------------------------------------------------------- never an error


@pytest.mark.parametrize("stdin", ["", "not json", "{", "[1, 2]", '{"session_id": 42}', '{"model": "x"}'])
def test_bad_stdin_still_prints_the_name(populated: dict[str, float], stdin: str) -> None:
    done = run_statusline(stdin, NO_COLOR="1")
    assert (done.returncode, done.stdout, done.stderr) == (0, "switchyard\n", "")


def test_stdin_that_is_not_text_still_prints_the_name(populated: dict[str, float]) -> None:
    done = subprocess.run([*_script(), "statusline"], input=b'{"session_id": "s1\xff\xfe', capture_output=True,
                          env={**os.environ, "NO_COLOR": "1"}, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"switchyard\n", b"")


def test_no_files_yet_prints_the_name_and_creates_nothing(_state_dir: Path) -> None:
    done = run_statusline(claude_code_input("s1"), NO_COLOR="1")
    assert (done.returncode, done.stdout, done.stderr) == (0, "switchyard\n", "")
    assert not _state_dir.exists()


def test_an_unknown_session_prints_the_name(populated: dict[str, float]) -> None:
    done = run_statusline(claude_code_input("s3"), NO_COLOR="1")
    assert (done.returncode, done.stdout) == (0, "switchyard\n")


def test_a_locked_state_file_leaves_out_the_quota(populated: dict[str, float], _state_dir: Path) -> None:
    holder = sqlite3.connect(state_file(_state_dir), isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode=DELETE").fetchone()  # a rollback journal: readers wait for writers
        holder.execute("BEGIN EXCLUSIVE")
        done = run_statusline(claude_code_input("s1"), NO_COLOR="1")
    finally:
        holder.close()
    assert (done.returncode, done.stderr) == (0, "")
    assert "tier=opus → codex/work gpt-5.5 · in 3.5k" in done.stdout
    assert "42%" not in done.stdout


def test_damaged_files_print_what_is_left_and_are_left_alone(populated: dict[str, float], _state_dir: Path) -> None:
    for suffix in ("-wal", "-shm"):
        state_file(_state_dir).with_name(f"router.sqlite3{suffix}").unlink(missing_ok=True)
    state_file(_state_dir).write_bytes(b"this is not a database" * 100)
    done = run_statusline(claude_code_input("s1"), NO_COLOR="1")
    assert (done.returncode, done.stderr) == (0, "")
    assert "tier=opus → codex/work gpt-5.5" in done.stdout and "%" not in done.stdout
    for suffix in ("-wal", "-shm"):
        ledger_file(_state_dir).with_name(f"usage.sqlite3{suffix}").unlink(missing_ok=True)
    ledger_file(_state_dir).write_bytes(b"\x00garbage" * 100)
    done = run_statusline(claude_code_input("s1"), NO_COLOR="1")
    assert (done.returncode, done.stdout, done.stderr) == (0, "switchyard\n", "")
    assert ledger_file(_state_dir).read_bytes() == b"\x00garbage" * 100  # a reader never moves a file aside
    assert sorted(p.name for p in _state_dir.iterdir() if "corrupt" in p.name) == []


def test_a_ledger_without_the_table_prints_the_name(_state_dir: Path) -> None:
    _state_dir.mkdir(parents=True)
    sqlite3.connect(ledger_file(_state_dir)).close()
    done = run_statusline(claude_code_input("s1"), NO_COLOR="1")
    assert (done.returncode, done.stdout) == (0, "switchyard\n")


def test_the_files_can_be_named_on_the_command_line(populated: dict[str, float], _state_dir: Path,
                                                    tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere"
    _state_dir.rename(moved)
    (moved / "usage.sqlite3").rename(tmp_path / "ledger.db")
    for suffix in ("-wal", "-shm"):
        (moved / f"usage.sqlite3{suffix}").unlink(missing_ok=True)
    line = run_statusline(claude_code_input("s1"), "--state-dir", str(moved), f"--ledger={tmp_path / 'ledger.db'}",
                          "--unknown", NO_COLOR="1").stdout
    assert "tier=opus → codex/work gpt-5.5" in line and "5 h 42%" in line


def test_help_and_the_cli_entry(populated: dict[str, float], _state_dir: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    done = run_statusline("", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: router statusline")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(sys, "stdin", io.StringIO(claude_code_input("s1")))
    assert cli.main(["statusline", "--state-dir", str(_state_dir)]) == 0
    assert "tier=opus → codex/work gpt-5.5 · in 3.5k" in capsys.readouterr().out


# ---------------------------------------------------------------- the formats, at a fixed time


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_times_and_counts_read_short(utc: None, _state_dir: Path) -> None:
    now = 1_796_292_000.0  # Thursday 2026-12-03 10:00 UTC
    windows = [QuotaWindow("5 h", 96.0, now + 4 * 3600 + 300), QuotaWindow("weekly", 81.5, now + 4 * 86400 - 3600),
               QuotaWindow("monthly credits", 12.0, now + 29 * 86400), QuotaWindow("daily", 50.0, now - 1)]
    store = SqliteStore(state_file(_state_dir), clock=lambda: now)
    Cooldowns(store, clock=lambda: now).report_quota("kiro", DEFAULT_ACCOUNT, windows)
    store.close()
    ledger = Ledger(ledger_file(_state_dir), clock=lambda: now)
    ledger.record(LedgerRow(now, "k", "/v1/messages", False, OPUS, "opus", "default", "kiro", DEFAULT_ACCOUNT,
                            "claude-opus-4.5", 1_234_567, 999, 100_000, 0.0421, None, 10.0, 200, None))
    ledger.close()
    session = json.loads(claude_code_input("k"))
    line = statusline.status_line(session, env={"NO_COLOR": "1"}, state=str(_state_dir), now=now)
    assert line == ("switchyard · default → kiro claude-opus-4.5 · in 1.23M out 999 cached 100k $0.042 · "
                    "5 h 96% ↻14:05, weekly 82% ↻Mon 09:00, monthly credits 12% ↻Jan 1")
    coloured = statusline.status_line(session, env={}, state=str(_state_dir), now=now)
    assert f"5 h {ESC}31m96%{ESC}0m" in coloured and f"weekly {ESC}33m82%{ESC}0m" in coloured
    assert "monthly credits 12%" in coloured


# ---------------------------------------------------------------- fast: the server is never imported


def test_the_fast_path_imports_nothing_of_the_server(populated: dict[str, float]) -> None:
    probe = ("import sys\n"
             "from router.server.entry import main\n"
             "code = main(['statusline'])\n"
             f"print(sorted(name for name in {HEAVY + SPARED!r} if name in sys.modules), code)\n")
    # -S: no site-packages start-up work, so nothing is loaded before the probe but the interpreter's own
    done = subprocess.run([sys.executable, "-S", "-c", probe], input=claude_code_input("s1"), capture_output=True,
                          text=True, env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    line, imported = done.stdout.splitlines()
    assert "tier=opus → codex/work gpt-5.5" in line
    assert imported == "[] 0"


def test_the_copied_names_match_the_routers() -> None:
    assert statusline.STATE_FILE == state_file(Path("x")).name
    assert statusline.LEDGER_FILE == ledger_file(Path("x")).name
    assert statusline.DEFAULT_ACCOUNT == DEFAULT_ACCOUNT


@pytest.mark.parametrize("env", [{"SWITCHYARD_STATE_DIR": "/s"}, {"XDG_STATE_HOME": "/x"}, {"HOME": "/h"},
                                 {"SWITCHYARD_STATE_DIR": "", "XDG_STATE_HOME": "/x"}])
def test_the_state_dir_is_the_routers(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SWITCHYARD_STATE_DIR", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Path(statusline.state_dir(os.environ)) == state_dir()
