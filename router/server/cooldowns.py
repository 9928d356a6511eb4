"""Which accounts (or account and model) are resting, until when, and why, kept across restarts.

An account that answered "rate limited" or "usage limit reached" is put on cooldown so the
dispatcher sends nothing to it until it can serve again: until the backend's `Retry-After` or
quota reset when it named one, else for an exponential back-off that grows with consecutive
failures. The cooldowns, the last quota figures seen per account and sticky-session owners are
written to a small SQLite file in the state directory, so a restart neither hammers an account
that is known to be used up nor forgets what `router status` should show.

Everything here runs on the event loop and must stay cheap: lookups are dict reads, and a store
write happens only when something changed (a new cooldown, a quota that moved, a new session).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from router.quota import QuotaWindow
from router.server.sqlitefile import corrupt, make_private, move_aside, transaction

log = logging.getLogger("router.server.cooldowns")

Clock = Callable[[], float]
Account = tuple[str, str]
"""(provider, account)."""
Target = tuple[str, str, str | None]
"""(provider, account, model); a model of None stands for the whole account."""
QuotaSeen = tuple[list[QuotaWindow], float]
"""The quota windows last reported for an account and when (epoch seconds)."""

MAX_RETRY_AFTER = 31 * 86400.0
"""The longest cooldown a backend's `Retry-After` may ask for; beyond it the value is surely bogus."""
MIN_RETRY_AFTER = 1.0
"""The shortest cooldown a `Retry-After` gives, so "0" does not turn into an immediate retry storm."""
QUOTA_SAVE_INTERVAL = 30.0
"""How often, at most, unchanged-looking quota figures are written (they arrive on every reply)."""
RESET_MOVED = 60.0
"""How far a reset time must move to count as a change; resets derived from "in N s" jitter by a second."""
SYNC_INTERVAL = 1.0
"""Seconds between checks for cooldowns written by another process (`router accounts --clear`)."""

MAX_SESSIONS = 10_000
"""Sticky sessions kept in the state file (the most recently seen ones)."""
SESSION_TTL = 7 * 86400.0
"""Sticky sessions not seen for this long are forgotten."""
SCHEMA_VERSION = 1
"""`PRAGMA user_version` of the state file's layout; any other version is started afresh."""

_PRUNE_EVERY = 1000
_T = TypeVar("_T")


def state_file(state_dir: Path) -> Path:
    """Where the router keeps its cooldowns, quotas and sessions inside `state_dir`."""
    return state_dir / "router.sqlite3"


@dataclass(frozen=True, slots=True)
class Cooldown:
    """An account (model None) or one model of it that gets no requests until `until` (epoch s).

    `reason` is shown to users, so it never holds secrets; `strikes` is how many consecutive
    failures led here (0 when a used-up quota alone put it on cooldown).
    """

    provider: str
    account: str
    model: str | None
    until: float
    reason: str
    strikes: int

    @property
    def target(self) -> Target:
        """The (provider, account, model) key this cooldown applies to."""
        return (self.provider, self.account, self.model)


class Store(Protocol):
    """Where cooldown state persists; every call is one short write or read, safe on the loop."""

    def load(self) -> tuple[list[Cooldown], dict[Account, QuotaSeen]]:
        """Cooldowns still in force, and the last quota windows per account with when they were seen."""
        ...

    def save_cooldown(self, cooldown: Cooldown) -> None:
        """Record `cooldown`, replacing any for the same target."""
        ...

    def clear_cooldown(self, provider: str, account: str, model: str | None) -> None:
        """Forget the cooldown of one target."""
        ...

    def save_quota(self, provider: str, account: str, windows: Sequence[QuotaWindow], seen_at: float) -> None:
        """Record the quota windows last seen for an account."""
        ...

    def save_session(self, session: str, provider: str, account: str, seen_at: float) -> None:
        """Record which account serves a sticky session."""
        ...

    def load_sessions(self) -> dict[str, tuple[str, str]]:
        """Sticky sessions seen recently enough, each with its (provider, account)."""
        ...

    def changed(self) -> bool:
        """Whether another process wrote to the store since the last call (the cue to `load` again)."""
        ...

    def close(self) -> None:
        """Release the store; later calls do nothing."""
        ...


