"""The single-flight login refresh every token-rotating provider builds on."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest

from router.errors import AuthError, UpstreamUnavailable
from router.toolkit.refresh import SingleFlightRefresh

NOW = 1_000_000.0


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: float | None

    def same_tokens(self, other: Tokens) -> bool:
        return (self.access_token, self.refresh_token) == (other.access_token, other.refresh_token)


class Manager(SingleFlightRefresh[Tokens]):
    what = "Test"

    def __init__(self, stored: Tokens) -> None:
        super().__init__(refresh_margin=60, clock=lambda: NOW, logger=logging.getLogger("test"))
        self.stored = stored
        self.refreshes = 0
        self.fail: Exception | None = None

    def load(self) -> Tokens:
        return self.stored

    @property
    def where(self) -> str:
        return "memory"

    async def refresh(self, login: Tokens) -> Tokens:
        self.refreshes += 1
        await asyncio.sleep(0.01)
        if self.fail is not None:
            raise self.fail
        self.stored = Tokens(f"at-{self.refreshes}", f"rt-{self.refreshes}", NOW + 3600)
        return self.stored


async def test_concurrent_callers_share_one_refresh() -> None:
    manager = Manager(Tokens("at-0", "rt-0", NOW + 10))  # inside the margin
    logins = await asyncio.gather(*(manager.fresh_login() for _ in range(20)))
    assert manager.refreshes == 1 and {t.access_token for t in logins} == {"at-1"}


async def test_tokens_rotated_by_another_program_are_adopted_without_a_refresh() -> None:
    manager = Manager(Tokens("at-0", "rt-0", NOW + 3600))
    stale = (await manager.fresh_login()).access_token
    manager.stored = Tokens("at-other", "rt-other", NOW + 3600)
    assert (await manager.replacing(stale)).access_token == "at-other" and manager.refreshes == 0


async def test_a_dead_login_fails_fast_until_the_stored_login_changes() -> None:
    manager = Manager(Tokens("at-0", "rt-0", NOW - 1))
    manager.fail = AuthError("refresh token reused")
    for _ in range(3):
        with pytest.raises(AuthError):
            await manager.fresh_login()
    assert manager.refreshes == 1 and manager.dead_reason(manager.current()) is not None
    manager.fail, manager.stored = None, Tokens("at-new", "rt-new", NOW + 3600)
    assert (await manager.fresh_login()).access_token == "at-new"


async def test_a_failed_refresh_keeps_serving_a_token_that_has_not_expired() -> None:
    manager = Manager(Tokens("at-0", "rt-0", NOW + 10))
    manager.fail = UpstreamUnavailable("token endpoint down")
    assert (await manager.fresh_login()).access_token == "at-0"
    expired = Manager(Tokens("at-0", "rt-0", NOW - 1))
    expired.fail = UpstreamUnavailable("token endpoint down")
    with pytest.raises(UpstreamUnavailable):
        await expired.fresh_login()


async def test_a_refresh_survives_its_callers_cancellation() -> None:
    manager = Manager(Tokens("at-0", "rt-0", NOW - 1))
    caller = asyncio.ensure_future(manager.fresh_login())
    await asyncio.sleep(0)
    caller.cancel()
    await asyncio.sleep(0.05)
    assert manager.refreshes == 1 and manager.current().access_token == "at-1"
