"""`python -m bench.statusline`: the wall-clock time of `router statusline`, as Claude Code runs it.

Claude Code runs its status line command on every prompt, so `router statusline` must answer
in well under 50 ms. This writes a state directory the way the router does (quota windows, a
cooldown and sticky sessions through `router.server.cooldowns`, `--rows` ledger rows over
`--sessions` sessions through `router.server.ledger`), then runs the console script `--runs`
times with a Claude Code-shaped JSON on stdin, after two warm-up runs, and reports the median,
p95 and extremes of the whole process (fork, interpreter start, imports, both SQLite reads,
the line). For scale it times the bare interpreter the same way (`python -c pass`).

`--script` names the console script (default: `router` beside this interpreter). One from an
install older than `router.server.entry` enters through `router.server.cli` and imports the
whole server: reinstall (`pip install -e .`) to measure what users get. `--lean` runs both
under `python -S` (the repository on PYTHONPATH), leaving out what `site` does at start (an
editable install's import finder, `.pth` files), which some environments make the larger part.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from bench.bodies import REPO
from router.quota import QuotaWindow
from router.server.cooldowns import Cooldowns, SqliteStore, state_file
from router.server.ledger import Ledger, LedgerRow, ledger_file

SESSION = "session-0"


def populate(folder: Path, rows: int, sessions: int) -> None:
    """A state file and a ledger as a router that served `rows` requests would leave them."""
    now = time.time()
    store = SqliteStore(state_file(folder))
    cooldowns = Cooldowns(store)
    for account in ("work", "home"):
        cooldowns.report_quota("codex", account, [
            QuotaWindow("5 h", used_percent=42.0, resets_at=now + 7200, window_minutes=300),
            QuotaWindow("weekly", used_percent=18.0, resets_at=now + 3 * 86400, window_minutes=10080),
        ])
    cooldowns.strike("codex", "home", None, retry_after=900.0, reason="rate limited")
    for n in range(sessions):
        store.save_session(f"session-{n}", "codex", "work", now)
    store.close()
    ledger = Ledger(ledger_file(folder))
    for n in range(rows):
        tier = ("opus", "sonnet", "haiku")[n % 3]
        ledger.record(LedgerRow(
            at=now - (rows - n), session=f"session-{n % sessions}", path="/v1/messages", stream=True,
            client_model=f"claude-{tier}-4-5", tier=tier, rule=f"tier={tier}", provider="codex",
            account="work", upstream_model="gpt-5.5", input_tokens=1200 + n % 500, output_tokens=300,
            cached_tokens=40_000, cost=None, ttfb_ms=400.0, total_ms=5000.0, status=200, error_type=None,
        ))
    ledger.close()


def claude_code_input() -> bytes:
    return json.dumps({
        "session_id": SESSION, "transcript_path": "/tmp/transcript.jsonl", "cwd": "/tmp",
        "model": {"id": "claude-opus-4-5", "display_name": "Opus 4.5"},
        "workspace": {"current_dir": "/tmp", "project_dir": "/tmp"}, "version": "2.0.0",
        "cost": {"total_cost_usd": 0.0, "total_duration_ms": 0, "total_api_duration_ms": 0,
                 "total_lines_added": 0, "total_lines_removed": 0},
    }).encode()


def timed(command: list[str], stdin: bytes, env: dict[str, str], runs: int) -> tuple[list[float], list[float], bytes]:
    """Wall-clock and CPU (user + system) milliseconds of `runs` runs after two warm-ups, and
    the last run's output. CPU time says what the command costs when other work slows the clock."""
    out = b""
    walls, cpus = [], []
    for n in range(runs + 2):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, input=stdin, capture_output=True, env=env, timeout=30, check=True)
        wall = (time.perf_counter() - start) * 1000
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if n >= 2:
            walls.append(wall)
            cpus.append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
        out = done.stdout
    return walls, cpus, out


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"median {statistics.median(ordered):5.1f} ms, p95 {p95:5.1f} ms, "
            f"min {ordered[0]:5.1f} ms, max {ordered[-1]:5.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.statusline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--script", type=Path, default=Path(sysconfig.get_path("scripts")) / "router")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--rows", type=int, default=20_000, help="ledger rows (default 20,000)")
    parser.add_argument("--sessions", type=int, default=40, help="sessions they belong to (default 40)")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="keep the environment's PYTHONDONTWRITEBYTECODE: every run compiles the router's "
                             "modules afresh (by default compiled bytecode is kept in a temporary folder, as an "
                             "installed command has it)")
    parser.add_argument("--lean", action="store_true", help="run both under `python -S` (no site start-up work)")
    args = parser.parse_args(argv)
    text = args.script.read_text(errors="replace") if args.script.exists() else ""
    if "router.server.entry" not in text:
        print(f"note: {args.script} does not enter through router.server.entry (an older install?)")
    with tempfile.TemporaryDirectory(prefix="statusline-") as folder:
        populate(Path(folder), args.rows, args.sessions)
        env = {**os.environ, "SWITCHYARD_STATE_DIR": folder, "NO_COLOR": "1"}
        if not args.no_bytecode:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(folder) / "pycache")
        stdin = claude_code_input()
        python = [sys.executable, "-S"] if args.lean else [sys.executable]
        if args.lean:
            env["PYTHONPATH"] = str(REPO)
        command = [*python, str(args.script)] if args.lean else [str(args.script)]
        line_wall, line_cpu, line = timed([*command, "statusline"], stdin, env, args.runs)
        bare_wall, bare_cpu, _ = timed([*python, "-c", "pass"], b"", env, args.runs)
    print(f"line: {line.decode().rstrip()}")
    print(f"{args.runs} runs each, {args.rows:,} ledger rows, bytecode {'not kept' if args.no_bytecode else 'kept'}"
          f"{', python -S' if args.lean else ''}")
    bare = "python -S -c pass" if args.lean else "python -c pass"
    for label, wall, cpu in (("router statusline", line_wall, line_cpu), (bare, bare_wall, bare_cpu)):
        print(f"{label:<18} wall: {summary(wall)}")
        print(f"{'':<18} cpu:  {summary(cpu)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