class MemoryStore:
    """A `Store` that forgets everything when the process ends (tests and `--no-state`)."""

    def __init__(
        self, *, clock: Clock = time.time, max_sessions: int = MAX_SESSIONS, session_ttl: float = SESSION_TTL
    ) -> None:
        self._clock = clock
        self._max_sessions = max_sessions
        self._session_ttl = session_ttl
        self._cooldowns: dict[Target, Cooldown] = {}
        self._quotas: dict[Account, QuotaSeen] = {}
        self._sessions: dict[str, tuple[str, str, float]] = {}
        self._saves = 0

    def load(self) -> tuple[list[Cooldown], dict[Account, QuotaSeen]]:
        now = self._clock()
        for target in [t for t, c in self._cooldowns.items() if c.until <= now]:
            del self._cooldowns[target]
        quotas = {account: (list(windows), seen) for account, (windows, seen) in self._quotas.items()}
        return list(self._cooldowns.values()), quotas

    def save_cooldown(self, cooldown: Cooldown) -> None:
        self._cooldowns[cooldown.target] = cooldown

    def clear_cooldown(self, provider: str, account: str, model: str | None) -> None:
        self._cooldowns.pop((provider, account, model), None)

    def save_quota(self, provider: str, account: str, windows: Sequence[QuotaWindow], seen_at: float) -> None:
        self._quotas[(provider, account)] = (list(windows), seen_at)

    def save_session(self, session: str, provider: str, account: str, seen_at: float) -> None:
        self._sessions[session] = (provider, account, seen_at)
        self._saves += 1
        if self._saves % _PRUNE_EVERY == 0:
            self._prune_sessions()

    def load_sessions(self) -> dict[str, tuple[str, str]]:
        self._prune_sessions()
        return {session: (provider, account) for session, (provider, account, _) in self._sessions.items()}

    def changed(self) -> bool:
        return False  # nobody else can write to it

    def close(self) -> None:
        pass

    def _prune_sessions(self) -> None:
        """Drop sessions older than the TTL, then all but the most recently seen `max_sessions`."""
        oldest = self._clock() - self._session_ttl
        kept = sorted(
            ((seen, session) for session, (_, _, seen) in self._sessions.items() if seen >= oldest), reverse=True
        )[: self._max_sessions]
        keep = {session for _, session in kept}
        self._sessions = {s: entry for s, entry in self._sessions.items() if s in keep}


_SCHEMA = """
CREATE TABLE IF NOT EXISTS cooldowns (
    provider TEXT NOT NULL, account TEXT NOT NULL, model TEXT NOT NULL,
    until REAL NOT NULL, reason TEXT NOT NULL, strikes INTEGER NOT NULL,
    PRIMARY KEY (provider, account, model)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quotas (
    provider TEXT NOT NULL, account TEXT NOT NULL, windows TEXT NOT NULL, seen_at REAL NOT NULL,
    PRIMARY KEY (provider, account)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (
    session TEXT PRIMARY KEY, provider TEXT NOT NULL, account TEXT NOT NULL, seen_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_seen_at ON sessions (seen_at);
"""


