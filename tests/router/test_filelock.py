"""The cross-process lock beside a shared credential file, and how `SingleFlightRefresh` uses it.

A lock held by "another process" is held here through a second open file description of the
lock file: `flock` locks belong to the open file, so it excludes this process's own
`credential_lock` exactly as another process's would (the two-process case itself is
`tests/providers/test_shared_credentials.py`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from router.errors import UpstreamTimeout
from router.toolkit.filelock import credential_lock, lock_file
from router.toolkit.refresh import SingleFlightRefresh

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the lock is POSIX flock")
NOW = 1_000_000.0


@contextmanager
def held_elsewhere(path: Path) -> Iterator[None]:
    """The lock of `path`, taken the way another process would take it."""
    import fcntl

    fd = os.open(lock_file(path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def test_the_lock_file_sits_beside_the_credential_file() -> None:
    assert lock_file(Path("/x/codex/auth.json")) == Path("/x/codex/auth.json.lock")


async def test_the_lock_file_is_private_even_when_it_existed_with_a_wider_mode(tmp_path: Path) -> None:
    credentials = tmp_path / "auth.json"
    lock_file(credentials).write_text("")
    lock_file(credentials).chmod(0o644)
    async with credential_lock(credentials):
        assert stat.S_IMODE(lock_file(credentials).stat().st_mode) == 0o600
    old = os.umask(0)
    try:
        fresh = tmp_path / "other.json"
        async with credential_lock(fresh):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE(lock_file(fresh).stat().st_mode) == 0o600


async def test_a_held_lock_is_waited_for_without_blocking_the_loop_and_then_taken(tmp_path: Path) -> None:
    credentials = tmp_path / "auth.json"
    ticks = 0
    entered = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not entered.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    async def locker() -> None:
        async with credential_lock(credentials, timeout=10):
            entered.set()

    with held_elsewhere(credentials):
        waiting = asyncio.create_task(locker())
        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0.3)
        assert not entered.is_set(), "the lock was taken while another holder had it"
        assert ticks >= 5, "the event loop stalled while waiting for the lock"
    await asyncio.wait_for(waiting, 5)
    await ticking
    assert entered.is_set()


async def test_waiting_is_bounded_with_an_error_naming_the_lock(tmp_path: Path) -> None:
    credentials = tmp_path / "auth.json"
    with held_elsewhere(credentials), pytest.raises(UpstreamTimeout) as caught:
        async with credential_lock(credentials, timeout=0.2):
            pytest.fail("entered a lock another holder had")
    assert "auth.json.lock" in caught.value.message and "0.2 s" in caught.value.message
    assert caught.value.retryable


async def test_the_lock_is_released_when_the_body_fails(tmp_path: Path) -> None:
    credentials = tmp_path / "auth.json"
    with pytest.raises(RuntimeError):
        async with credential_lock(credentials):
            raise RuntimeError("refresh failed")
    async with credential_lock(credentials, timeout=0.2):
        pass


async def test_no_folder_means_no_lock_file_and_no_error(tmp_path: Path) -> None:
    credentials = tmp_path / "missing" / "auth.json"
    async with credential_lock(credentials, timeout=0.2):
        pass
    assert not credentials.parent.exists()


# -- SingleFlightRefresh over a shared file -------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: float | None

    def same_tokens(self, other: Tokens) -> bool:
        return (self.access_token, self.refresh_token) == (other.access_token, other.refresh_token)


class FileManager(SingleFlightRefresh[Tokens]):
    """Keeps its login in memory but declares a shared file, so refreshes take that file's lock."""

    what = "Test"

    def __init__(self, path: Path, stored: Tokens) -> None:
        super().__init__(refresh_margin=60, clock=lambda: NOW, logger=logging.getLogger("test"))
        self.path = path
        self.stored = stored
        self.refreshes = 0
        self.held_during_refresh: list[bool] = []

    def load(self) -> Tokens:
        return self.stored

    @property
    def where(self) -> str:
        return str(self.path)

    @property
    def shared_file(self) -> Path:
        return self.path

    async def refresh(self, login: Tokens) -> Tokens:
        import fcntl

        self.refreshes += 1
        probe = os.open(lock_file(self.path), os.O_RDWR)
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.held_during_refresh.append(True)
        else:
            self.held_during_refresh.append(False)
        finally:
            os.close(probe)
        self.stored = Tokens(f"at-{self.refreshes}", f"rt-{self.refreshes}", NOW + 3600)
        return self.stored


async def test_a_refresh_of_a_shared_file_runs_under_its_lock(tmp_path: Path) -> None:
    manager = FileManager(tmp_path / "auth.json", Tokens("at-0", "rt-0", NOW - 1))
    logins = await asyncio.gather(*(manager.fresh_login() for _ in range(5)))
    assert {login.access_token for login in logins} == {"at-1"}
    assert manager.refreshes == 1 and manager.held_during_refresh == [True]


async def test_tokens_another_process_stored_while_we_waited_are_adopted(tmp_path: Path) -> None:
    manager = FileManager(tmp_path / "auth.json", Tokens("at-0", "rt-0", NOW - 1))
    manager.current()
    with held_elsewhere(manager.path):
        waiting = asyncio.ensure_future(manager.fresh_login())
        await asyncio.sleep(0.1)
        manager.stored = Tokens("at-other", "rt-other", NOW + 3600)  # what the holder wrote before letting go
    assert (await asyncio.wait_for(waiting, 5)).access_token == "at-other"
    assert manager.refreshes == 0


async def test_callers_queued_behind_a_lock_timeout_share_its_error(tmp_path: Path) -> None:
    manager = FileManager(tmp_path / "auth.json", Tokens("at-0", "rt-0", NOW - 1))
    manager.lock_timeout = 0.5
    started = time.monotonic()
    with held_elsewhere(manager.path):
        outcomes = await asyncio.gather(*(manager.fresh_login() for _ in range(8)), return_exceptions=True)
    waited = time.monotonic() - started
    assert all(isinstance(outcome, UpstreamTimeout) for outcome in outcomes)
    assert waited < 3.0, "each queued caller waited for the lock again (8 x 0.5 s)"
    assert manager.refreshes == 0
    assert (await manager.fresh_login()).access_token == "at-1", "once free, the next request refreshes"


async def test_a_lock_timeout_still_serves_a_token_that_has_not_expired(tmp_path: Path) -> None:
    manager = FileManager(tmp_path / "auth.json", Tokens("at-0", "rt-0", NOW + 10))  # inside the margin
    manager.lock_timeout = 0.2
    with held_elsewhere(manager.path):
        assert (await manager.fresh_login()).access_token == "at-0"
    assert manager.refreshes == 0
