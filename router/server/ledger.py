"""The usage ledger: one row per request (who, where, how many tokens, what it cost), kept in SQLite.

`router usage` and the dashboard read it; nothing of a prompt or a reply is ever written, only
counts, names and timings. Recording runs on the event loop at the end of every request, so it
only appends to a buffer: the rows are written in batches (every `FLUSH_INTERVAL` seconds, or at
once when `FLUSH_ROWS` are waiting) by one worker thread, in one transaction each, so no request
waits for the disk and none costs an fsync.

Like the state file (`router.server.cooldowns.SqliteStore`) the ledger never fails a request: a
file that is not a database (or is corrupt, or has a layout this version does not know) is moved
aside as `<name>.corrupt-<time>` and a fresh one started; a failing write is logged and its rows
dropped; with no usable file at all the rows live in memory until the router stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeVar

from router.server.sqlitefile import corrupt, make_private, move_aside, transaction

log = logging.getLogger("router.server.ledger")

Clock = Callable[[], float]

FLUSH_INTERVAL = 0.5
"""Seconds a recorded row waits, at most, before it is written (while the loop runs)."""
FLUSH_ROWS = 64
"""Rows waiting that are written at once, without waiting for the interval."""
PRUNE_INTERVAL = 86400.0
"""How often rows older than the retention are deleted (besides at start)."""
TAIL_BACKLOG = 1000
"""Rows a live tail (`subscribe`) may fall behind by; older ones are dropped for it."""
SCHEMA_VERSION = 1
"""`PRAGMA user_version` of the ledger's layout; a file with another is moved aside, never dropped."""
GROUPINGS = ("provider", "model", "account", "day", "rule")
"""What `totals` can group by."""

_T = TypeVar("_T")


def ledger_file(state_dir: Path) -> Path:
    """Where the ledger lives inside the state directory unless `ledger.path` says otherwise."""
    return state_dir / "usage.sqlite3"


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One request as the ledger keeps it; `id` is None until the row is written.

    `at` is when the request started (epoch seconds); `ttfb_ms` the first byte (streams) or the
    upstream's first event (JSON replies); `cost` is what the backend reported (OpenRouter:
    credits, i.e. USD), None when it reported none. `error_type` is the Anthropic error type the
    client got, None on success and on a client disconnect (status 499).
    """

    at: float
    session: str | None
    path: str
    stream: bool
    client_model: str
    tier: str | None
    rule: str
    provider: str | None
    account: str | None
    upstream_model: str | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost: float | None
    ttfb_ms: float | None
    total_ms: float
    status: int
    error_type: str | None
    id: int | None = None

    def as_json(self) -> dict[str, Any]:
        """The row as a JSON object, one key per column."""
        return dict(zip(_FIELDS, _every_value(self)))


_FIELDS = tuple(f.name for f in fields(LedgerRow))
COLUMNS = tuple(name for name in _FIELDS if name != "id")
_values = attrgetter(*COLUMNS)
_every_value = attrgetter(*_FIELDS)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    session TEXT,
    path TEXT NOT NULL,
    stream INTEGER NOT NULL,
    client_model TEXT NOT NULL,
    tier TEXT,
    rule TEXT NOT NULL,
    provider TEXT,
    account TEXT,
    upstream_model TEXT,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    cost REAL,
    ttfb_ms REAL,
    total_ms REAL NOT NULL,
    status INTEGER NOT NULL,
    error_type TEXT
);
CREATE INDEX IF NOT EXISTS requests_at ON requests (at);
CREATE INDEX IF NOT EXISTS requests_session ON requests (session);
"""
_INSERT = f"INSERT INTO requests ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_GROUP_KEYS = {
    "provider": "provider",
    "model": "CASE WHEN upstream_model IS NULL THEN NULL ELSE provider || '/' || upstream_model END",
    "account": "CASE WHEN account IS NULL THEN NULL ELSE provider || '/' || account END",
    "day": "date(at, 'unixepoch')",
    "rule": "rule",
}
_BILLED = "CASE WHEN path = '/v1/messages/count_tokens' THEN 0 ELSE {} END"
_SUMS = (f"count(*), coalesce(sum({_BILLED.format('input_tokens')}), 0), "
         f"coalesce(sum({_BILLED.format('output_tokens')}), 0), coalesce(sum({_BILLED.format('cached_tokens')}), 0), "
         "sum(cost), coalesce(sum(status != 200), 0)")
"""Requests of every kind count; tokens only where a model ran: a count_tokens answer is an estimate
of a prompt, not tokens spent, and counting it would inflate the input column."""
_TOTAL_KEYS = ("requests", "input_tokens", "output_tokens", "cached_tokens", "cost", "errors")


