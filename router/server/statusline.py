"""`router statusline`: the one line Claude Code shows under its prompt, for a session on the router.

Claude Code runs the `statusLine` command of its settings on every prompt, with a JSON
description of the session on stdin (`session_id`, `model.id`, `workspace`, `cost`, ...), and
shows the first line it prints. This one says which lane served the session's last request
(rule, provider/account, upstream model), the session's tokens so far from the usage ledger,
and how much of that account's quota is left (used %, reset time, a cooldown) from the state
file, e.g. `switchyard tier=opus → codex/work gpt-5.5 · in 12.3k out 4.1k cached 80k · 5 h 42%
↻14:05, weekly 18% ↻Mon 09:00`.

Because it runs on every prompt it must answer in a few milliseconds: `router.server.entry`
imports this module alone, before anything of the server, and it imports only `json` and
`sqlite3` beyond what the interpreter has loaded at start (not even `pathlib` or `typing`: each
costs milliseconds). No config file is read: `--state-dir` and `--ledger` say where the files
are when they are not in the default place. Both files are opened read-only and never created, so a running
router is never blocked. A status line that fails shows nothing at all, so every failure (no
files yet, a locked or damaged file, stdin that is not JSON) prints less, down to the bare
`switchyard`, and the exit status is always 0.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time

TYPE_CHECKING = False  # typing's own would import typing
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any, TextIO

NAME = "switchyard"
STATE_FILE = "router.sqlite3"
"""`router.server.cooldowns.state_file`'s name (not imported: that module brings logging and more)."""
LEDGER_FILE = "usage.sqlite3"
"""`router.server.ledger.ledger_file`'s name (that module imports asyncio)."""
DEFAULT_ACCOUNT = "default"
"""`router.provider.DEFAULT_ACCOUNT`: an account that is not shown, the provider's own login."""
BUSY_TIMEOUT = 0.02
"""Seconds to wait for a file another process holds locked before leaving its part out."""
MMAP_SIZE = 1 << 28
"""Bytes of each file read through a memory map (the rest, if any, by read calls)."""
CLIENT_GONE = 499
"""The ledger's status for a request the client dropped (Esc in Claude Code): not a failure to show."""
MESSAGES = "/v1/messages"
"""The ledger rows that spent tokens (token counting does not)."""
USAGE = """usage: router statusline [--state-dir DIR] [--ledger FILE]

Print one status line for the Claude Code session described by the JSON on stdin; for
settings.json: {"statusLine": {"type": "command", "command": "router statusline"}}.
  --state-dir DIR  the router's state directory (default: $SWITCHYARD_STATE_DIR, else
                   $XDG_STATE_HOME/switchyard or ~/.local/state/switchyard)
  --ledger FILE    the usage ledger, when the config's ledger.path moved it
"""

_COLOURS = {"lane": "36", "dim": "2", "warn": "33", "bad": "31"}
_WARN_PERCENT = 80.0
_BAD_PERCENT = 95.0


def main(argv: Sequence[str] | None = None) -> int:
    """`router statusline [--state-dir DIR] [--ledger FILE]`; unknown options are ignored, never an error."""
    options = _options(sys.argv[1:] if argv is None else argv)
    if options is None:
        sys.stdout.write(USAGE)
        return 0
    return run(*(_path(options.get(name)) for name in ("--state-dir", "--ledger")))


def run(
    state: str | None = None,
    ledger: str | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    env: Mapping[str, str] = os.environ,
) -> int:
    """Read the session from `stdin`, print its line to `stdout`; returns 0 whatever happens."""
    out = stdout if stdout is not None else sys.stdout
    try:
        line = status_line(_read_session(stdin if stdin is not None else sys.stdin), state, ledger, env=env)
    except Exception:  # a status line must never error: the bare name is still a line
        line = NAME
    try:
        out.write(line + "\n")
        out.flush()
    except (OSError, ValueError):  # Claude Code went away before reading it
        pass
    return 0


