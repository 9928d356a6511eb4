"""What the router's SQLite files (the state store, the usage ledger) share: a private file,
moving a damaged one aside, transactions on an autocommitting connection, telling damage from
a busy or read-only file."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

CORRUPT_CODES = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB


def make_private(path: Path) -> None:
    """Create `path` (and its folder, 0700) if missing, and make the file 0600 if it is not."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o777 != 0o600:
        os.chmod(path, 0o600)


def move_aside(path: Path, log: logging.Logger) -> None:
    """Rename the file (and its WAL and shared-memory files) to `<name>.corrupt-<time>`."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    counter = 1
    while target.exists():
        counter += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{counter}")
    for suffix in ("", "-wal", "-shm"):
        source = path.with_name(path.name + suffix)
        try:
            if source.exists() or source.is_symlink():
                source.rename(target.with_name(target.name + suffix))
        except OSError as exc:
            log.warning("could not move %s aside: %s", source, exc)


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """Group statements into one transaction on an autocommitting connection."""
    conn.execute("BEGIN")
    try:
        yield
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def corrupt(exc: sqlite3.Error) -> bool:
    """Whether `exc` says the file is damaged or not a database (not merely busy or read-only)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in CORRUPT_CODES
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text
