"""One refresh at a time across processes: an advisory lock beside a shared credential file.

Two routers (or a router and a script) serving from one login file each refresh one at a time
in-process (`router.toolkit.refresh`), but not against each other: both see the expired token,
both spend the same single-use refresh token, and the second is refused for good
(`refresh_token_reused`). Holding this lock around re-read, refresh and write makes the second
process find the tokens the first one stored instead.

- The lock is `flock` on a sidecar file `<name>.lock` (mode 0600) in the credential file's
  folder, not on the credential file itself: that one is replaced by rename on every write,
  and a lock on the old inode would not exclude a process that opened the new one.
- The kernel drops the lock when its holder exits or crashes, so a lock is never left stale;
  the sidecar file stays and is harmless.
- Waiting polls with `LOCK_NB` and `asyncio.sleep`, so the event loop never blocks, and gives
  up after `timeout` seconds with an `UpstreamTimeout` naming the lock file.
- Only processes that take the lock are excluded: other programs sharing the login (the Codex
  CLI, the Kiro IDE) are guarded against by the re-read alone.
- Where `fcntl` does not exist (Windows) the lock is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

from router.errors import UpstreamTimeout

if sys.platform != "win32":
    import fcntl

LOCK_TIMEOUT = 60.0
"""How long to wait for another process's refresh: a refresh is one HTTP call, with retries."""
POLL_INTERVAL = 0.05

_log = logging.getLogger(__name__)


def lock_file(path: Path) -> Path:
    """The sidecar lock file of the credential file `path`: `auth.json` -> `auth.json.lock`."""
    return path.with_name(path.name + ".lock")


@contextlib.asynccontextmanager
async def credential_lock(
    path: Path, *, timeout: float = LOCK_TIMEOUT, provider: str = ""
) -> AsyncIterator[None]:
    """Hold the cross-process lock of the credential file `path` for the body of an `async with`.

    Raises `UpstreamTimeout` when another process holds it for more than `timeout` seconds.
    When the lock file cannot be created (no folder yet: no login to rotate; a read-only folder,
    logged: no process could store a rotation there either) the body runs unlocked.
    """
    fd = _open(lock_file(path))
    if fd is None:
        yield
        return
    try:
        deadline = time.monotonic() + timeout
        while not _try_lock(fd, path):
            if time.monotonic() >= deadline:
                raise UpstreamTimeout(
                    f"Another process has been refreshing the login in {path} for over {timeout:g} s "
                    f"(it holds {lock_file(path).name}); giving up for now.",
                    provider=provider,
                )
            await asyncio.sleep(POLL_INTERVAL)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def _open(lock: Path) -> int | None:
    if sys.platform == "win32":
        return None
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        return None
    except OSError as exc:
        _log.warning("Cannot create the lock file %s (%s); refreshing without it.", lock, exc.strerror or exc)
        return None
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o600)  # a lock file made by an older or foreign writer with a wider mode
    return fd


def _try_lock(fd: int, path: Path) -> bool:
    """Whether the body may run now: the lock was taken, or the file system cannot lock at all."""
    if sys.platform == "win32":
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:  # e.g. ENOLCK on a network file system without locks
        _log.warning("Cannot lock %s (%s); refreshing without it.", lock_file(path), exc.strerror or exc)
    return True