def status_line(
    session: Mapping[str, Any],
    state: str | None = None,
    ledger: str | None = None,
    *,
    env: Mapping[str, str] = os.environ,
    now: float | None = None,
) -> str:
    """The line for `session` (Claude Code's statusLine JSON), from the files in `state`
    (default `state_dir(env)`) and the ledger (default `usage.sqlite3` there)."""
    folder = state if state is not None else state_dir(env)
    when = time.time() if now is None else now
    paint = _Paint(not env.get("NO_COLOR"))
    parts = [paint(NAME, "dim")]
    session_id = session.get("session_id")
    if not isinstance(session_id, str) or not session_id:
        return parts[0]
    last, sums = _session(ledger or os.path.join(folder, LEDGER_FILE), session_id, _model_of(session))
    if last is None:
        return parts[0]
    rule, provider, account, upstream, status, held = last
    target = provider if account in (None, DEFAULT_ACCOUNT) else f"{provider}/{account}"
    lane = f"{rule} → {target}" if provider else f"{rule} → (none)"
    parts.append(paint(f"{lane} {upstream}" if upstream else lane, "lane"))
    if status >= 400 and status != CLIENT_GONE:
        parts.append(paint(f"last {status}", "bad"))
    if sums is not None:
        parts.append(_tokens(*sums))
    if provider and held:
        windows, cooling = _account(os.path.join(folder, STATE_FILE), provider, held, upstream, when)
        quota = ", ".join(_window(paint, name, used, resets, when) for name, used, resets in windows)
        if quota:
            parts.append(quota)
        if cooling is not None:
            parts.append(paint(f"cooling until {_clock(cooling, when)}", "bad"))
    return f" {paint('·', 'dim')} ".join(parts)


def state_dir(env: Mapping[str, str] = os.environ) -> str:
    """`router.server.runtime.state_dir` (that module imports the server's HTTP stack)."""
    configured = env.get("SWITCHYARD_STATE_DIR")
    if configured:
        return configured
    base = env.get("XDG_STATE_HOME") or os.path.join(_home(env), ".local", "state")
    return os.path.join(base, "switchyard")


def _home(env: Mapping[str, str]) -> str:
    """`Path.home()`: $HOME, else the user's entry in the password database."""
    home = env.get("HOME") or os.path.expanduser("~")
    if home == "~":
        raise RuntimeError("no home directory")
    return home


# -- reading --------------------------------------------------------------------------------------

_Last = tuple[str, str | None, str | None, str | None, int, str | None]
"""rule, provider, account, upstream model and status of a session's last request, and the
account whose quota to show (its account, else the one that served the session before)."""
_Sums = tuple[int, int, int, float | None]
"""input, output and cached tokens, cost (None when no backend reported one)."""
_Window = tuple[str, float, float | None]
"""name, used percent, reset time (epoch s)."""