class _End:
    """What a live tail receives when the ledger closes."""


class Tail:
    """One `subscribe()`: every row recorded from its creation on, until the ledger closes.

    A reader that stops early calls `aclose()`, so the ledger stops queueing rows for it.
    """

    def __init__(self, owner: Ledger) -> None:
        self._owner = owner
        self.queue: asyncio.Queue[LedgerRow | _End] = asyncio.Queue(maxsize=TAIL_BACKLOG)
        owner._tails.add(self)

    def __aiter__(self) -> Tail:
        return self

    async def __anext__(self) -> LedgerRow:
        item = await self.queue.get()
        if isinstance(item, _End):
            self._owner._tails.discard(self)
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        self._owner._tails.discard(self)

    def put(self, item: LedgerRow | _End) -> None:
        if self.queue.full():  # a slow reader loses its oldest rows, never the loop its time
            self.queue.get_nowait()
        self.queue.put_nowait(item)


class Ledger:
    """The usage ledger in one SQLite file (0600, folder 0700, WAL-journaled)."""

    def __init__(self, path: Path, *, retention_days: int = 90, clock: Clock = time.time) -> None:
        self.path = path
        self.retention = retention_days * 86400.0
        self._clock = clock
        self._lock = threading.Lock()  # guards the buffer and the connection (the writer is another thread)
        self._buffer: list[LedgerRow] = []
        self._tails: set[Tail] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._failing = False
        self._closed = False
        self._conn: sqlite3.Connection | None = self._open()
        self._pruned = clock()
        self.prune(self._pruned)

    # -- recording -----------------------------------------------------------------------------------

    def record(self, row: LedgerRow) -> None:
        """Buffer `row` for the next batch and hand it to the live tails; never raises, never waits."""
        if self._closed:
            return
        with self._lock:
            self._buffer.append(row)
            waiting = len(self._buffer)
        for tail in tuple(self._tails):
            tail.put(row)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a script, a sync test): written by the next read or `close`
            if waiting >= FLUSH_ROWS:
                self.flush()
            return
        if waiting >= FLUSH_ROWS:
            self._kick()
        elif self._timer is None or self._timer_loop is not loop:  # a timer of a loop since gone never fires
            self._timer, self._timer_loop = loop.call_later(FLUSH_INTERVAL, self._kick), loop

    def _kick(self) -> None:
        """Hand the buffered rows (and, once a day, the pruning) to the writer thread.

        Submitted to the thread's executor directly, not through the loop: nothing comes back
        (both never raise), so a loop that stops without closing the ledger gets no callback.
        """
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._closed:
            return
        with self._lock:
            rows, self._buffer = self._buffer, []
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        if rows:
            self._executor.submit(self._write, rows)
        now = self._clock()
        if now - self._pruned >= PRUNE_INTERVAL:
            self._pruned = now
            self._executor.submit(self.prune, now)

    def flush(self) -> None:
        """Write what is buffered now, in the calling thread (reads and `close` do this first)."""
        with self._lock:
            rows, self._buffer = self._buffer, []
        if rows:
            self._write(rows)

    def _write(self, rows: Sequence[LedgerRow]) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            with transaction(conn):
                conn.executemany(_INSERT, map(_values, rows))

        self._run(f"record {len(rows)} request(s)", insert, None)

    def prune(self, now: float) -> None:
        """Delete the rows older than the retention (at start, then once a day)."""

        def delete(conn: sqlite3.Connection) -> None:
            removed = conn.execute("DELETE FROM requests WHERE at < ?", (now - self.retention,)).rowcount
            if removed > 0:
                log.info("usage ledger: removed %d request(s) older than %g days", removed, self.retention / 86400)

        self._run("prune old requests", delete, None)

    # -- reading -------------------------------------------------------------------------------------

    def recent(self, limit: int = 50) -> list[LedgerRow]:
        """The last `limit` requests recorded, newest first."""
        self.flush()

        def read(conn: sqlite3.Connection) -> list[LedgerRow]:
            rows = conn.execute(
                f"SELECT {', '.join(COLUMNS)}, id FROM requests ORDER BY at DESC, id DESC LIMIT ?", (limit,)
            ).fetchall()
            return [_row(values) for values in rows]

        return self._run("read recent requests", read, [])

    def totals(self, since: float, by: str | None = None) -> list[dict[str, Any]]:
        """Sums over the requests that started at `since` or later, one dict per group of `by`
        (provider, model, account, day or rule; None: one dict for all), with keys key, requests,
        input_tokens, output_tokens, cached_tokens, cost (None when no backend reported one) and
        errors (requests that did not end with status 200). Days are UTC; the most used group comes
        first, days in order."""
        if by is not None and by not in _GROUP_KEYS:
            raise ValueError(f"cannot group by {by!r}: expected one of {', '.join(GROUPINGS)}")
        self.flush()
        key = _GROUP_KEYS[by] if by is not None else "NULL"
        order = "key" if by == "day" else "count(*) DESC, key"
        sql = f"SELECT {key} AS key, {_SUMS} FROM requests WHERE at >= ?"
        sql += f" GROUP BY key ORDER BY {order}" if by is not None else ""

        def read(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(sql, (since,)).fetchall()
            return [{"key": key_value, **dict(zip(_TOTAL_KEYS, sums))} for key_value, *sums in rows]

        return self._run("sum up requests", read, [])

    def session_totals(self, session: str) -> dict[str, Any]:
        """One client session's sums (requests, tokens, cost) and where its last request went
        (provider, account, upstream_model, rule; None before its first)."""
        self.flush()

        def read(conn: sqlite3.Connection) -> dict[str, Any]:
            sums = conn.execute(f"SELECT {_SUMS} FROM requests WHERE session = ?", (session,)).fetchone()
            last = conn.execute(
                "SELECT provider, account, upstream_model, rule FROM requests WHERE session = ?"
                " ORDER BY at DESC, id DESC LIMIT 1", (session,)
            ).fetchone() or (None, None, None, None)
            totals = dict(zip(_TOTAL_KEYS, sums))
            return {**totals, **dict(zip(("provider", "account", "upstream_model", "rule"), last))}

        empty = {**dict(zip(_TOTAL_KEYS, (0, 0, 0, 0, None, 0))), "provider": None, "account": None,
                 "upstream_model": None, "rule": None}
        return self._run("sum up a session", read, empty)

    def subscribe(self) -> Tail:
        """A live tail (an `AsyncIterator[LedgerRow]`): every row recorded from now on, on the loop
        that records, until `close`; a slow reader loses its oldest rows past `TAIL_BACKLOG`."""
        return Tail(self)

    # -- closing -------------------------------------------------------------------------------------

    def close(self) -> None:
        """Write what is buffered, end the live tails and release the file; later records are dropped."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self.flush()
        for tail in tuple(self._tails):
            tail.put(_End())
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    # -- the file ------------------------------------------------------------------------------------

    def _run(self, what: str, action: Callable[[sqlite3.Connection], _T], default: _T) -> _T:
        """Do `action` under the lock, or log why not and return `default`; a corrupt file is replaced."""
        with self._lock:
            if self._conn is None:
                return default
            try:
                result = action(self._conn)
            except sqlite3.Error as exc:
                if corrupt(exc):
                    log.warning("usage ledger %s is damaged (%s); moving it aside and starting afresh", self.path, exc)
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.close()
                    move_aside(self.path, log)
                    self._conn = self._open()
                elif not self._failing:
                    log.warning("usage ledger: could not %s in %s: %s", what, self.path, exc)
                else:
                    log.debug("usage ledger: could not %s in %s: %s", what, self.path, exc)
                self._failing = True
                return default
            self._failing = False
            return result

    def _open(self) -> sqlite3.Connection:
        """Open the file, replacing it if unusable; fall back to memory if no file can be used."""
        try:
            return self._connect(str(self.path))
        except (sqlite3.Error, OSError, _ForeignLayout) as exc:
            log.warning("usage ledger %s is unusable (%s); moving it aside and starting afresh", self.path, exc)
        move_aside(self.path, log)
        try:
            return self._connect(str(self.path))
        except (sqlite3.Error, OSError, _ForeignLayout) as exc:
            log.warning("cannot keep the usage ledger in %s (%s); it lasts until the router stops", self.path, exc)
        return self._connect(":memory:")

    def _connect(self, name: str) -> sqlite3.Connection:
        """A connection with the schema in place; raises if the file is not a ledger this version reads."""
        if name != ":memory:":
            make_private(self.path)
        # isolation_level=None: each statement commits on its own unless inside `transaction`
        conn = sqlite3.connect(name, isolation_level=None, check_same_thread=False)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version not in (0, SCHEMA_VERSION):
                raise _ForeignLayout(f"layout version {version}, not {SCHEMA_VERSION}")
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL: no fsync per commit, only at checkpoints
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("SELECT count(*) FROM requests").fetchone()
        except BaseException:
            conn.close()
            raise
        return conn


class _ForeignLayout(Exception):
    """The file is a SQLite database, but not a ledger this version can read: kept, moved aside."""


def _row(values: Sequence[Any]) -> LedgerRow:
    *columns, row_id = values
    row = dict(zip(COLUMNS, columns))
    row["stream"] = bool(row["stream"])
    return LedgerRow(**row, id=row_id)