class SqliteStore:
    """A `Store` in one SQLite file (0600, folder 0700), WAL-journaled, each call one transaction.

    State is a cache the router can rebuild, so no failure here may stop the server: a file that
    is not a database (or is corrupt, or cannot be opened) is moved aside as `<name>.corrupt-<time>`
    with a warning and a fresh one started; if even that fails the state lives in memory until
    the next restart. A failing write is logged and skipped.
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock = time.time,
        max_sessions: int = MAX_SESSIONS,
        session_ttl: float = SESSION_TTL,
    ) -> None:
        self.path = path
        self._clock = clock
        self._max_sessions = max_sessions
        self._session_ttl = session_ttl
        self._saves = 0
        self._failing = False
        self._conn: sqlite3.Connection | None = self._open()
        self._data_version: int | None = None
        self.changed()  # from here on, another process's commit shows as a change

    # -- Store ---------------------------------------------------------------------------------------

    def load(self) -> tuple[list[Cooldown], dict[Account, QuotaSeen]]:
        def read(conn: sqlite3.Connection) -> tuple[list[Cooldown], dict[Account, QuotaSeen]]:
            with transaction(conn):
                conn.execute("DELETE FROM cooldowns WHERE until <= ?", (self._clock(),))
                cooldown_rows = conn.execute(
                    "SELECT provider, account, model, until, reason, strikes FROM cooldowns"
                ).fetchall()
                quota_rows = conn.execute("SELECT provider, account, windows, seen_at FROM quotas").fetchall()
            cooldowns = [c for c in map(_cooldown_from_row, cooldown_rows) if c is not None]
            quotas: dict[Account, QuotaSeen] = {}
            for provider, account, windows, seen_at in quota_rows:
                decoded = _windows_from_json(windows)
                if decoded is not None and isinstance(seen_at, (int, float)):
                    quotas[(str(provider), str(account))] = (decoded, float(seen_at))
            return cooldowns, quotas

        nothing: tuple[list[Cooldown], dict[Account, QuotaSeen]] = ([], {})
        return self._run("load", read, nothing)

    def save_cooldown(self, cooldown: Cooldown) -> None:
        row = (cooldown.provider, cooldown.account, cooldown.model or "", cooldown.until, cooldown.reason,
               cooldown.strikes)
        self._write("save a cooldown", "INSERT OR REPLACE INTO cooldowns VALUES (?, ?, ?, ?, ?, ?)", row)

    def clear_cooldown(self, provider: str, account: str, model: str | None) -> None:
        self._write("clear a cooldown", "DELETE FROM cooldowns WHERE provider = ? AND account = ? AND model = ?",
                    (provider, account, model or ""))

    def save_quota(self, provider: str, account: str, windows: Sequence[QuotaWindow], seen_at: float) -> None:
        self._write("save quota figures", "INSERT OR REPLACE INTO quotas VALUES (?, ?, ?, ?)",
                    (provider, account, _windows_to_json(windows), seen_at))

    def save_session(self, session: str, provider: str, account: str, seen_at: float) -> None:
        self._write("save a session", "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?)",
                    (session, provider, account, seen_at))
        self._saves += 1
        if self._saves % _PRUNE_EVERY == 0:
            self._run("prune sessions", self._prune_sessions, None)

    def load_sessions(self) -> dict[str, tuple[str, str]]:
        def read(conn: sqlite3.Connection) -> dict[str, tuple[str, str]]:
            self._prune_sessions(conn)
            rows = conn.execute("SELECT session, provider, account FROM sessions").fetchall()
            return {str(session): (str(provider), str(account)) for session, provider, account in rows}

        return self._run("load sessions", read, {})

    def changed(self) -> bool:
        def read(conn: sqlite3.Connection) -> bool:
            version = int(conn.execute("PRAGMA data_version").fetchone()[0])  # moves on others' commits only
            seen, self._data_version = self._data_version, version
            return seen is not None and version != seen

        return self._run("check for changes", read, False)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # -- internals -----------------------------------------------------------------------------------

    def _prune_sessions(self, conn: sqlite3.Connection) -> None:
        """Drop sessions older than the TTL, then all but the most recently seen `max_sessions`."""
        with transaction(conn):
            conn.execute("DELETE FROM sessions WHERE seen_at < ?", (self._clock() - self._session_ttl,))
            conn.execute(
                "DELETE FROM sessions WHERE session NOT IN"
                " (SELECT session FROM sessions ORDER BY seen_at DESC LIMIT ?)",
                (self._max_sessions,),
            )

    def _write(self, what: str, sql: str, params: tuple[Any, ...]) -> None:
        """Run one statement as its own transaction (the connection autocommits)."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(sql, params)

        self._run(what, write, None)

    def _run(self, what: str, action: Callable[[sqlite3.Connection], _T], default: _T) -> _T:
        """Do `action`, or log why not and return `default`; a corrupt file is replaced on the spot."""
        if self._conn is None:
            return default
        try:
            result = action(self._conn)
        except sqlite3.Error as exc:
            if corrupt(exc):
                log.warning("state file %s is damaged (%s); moving it aside and starting afresh", self.path, exc)
                self.close()
                move_aside(self.path, log)
                self._conn = self._open()
            elif not self._failing:
                log.warning("could not %s in state file %s: %s", what, self.path, exc)
            else:
                log.debug("could not %s in state file %s: %s", what, self.path, exc)
            self._failing = True
            return default
        self._failing = False
        return result

    def _open(self) -> sqlite3.Connection:
        """Open the file, replacing it if unusable; fall back to memory if no file can be used."""
        try:
            return self._connect(str(self.path))
        except (sqlite3.Error, OSError) as exc:
            log.warning("state file %s is unusable (%s); moving it aside and starting afresh", self.path, exc)
        move_aside(self.path, log)
        try:
            return self._connect(str(self.path))
        except (sqlite3.Error, OSError) as exc:
            log.warning("cannot keep state in %s (%s); state lasts until the router stops", self.path, exc)
        return self._connect(":memory:")

    def _connect(self, name: str) -> sqlite3.Connection:
        """A connection with the schema in place; raises if the file is not a usable database."""
        if name != ":memory:":
            make_private(self.path)
        # isolation_level=None: each statement commits on its own unless inside `with conn:`.
        conn = sqlite3.connect(name, isolation_level=None, check_same_thread=False)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=NORMAL")
            if version not in (0, SCHEMA_VERSION):
                log.warning("state file %s has layout version %s, not %s; starting afresh",
                            self.path, version, SCHEMA_VERSION)
                with transaction(conn):
                    for table in ("cooldowns", "quotas", "sessions"):
                        conn.execute(f"DROP TABLE IF EXISTS {table}")
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("SELECT count(*) FROM cooldowns").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn


def _cooldown_from_row(row: Sequence[Any]) -> Cooldown | None:
    """A stored cooldown, or None when the row is not one this version can read."""
    provider, account, model, until, reason, strikes = row
    if not isinstance(until, (int, float)) or not isinstance(strikes, int):
        return None
    return Cooldown(str(provider), str(account), str(model) or None, float(until), str(reason), strikes)


def _windows_to_json(windows: Sequence[QuotaWindow]) -> str:
    return json.dumps([
        {"name": w.name, "used_percent": w.used_percent, "resets_at": w.resets_at,
         "window_minutes": w.window_minutes, "detail": w.detail}
        for w in windows
    ])


def _windows_from_json(text: Any) -> list[QuotaWindow] | None:
    """Stored quota windows, or None when the text is not what `_windows_to_json` writes."""
    try:
        items = json.loads(text)
        if not isinstance(items, list):
            return None
        return [
            QuotaWindow(
                name=str(item["name"]),
                used_percent=_number(item.get("used_percent")),
                resets_at=_number(item.get("resets_at")),
                window_minutes=item["window_minutes"] if isinstance(item.get("window_minutes"), int) else None,
                detail=str(item.get("detail", "")),
            )
            for item in items
        ]
    except (TypeError, ValueError, KeyError, AttributeError):
        return None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class Cooldowns:
    """The cooldowns in force, strike counts and last quota figures, mirrored to a `Store`.

    Keys are (provider, account, model); model None is the whole account, which blocks every
    model of it. Expired cooldowns are dropped when next looked at.
    """

    def __init__(
        self, store: Store, *, clock: Clock = time.time, base: float = 30.0, cap: float = 3600.0
    ) -> None:
        self._store = store
        self.clock = clock
        """The time source (epoch seconds) every expiry here is judged by; callers use it for "resets in"."""
        self._base = base
        self._cap = cap
        self._active: dict[Target, Cooldown] = {}
        self._strikes: dict[Target, int] = {}
        self._quotas: dict[Account, QuotaSeen] = {}
        self._saved: dict[Account, tuple[dict[str, QuotaWindow], float]] = {}
        self._from_quota: dict[Account, frozenset[str]] = {}
        self._backed: set[Account] = set()  # strikes adopted by a quota report: never shortened by one
        cooldowns, quotas = store.load()
        now = clock()
        self._synced = now
        for cooldown in cooldowns:
            if cooldown.until > now:
                self._active[cooldown.target] = cooldown
                if cooldown.strikes:
                    self._strikes[cooldown.target] = cooldown.strikes
        for account, (windows, seen_at) in quotas.items():
            self._quotas[account] = (list(windows), seen_at)
            self._saved[account] = ({w.name: w for w in windows}, seen_at)

    def cooling(self, provider: str, account: str, model: str | None) -> Cooldown | None:
        """The cooldown that keeps `model` of the account (or the account) from serving now, if any.

        Both the account-wide cooldown and the one for `model` apply; the later-ending one is returned.
        """
        now = self.clock()
        if now - self._synced >= SYNC_INTERVAL:
            self._sync(now)
        if not self._active:
            return None
        found = self._live((provider, account, None), now)
        if model is not None:
            scoped = self._live((provider, account, model), now)
            if scoped is not None and (found is None or scoped.until > found.until):
                found = scoped
        return found

    def strike(
        self, provider: str, account: str, model: str | None, *, retry_after: float | None, reason: str
    ) -> Cooldown:
        """Put the target on cooldown after a failure and return the cooldown now in force.

        With `retry_after` (seconds, from the backend) it is honoured, clamped to 1 s .. 31 days;
        without, the wait is `base * 2**(strikes-1)` up to `cap`, counting consecutive strikes
        since the last success. A strike while the target is already cooling belongs to the same
        episode (requests that were in flight when it began): it does not add to the count and
        only ever extends the cooldown.
        """
        now = self.clock()
        target = (provider, account, model)
        current = self._live(target, now)
        if current is None:
            strikes = self._strikes.get(target, 0) + 1
        else:
            strikes = max(current.strikes, 1)
        until = now + self._delay(strikes, retry_after)
        if current is not None and current.until >= until:
            if current.strikes != strikes:
                current = self._set(Cooldown(provider, account, model, current.until, current.reason, strikes))
            self._strikes[target] = strikes
            return current
        self._strikes[target] = strikes
        if model is None:
            self._forget_quota((provider, account))
        return self._set(Cooldown(provider, account, model, until, reason, strikes))

    def succeeded(self, provider: str, account: str, model: str | None) -> None:
        """Start the strike counts of the account (and of `model`) afresh after a served request."""
        if not self._strikes:
            return
        self._strikes.pop((provider, account, None), None)
        if model is not None:
            self._strikes.pop((provider, account, model), None)

    def report_quota(self, provider: str, account: str, windows: Sequence[QuotaWindow]) -> None:
        """Remember the account's quota figures; a used-up window puts the account on cooldown until its reset.

        Called on every reply of some backends, so it writes to the store only when a window became
        (or stopped being) used up, a reset time moved, or `QUOTA_SAVE_INTERVAL` has passed.
        A quota cooldown is lifted early when a later report shows its windows no longer used up.
        """
        now = self.clock()
        key = (provider, account)
        windows = list(windows)
        self._quotas[key] = (windows, now)
        self._quota_cooldown(provider, account, windows, now)
        saved = self._saved.get(key)
        if saved is None or now - saved[1] >= QUOTA_SAVE_INTERVAL or _changed(saved[0], windows):
            self._saved[key] = ({w.name: w for w in windows}, now)
            self._store.save_quota(provider, account, windows, now)

    def clear(self, provider: str, account: str, model: str | None = None) -> None:
        """Lift the target's cooldown and strikes (for an operator who knows the account is fine again)."""
        target = (provider, account, model)
        self._strikes.pop(target, None)
        if model is None:
            self._forget_quota((provider, account))
        if self._active.pop(target, None) is not None:
            self._store.clear_cooldown(provider, account, model)

    def lift(self, provider: str, account: str | None = None) -> list[Cooldown]:
        """Lift every cooldown and strike of the provider's accounts (or of `account` only), model
        cooldowns included; returns the cooldowns that were in force (`router accounts --clear`)."""
        lifted = [c for c in self.snapshot() if c.provider == provider and account in (None, c.account)]
        for cooldown in lifted:
            self.clear(cooldown.provider, cooldown.account, cooldown.model)
        for target in [t for t in self._strikes if t[0] == provider and account in (None, t[1])]:
            del self._strikes[target]
        return lifted

    def quotas(self) -> dict[Account, QuotaSeen]:
        """The last quota windows reported per (provider, account), with when they were seen."""
        return {key: (list(windows), seen) for key, (windows, seen) in self._quotas.items()}

    def snapshot(self) -> list[Cooldown]:
        """Every cooldown in force now, ordered by provider, account and model."""
        now = self.clock()
        self._sync(now)
        live = [cooldown for target in list(self._active) if (cooldown := self._live(target, now)) is not None]
        return sorted(live, key=lambda c: (c.provider, c.account, c.model or ""))

    def earliest(self, targets: Iterable[Target]) -> Cooldown | None:
        """Among cooling targets, the cooldown that ends first; None if any target is free (or none given).

        When every candidate for a request is cooling, this says when to tell the client to retry.
        """
        first: Cooldown | None = None
        for provider, account, model in targets:
            cooldown = self.cooling(provider, account, model)
            if cooldown is None:
                return None
            if first is None or cooldown.until < first.until:
                first = cooldown
        return first

    # -- internals -----------------------------------------------------------------------------------

    def _delay(self, strikes: int, retry_after: float | None) -> float:
        if retry_after is not None and not math.isnan(retry_after):
            return min(max(retry_after, MIN_RETRY_AFTER), MAX_RETRY_AFTER)
        return min(self._cap, self._base * 2.0 ** min(strikes - 1, 64))

    def _live(self, target: Target, now: float) -> Cooldown | None:
        """The target's cooldown if still in force; an expired one is dropped here and from the store."""
        cooldown = self._active.get(target)
        if cooldown is None or cooldown.until > now:
            return cooldown
        del self._active[target]
        if target[2] is None:
            self._forget_quota((target[0], target[1]))
        self._store.clear_cooldown(*target)
        return None

    def _sync(self, now: float) -> None:
        """Take in what another process wrote to the store: a cooldown `router accounts --clear`
        lifted is lifted here too, and one another router sharing the store set applies here."""
        self._synced = now
        if not self._store.changed():
            return
        cooldowns, _ = self._store.load()
        stored = {c.target: c for c in cooldowns if c.until > now}
        for target in [t for t in self._active if t not in stored]:
            del self._active[target]
            self._strikes.pop(target, None)
            if target[2] is None:
                self._forget_quota((target[0], target[1]))
        self._active.update(stored)

    def _forget_quota(self, key: Account) -> None:
        self._from_quota.pop(key, None)
        self._backed.discard(key)

    def _set(self, cooldown: Cooldown) -> Cooldown:
        self._active[cooldown.target] = cooldown
        self._store.save_cooldown(cooldown)
        return cooldown

    def _quota_cooldown(self, provider: str, account: str, windows: list[QuotaWindow], now: float) -> None:
        """Start, move or lift the account-wide cooldown that used-up windows call for."""
        key = (provider, account)
        target = (provider, account, None)
        used_up = [w for w in windows if w.exhausted and w.resets_at is not None and w.resets_at > now]
        current = self._live(target, now) if self._active else None
        if not used_up:
            causes = self._from_quota.get(key)
            if current is not None and causes is not None:
                reported = {w.name for w in windows if not w.exhausted}
                if causes <= reported:
                    del self._active[target]
                    self._forget_quota(key)
                    self._store.clear_cooldown(provider, account, None)
            return
        last = max(used_up, key=lambda w: w.resets_at or 0.0)
        until = min(last.resets_at or now, now + MAX_RETRY_AFTER)
        if current is not None:
            if key in self._from_quota:
                if abs(current.until - until) <= MIN_RETRY_AFTER or current.until > until and key in self._backed:
                    return
            elif current.until >= until:
                # a longer strike the figures now explain (Kiro's 402 until the month's end): it stays,
                # but becomes the quota's to lift once these windows are free again (credits bought)
                self._from_quota[key] = frozenset(w.name for w in used_up)
                self._backed.add(key)
                return
        percent = f" ({last.used_percent:.0f}%)" if last.used_percent is not None else ""
        reason = f"{last.name} limit used up{percent}"
        self._from_quota[key] = frozenset(w.name for w in used_up)
        self._backed.discard(key)
        self._set(Cooldown(provider, account, None, until, reason, self._strikes.get(target, 0)))


def _changed(saved: dict[str, QuotaWindow], windows: Sequence[QuotaWindow]) -> bool:
    """Whether `windows` differ from the saved ones enough to be written before the interval is up."""
    for window in windows:
        before = saved.get(window.name)
        if before is None or before.exhausted != window.exhausted:
            return True
        if (before.resets_at is None) != (window.resets_at is None):
            return True
        if before.resets_at is not None and window.resets_at is not None:
            if abs(before.resets_at - window.resets_at) > RESET_MOVED:
                return True
    return False