def _read_session(stream: TextIO) -> Mapping[str, Any]:
    try:
        data = json.loads(stream.read())
    except (ValueError, OSError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _model_of(session: Mapping[str, Any]) -> str | None:
    """The session's main model as requests name it: `claude-opus-4-5[1m]` is sent as `claude-opus-4-5`."""
    model = session.get("model")
    model_id = model.get("id") if isinstance(model, dict) else None
    return model_id.partition("[")[0] if isinstance(model_id, str) and model_id else None


def _connect(path: str) -> sqlite3.Connection:
    """`path` opened read-only, never created, waiting `BUSY_TIMEOUT` at most for a lock; pages
    are read through a memory map (a session's rows lie scattered over the ledger: a read call
    for each costs more than the queries)."""
    conn = sqlite3.connect(f"file:{_uri_path(path)}?mode=ro", uri=True, timeout=BUSY_TIMEOUT)
    conn.execute(f"PRAGMA mmap_size = {MMAP_SIZE}")
    return conn


def _uri_path(path: str) -> str:
    """`path`, absolute, as the path of an SQLite `file:` URI (which ends at `?` or `#` and decodes `%`)."""
    absolute = os.path.abspath(path)
    return absolute.replace("%", "%25").replace("?", "%3f").replace("#", "%23")


def _session(path: str, session: str, model: str | None) -> tuple[_Last | None, _Sums | None]:
    """The session's last request (its last one for `model`, the session's main model, when there
    is one: Claude Code's background calls on haiku would otherwise flip the line) and its sums."""
    try:
        conn = _connect(path)
    except sqlite3.Error:
        return None, None
    try:
        query = ("SELECT rule, provider, account, upstream_model, status FROM requests WHERE session = ?"
                 " AND path = ? {} ORDER BY at DESC, id DESC LIMIT 1")
        row = None
        if model is not None:
            row = conn.execute(query.format("AND client_model = ?"), (session, MESSAGES, model)).fetchone()
        if row is None:
            row = conn.execute(query.format(""), (session, MESSAGES)).fetchone()
        if row is None:
            return None, None
        held = row[2]
        if held is None and row[1] is not None:  # every attempt failed (the account cooling, say): the
            # quota to show is that of the account that served the session last
            found = conn.execute(
                "SELECT account FROM requests WHERE session = ? AND provider = ? AND account IS NOT NULL"
                " ORDER BY at DESC, id DESC LIMIT 1", (session, row[1]),
            ).fetchone()
            held = found[0] if found else None
        sums = conn.execute(
            "SELECT coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),"
            " coalesce(sum(cached_tokens), 0), sum(cost) FROM requests WHERE session = ? AND path = ?",
            (session, MESSAGES),
        ).fetchone()
    except sqlite3.Error:
        return None, None
    finally:
        conn.close()
    rule, provider, account, upstream, status = row
    code = status if isinstance(status, int) else 0
    return (str(rule), _text(provider), _text(account), _text(upstream), code, _text(held)), _sums(sums)


def _account(
    path: str, provider: str, account: str, model: str | None, now: float
) -> tuple[list[_Window], float | None]:
    """The account's quota windows that have not reset since they were seen, and the end of the
    cooldown (of the account, or of `model` on it) in force now, if any."""
    try:
        conn = _connect(path)
    except sqlite3.Error:
        return [], None
    try:
        quota = conn.execute("SELECT windows FROM quotas WHERE provider = ? AND account = ?",
                             (provider, account)).fetchone()
        until = conn.execute(
            "SELECT max(until) FROM cooldowns WHERE provider = ? AND account = ? AND model IN ('', ?) AND until > ?",
            (provider, account, model or "", now),
        ).fetchone()
    except sqlite3.Error:
        return [], None
    finally:
        conn.close()
    cooling = until[0] if until and isinstance(until[0], (int, float)) else None
    return (_windows(quota[0], now) if quota else []), cooling


def _windows(text: Any, now: float) -> list[_Window]:
    """The windows with a used percentage in what `cooldowns._windows_to_json` wrote; a window
    whose reset has passed is left out (its figure is from before the reset)."""
    try:
        items = json.loads(text)
    except (TypeError, ValueError):
        return []
    found: list[_Window] = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        used, resets, name = _number(item.get("used_percent")), _number(item.get("resets_at")), item.get("name")
        if used is None or not isinstance(name, str) or (resets is not None and resets <= now):
            continue
        found.append((name, used, resets))
    return found


def _sums(row: Sequence[Any] | None) -> _Sums | None:
    if row is None:
        return None
    tokens = [value if isinstance(value, int) else 0 for value in row[:3]]
    return tokens[0], tokens[1], tokens[2], _number(row[3])


def _text(value: Any) -> str | None:
    return str(value) if value is not None and value != "" else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _path(text: str | None) -> str | None:
    return os.path.expanduser(text) if text else None


def _options(argv: Sequence[str]) -> dict[str, str] | None:
    """`--state-dir` and `--ledger` (as `--x V` or `--x=V`); None for `--help`. Anything else is
    skipped: a typo in settings.json must not blank the line."""
    found: dict[str, str] = {}
    items = iter(argv)
    for item in items:
        if item in ("-h", "--help"):
            return None
        key, equals, value = item.partition("=")
        if key in ("--state-dir", "--ledger"):
            found[key] = value if equals else next(items, "")
    return found


# -- rendering ------------------------------------------------------------------------------------


class _Paint:
    """ANSI colour for a part of the line (Claude Code shows it), none when NO_COLOR is set."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, colour: str) -> str:
        return f"\x1b[{_COLOURS[colour]}m{text}\x1b[0m" if self.enabled else text


def _tokens(tokens_in: int, tokens_out: int, cached: int, cost: float | None) -> str:
    text = f"in {_count(tokens_in)} out {_count(tokens_out)} cached {_count(cached)}"
    if not cost:
        return text
    return text + (f" ${cost:.2f}" if cost >= 0.1 else f" ${cost:.3f}")


def _count(n: int) -> str:
    """`812`, `12.3k`, `1.25M`: a token count in at most five characters or so."""
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k" if n < 100_000 else f"{n // 1000}k"
    return f"{n / 1_000_000:.2f}M"


def _window(paint: _Paint, name: str, used: float, resets: float | None, now: float) -> str:
    colour = "bad" if used >= _BAD_PERCENT else "warn" if used >= _WARN_PERCENT else None
    figure = f"{used:.0f}%"
    text = f"{name} {paint(figure, colour) if colour else figure}"
    return f"{text} ↻{_clock(resets, now)}" if resets is not None else text


def _clock(at: float, now: float) -> str:
    """A local time as short as it can be told: `14:05` today, `Mon 09:00` within a week, `Jan 1` later."""
    moment, today = time.localtime(at), time.localtime(now)
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M", moment)
    if at - now < 6 * 86400:
        return time.strftime("%a %H:%M", moment)
    return time.strftime("%b %d", moment).replace(" 0", " ")


if __name__ == "__main__":  # `python -S .../statusline.py`: what `claude-settings --statusline` registers
    sys.exit(main())
