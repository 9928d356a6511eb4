"""Cooldowns: back-off, Retry-After, scopes, quota resets, and state that survives a restart."""

from __future__ import annotations

import logging
import math
import sqlite3
import stat
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from router.quota import QuotaWindow
from router.server import cooldowns as module
from router.server.cooldowns import (
    MAX_RETRY_AFTER,
    SCHEMA_VERSION,
    Cooldown,
    Cooldowns,
    MemoryStore,
    SqliteStore,
    Store,
    state_file,
)

NOW = 1_800_000_000.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recording:
    """A store wrapper that counts the writes reaching the store underneath."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.writes: list[str] = []

    def load(self) -> tuple[list[Cooldown], dict[tuple[str, str], tuple[list[QuotaWindow], float]]]:
        return self.inner.load()

    def save_cooldown(self, cooldown: Cooldown) -> None:
        self.writes.append("save_cooldown")
        self.inner.save_cooldown(cooldown)

    def clear_cooldown(self, provider: str, account: str, model: str | None) -> None:
        self.writes.append("clear_cooldown")
        self.inner.clear_cooldown(provider, account, model)

    def save_quota(self, provider: str, account: str, windows: Sequence[QuotaWindow], seen_at: float) -> None:
        self.writes.append("save_quota")
        self.inner.save_quota(provider, account, windows, seen_at)

    def save_session(self, session: str, provider: str, account: str, seen_at: float) -> None:
        self.writes.append("save_session")
        self.inner.save_session(session, provider, account, seen_at)

    def load_sessions(self) -> dict[str, tuple[str, str]]:
        return self.inner.load_sessions()

    def changed(self) -> bool:
        return self.inner.changed()

    def close(self) -> None:
        self.inner.close()


Opener = Callable[..., Store]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["memory", "sqlite"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[Opener]:
    """Opens the store as a restarted router would: the same memory store, or the same file anew."""
    opened: list[Store] = []
    memory: dict[str, MemoryStore] = {}

    def open_(**options: object) -> Store:
        store: Store
        if request.param == "memory":
            store = memory.setdefault("store", MemoryStore(clock=clock, **options))  # type: ignore[arg-type]
        else:
            for previous in opened:
                previous.close()
            store = SqliteStore(state_file(tmp_path / "state"), clock=clock, **options)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


def cooldowns(clock: Clock, store: Store | None = None, **options: float) -> tuple[Cooldowns, Recording]:
    recording = Recording(store if store is not None else MemoryStore(clock=clock))
    return Cooldowns(recording, clock=clock, **options), recording


def window(name: str = "5 h", used: float | None = 100.0, resets_in: float | None = 3600.0) -> QuotaWindow:
    return QuotaWindow(name, used, None if resets_in is None else NOW + resets_in, 300, "")


# -- back-off and Retry-After ------------------------------------------------------------------------


def test_backoff_doubles_per_consecutive_strike_up_to_the_cap(clock: Clock) -> None:
    cools, _ = cooldowns(clock, base=30.0, cap=200.0)
    waits = []
    for _ in range(5):
        cooldown = cools.strike("codex", "a", None, retry_after=None, reason="overloaded")
        waits.append(cooldown.until - clock.now)
        clock.now = cooldown.until  # the cooldown has run out when the next failure comes
    assert waits == [30.0, 60.0, 120.0, 200.0, 200.0]
    assert cooldown.strikes == 5


def test_a_success_starts_the_back_off_afresh(clock: Clock) -> None:
    cools, _ = cooldowns(clock)
    for _ in range(3):
        clock.now = cools.strike("codex", "a", "m", retry_after=None, reason="x").until
    cools.succeeded("codex", "a", "m")
    assert cools.strike("codex", "a", "m", retry_after=None, reason="x").until - clock.now == 30.0


def test_a_success_resets_account_and_model_strikes_but_not_other_models(clock: Clock) -> None:
    cools, _ = cooldowns(clock)
    for model in (None, "m", "other"):
        clock.now = cools.strike("codex", "a", model, retry_after=None, reason="x").until
    cools.succeeded("codex", "a", "m")
    assert cools.strike("codex", "a", None, retry_after=None, reason="x").strikes == 1
    assert cools.strike("codex", "a", "m", retry_after=None, reason="x").strikes == 1
    assert cools.strike("codex", "a", "other", retry_after=None, reason="x").strikes == 2


def test_a_success_with_nothing_to_reset_writes_nothing(clock: Clock) -> None:
    cools, recording = cooldowns(clock)
    cools.succeeded("codex", "a", "m")
    clock.now = cools.strike("codex", "a", "m", retry_after=None, reason="x").until
    recording.writes.clear()
    cools.succeeded("codex", "a", "m")
    cools.succeeded("codex", "a", "m")
    assert recording.writes == []


def test_strikes_while_already_cooling_are_one_episode(clock: Clock) -> None:
    cools, _ = cooldowns(clock)
    first = cools.strike("codex", "a", None, retry_after=None, reason="overloaded")
    for _ in range(4):  # the other requests that were in flight fail too
        again = cools.strike("codex", "a", None, retry_after=None, reason="overloaded")
    assert again == first
    longer = cools.strike("codex", "a", None, retry_after=600, reason="rate limited")
    assert (longer.until, longer.strikes, longer.reason) == (NOW + 600, 1, "rate limited")
    assert cools.strike("codex", "a", None, retry_after=5, reason="x") == longer


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [(120.0, 120.0), (0.0, 1.0), (-5.0, 1.0), (0.25, 1.0), (10.0**9, MAX_RETRY_AFTER), (math.inf, MAX_RETRY_AFTER),
     (math.nan, 30.0)],
)
def test_retry_after_is_honoured_within_bounds(clock: Clock, retry_after: float, wait: float) -> None:
    cools, _ = cooldowns(clock)
    cooldown = cools.strike("codex", "a", None, retry_after=retry_after, reason="rate limited")
    assert cooldown.until - NOW == wait
    assert MAX_RETRY_AFTER == 31 * 86400


def test_retry_after_counts_as_a_strike_for_the_back_off(clock: Clock) -> None:
    cools, _ = cooldowns(clock)
    clock.now = cools.strike("codex", "a", None, retry_after=5, reason="x").until
    assert cools.strike("codex", "a", None, retry_after=None, reason="x").until - clock.now == 60.0


# -- scopes and expiry -------------------------------------------------------------------------------


def test_an_account_cooldown_covers_every_model(clock: Clock) -> None:
    cools, _ = cooldowns(clock)
    cooldown = cools.strike("codex", "a", None, retry_after=60, reason="usage limit")
    assert cools.cooling("codex", "a", None) == cooldown
    assert cools.cooling("codex", "a", "gpt-5") == cooldown
    assert cools.cooling("codex", "a", "other") == cooldown
    assert cools.cooling("codex", "b", "gpt-5") is None
    assert cools.cooling("kiro", "a", None) is None


def test_a_model_cooldown_blocks_only_that_model(clock: Clock) -> None:
    cools, _ = cooldowns(clock)
    cooldown = cools.strike("codex", "a", "gpt-5", retry_after=60, reason="model overloaded")
    assert cools.cooling("codex", "a", "gpt-5") == cooldown
    assert cools.cooling("codex", "a", "other") is None
    assert cools.cooling("codex", "a", None) is None


def test_the_later_ending_of_account_and_model_cooldowns_is_reported(clock: Clock) -> None:
    cools, _ = cooldowns(clock)
    account = cools.strike("codex", "a", None, retry_after=60, reason="account")
    model = cools.strike("codex", "a", "gpt-5", retry_after=600, reason="model")
    assert cools.cooling("codex", "a", "gpt-5") == model
    assert cools.cooling("codex", "a", "other") == account
    clock.now += 300
    assert cools.cooling("codex", "a", "gpt-5") == model
    assert cools.cooling("codex", "a", "other") is None


def test_an_expired_cooldown_is_dropped_and_cleared_from_the_store(clock: Clock) -> None:
    cools, recording = cooldowns(clock)
    cools.strike("codex", "a", "m", retry_after=60, reason="x")
    clock.now += 59.5
    assert cools.cooling("codex", "a", "m") is not None
    clock.now += 0.5
    assert cools.cooling("codex", "a", "m") is None
    assert recording.writes == ["save_cooldown", "clear_cooldown"]
    assert cools.cooling("codex", "a", "m") is None
    assert recording.writes == ["save_cooldown", "clear_cooldown"]
    assert cools.snapshot() == []


def test_snapshot_lists_the_cooldowns_in_force_in_order(clock: Clock) -> None:
    cools, _ = cooldowns(clock)
    b = cools.strike("codex", "b", None, retry_after=60, reason="x")
    a_model = cools.strike("codex", "a", "m", retry_after=600, reason="x")
    cools.strike("codex", "a", None, retry_after=10, reason="x")
    clock.now += 30
    assert cools.snapshot() == [a_model, b]


def test_earliest_says_when_the_first_of_all_cooling_targets_frees_up(clock: Clock) -> None:
    cools, _ = cooldowns(clock)
    cools.strike("codex", "a", None, retry_after=600, reason="x")
    soon = cools.strike("kiro", "b", "m", retry_after=60, reason="x")
    assert cools.earliest([("codex", "a", "m"), ("kiro", "b", "m")]) == soon
    assert cools.earliest([("codex", "a", "m"), ("kiro", "b", "other")]) is None
    assert cools.earliest([]) is None


def test_clear_lifts_a_cooldown_and_its_strikes(clock: Clock) -> None:
    cools, recording = cooldowns(clock)
    cools.strike("codex", "a", None, retry_after=None, reason="x")
    cools.clear("codex", "a")
    assert cools.cooling("codex", "a", "m") is None
    assert recording.writes == ["save_cooldown", "clear_cooldown"]
    assert cools.strike("codex", "a", None, retry_after=None, reason="x").strikes == 1


# -- quota reports -----------------------------------------------------------------------------------


def test_a_used_up_window_cools_the_account_until_its_reset(clock: Clock) -> None:
    cools, _ = cooldowns(clock)
    cools.report_quota("codex", "a", [window("5 h", 100.0, 3600), window("weekly", 40.0, 86400)])
    cooldown = cools.cooling("codex", "a", "gpt-5")
    assert cooldown == Cooldown("codex", "a", None, NOW + 3600, "5 h limit used up (100%)", 0)
    clock.now += 3600
    assert cools.cooling("codex", "a", "gpt-5") is None


def test_the_latest_reset_of_several_used_up_windows_decides(clock: Clock) -> None:
    cools, _ = cooldowns(clock)
    cools.report_quota("codex", "a", [window("5 h", 100.0, 3600), window("weekly", 100.0, 86400)])
    cooldown = cools.cooling("codex", "a", None)
    assert cooldown is not None
    assert (cooldown.until, cooldown.reason) == (NOW + 86400, "weekly limit used up (100%)")


@pytest.mark.parametrize(
    "windows",
    [[window(used=99.9)], [window(resets_in=-1)], [window(resets_in=None)], [window(used=None)], []],
)
def test_windows_that_are_not_used_up_until_a_future_reset_cool_nothing(
    clock: Clock, windows: list[QuotaWindow]
) -> None:
    cools, _ = cooldowns(clock)
    cools.report_quota("codex", "a", windows)
    assert cools.cooling("codex", "a", None) is None
    assert cools.quotas() == {("codex", "a"): (windows, NOW)}


def test_a_quota_does_not_shorten_a_longer_strike(clock: Clock) -> None:
    cools, _ = cooldowns(clock)
    strike = cools.strike("codex", "a", None, retry_after=7200, reason="usage limit")
    cools.report_quota("codex", "a", [window(resets_in=3600)])
    assert cools.cooling("codex", "a", None) == strike
    cools.report_quota("codex", "a", [window(resets_in=1800)])
    assert cools.cooling("codex", "a", None) == strike
    cools.report_quota("codex", "a", [window(resets_in=9000)])  # a later reset does extend it
    cooldown = cools.cooling("codex", "a", None)
    assert cooldown is not None and cooldown.until == NOW + 9000


def test_a_throttle_is_not_lifted_by_figures_that_never_explained_it(clock: Clock) -> None:
    cools, _ = cooldowns(clock)
    strike = cools.strike("kiro", "a", None, retry_after=None, reason="throttled")
    cools.report_quota("kiro", "a", [window(used=10.0)])  # credits fine: the throttle was about pace
    assert cools.cooling("kiro", "a", None) == strike


def test_a_strike_the_figures_explained_lifts_once_they_show_credits_again(clock: Clock) -> None:
    """Kiro's 402 cools the account until the month's end; bought credits must end that early."""
    cools, recording = cooldowns(clock)
    strike = cools.strike("kiro", "a", None, retry_after=20 * 86400, reason="monthly credits used up")
    cools.report_quota("kiro", "a", [window("monthly", 100.0, 20 * 86400)])
    assert cools.cooling("kiro", "a", None) == strike
    cools.report_quota("kiro", "a", [window("other", 5.0)])  # says nothing about the monthly window
    assert cools.cooling("kiro", "a", None) == strike
    cools.report_quota("kiro", "a", [window("monthly", 12.0, 20 * 86400)])
    assert cools.cooling("kiro", "a", None) is None
    assert "clear_cooldown" in recording.writes  # the lift reaches the store too
    again = cools.strike("kiro", "a", None, retry_after=None, reason="throttled")
    cools.report_quota("kiro", "a", [window("monthly", 12.0, 20 * 86400)])  # a new strike is its own
    assert cools.cooling("kiro", "a", None) == again


def test_a_quota_cooldown_follows_its_reset_and_lifts_once_the_window_is_free(clock: Clock) -> None:
    cools, recording = cooldowns(clock)
    cools.report_quota("kiro", "a", [window(resets_in=3600)])
    cools.report_quota("kiro", "a", [window(resets_in=3600.5)])  # jitter: nothing to write
    assert recording.writes == ["save_cooldown", "save_quota"]
    cools.report_quota("kiro", "a", [window(resets_in=1800)])
    cooldown = cools.cooling("kiro", "a", None)
    assert cooldown is not None and cooldown.until == NOW + 1800
    cools.report_quota("kiro", "a", [QuotaWindow("other", 10.0)])  # says nothing about the 5 h window
    assert cools.cooling("kiro", "a", None) is not None
    cools.report_quota("kiro", "a", [window(used=0.0, resets_in=18000)])  # credits bought
    assert cools.cooling("kiro", "a", None) is None


def test_quota_writes_are_throttled_unless_something_changed(clock: Clock) -> None:
    cools, recording = cooldowns(clock)

    def saves() -> int:
        return recording.writes.count("save_quota")

    cools.report_quota("codex", "a", [window(used=40.0)])
    assert saves() == 1
    for step in range(29):  # a reply a second, usage creeping up, reset jittering
        clock.now += 1
        cools.report_quota("codex", "a", [window(used=40.0 + step / 10, resets_in=3600 + step % 2)])
    assert saves() == 1
    assert cools.quotas()[("codex", "a")][1] == clock.now  # the figures are fresh all the same
    clock.now += 1
    cools.report_quota("codex", "a", [window(used=44.0)])
    assert saves() == 2
    cools.report_quota("codex", "b", [window(used=1.0)])  # another account has its own clock
    assert saves() == 3
    cools.report_quota("codex", "a", [window(used=50.0, resets_in=7200)])  # the reset moved
    assert saves() == 4
    cools.report_quota("codex", "a", [window(used=100.0, resets_in=7200)])  # used up
    assert saves() == 5
    cools.report_quota("codex", "a", [window(used=100.0, resets_in=7200), QuotaWindow("weekly", 3.0)])
    assert saves() == 6
    assert recording.writes.count("save_cooldown") == 1


# -- stores: persistence across a restart ------------------------------------------------------------


def test_a_restart_keeps_cooldowns_in_force_and_drops_expired_ones(open_store: Opener, clock: Clock) -> None:
    cools = Cooldowns(open_store(), clock=clock)
    long = cools.strike("codex", "a", None, retry_after=3600, reason="usage limit")
    model = cools.strike("codex", "b", "gpt-5", retry_after=None, reason="overloaded")
    cools.strike("kiro", "c", None, retry_after=10, reason="throttled")
    clock.now += 20

    restarted = Cooldowns(open_store(), clock=clock)
    assert restarted.snapshot() == [long, model]
    assert restarted.cooling("codex", "a", "any") == long
    assert restarted.cooling("kiro", "c", None) is None
    stored, _ = open_store().load()
    assert sorted(c.account for c in stored) == ["a", "b"]


def test_a_second_process_sees_cooldowns_set_and_cleared_by_the_first(tmp_path: Path, clock: Clock) -> None:
    """`router accounts --clear` runs in its own process: the serving router must follow it."""
    path = state_file(tmp_path / "state")
    serving = Cooldowns(SqliteStore(path, clock=clock), clock=clock)
    cooling = serving.strike("codex", "a", None, retry_after=3600, reason="usage limit")
    other = Cooldowns(SqliteStore(path, clock=clock), clock=clock)
    assert other.cooling("codex", "a", None) == cooling  # read at start

    other.clear("codex", "a")
    shared = other.strike("kiro", "b", None, retry_after=600, reason="throttled")
    assert serving.cooling("codex", "a", None) == cooling  # not looked again before the interval
    clock.now += module.SYNC_INTERVAL
    assert serving.cooling("codex", "a", None) is None
    assert serving.cooling("kiro", "b", None) == shared
    assert serving.strike("codex", "a", None, retry_after=None, reason="x").strikes == 1  # strikes went too

    clock.now += module.SYNC_INTERVAL
    assert other.snapshot()[0].account == "a"  # and back the other way, at once for the listing


def test_a_memory_store_never_reports_changes(clock: Clock) -> None:
    store = MemoryStore(clock=clock)
    store.save_cooldown(Cooldown("codex", "a", None, NOW + 60, "x", 1))
    assert store.changed() is False


def test_strikes_of_a_cooldown_in_force_survive_a_restart(open_store: Opener, clock: Clock) -> None:
    cools = Cooldowns(open_store(), clock=clock)
    for _ in range(2):
        clock.now = cools.strike("codex", "a", "m", retry_after=None, reason="x").until
    cools.strike("codex", "a", "m", retry_after=None, reason="x")
    restarted = Cooldowns(open_store(), clock=clock)
    clock.now += 120
    assert restarted.strike("codex", "a", "m", retry_after=None, reason="x").strikes == 4


def test_a_restart_keeps_the_last_quota_figures(open_store: Opener, clock: Clock) -> None:
    cools = Cooldowns(open_store(), clock=clock)
    windows = [window("5 h", 100.0, 3600), QuotaWindow("credits", None, None, None, "12 of 50 left")]
    cools.report_quota("codex", "a", windows)
    restarted = Cooldowns(open_store(), clock=clock)
    assert restarted.quotas() == {("codex", "a"): (windows, NOW)}
    cooldown = restarted.cooling("codex", "a", None)
    assert cooldown is not None and cooldown.reason == "5 h limit used up (100%)"


def test_cleared_cooldowns_stay_cleared_after_a_restart(open_store: Opener, clock: Clock) -> None:
    cools = Cooldowns(open_store(), clock=clock)
    cools.strike("codex", "a", None, retry_after=600, reason="x")
    cools.clear("codex", "a")
    assert Cooldowns(open_store(), clock=clock).snapshot() == []


def test_sessions_round_trip_and_are_pruned_by_age_and_count(open_store: Opener, clock: Clock) -> None:
    store = open_store(max_sessions=3, session_ttl=3600.0)
    store.save_session("stale", "codex", "a", NOW - 3601)
    for n in range(5):
        store.save_session(f"s{n}", "codex", f"acct{n}", NOW - 100 + n)
    store.save_session("s0", "kiro", "moved", NOW)  # seen again, now on another account
    assert open_store(max_sessions=3, session_ttl=3600.0).load_sessions() == {
        "s0": ("kiro", "moved"), "s3": ("codex", "acct3"), "s4": ("codex", "acct4"),
    }


def test_sessions_stay_bounded_while_being_saved(open_store: Opener, clock: Clock) -> None:
    store = open_store(max_sessions=10)
    for n in range(module._PRUNE_EVERY):
        store.save_session(f"s{n}", "codex", "a", NOW + n)
    if isinstance(store, SqliteStore):
        with sqlite3.connect(store.path) as conn:
            assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 10
    else:
        assert isinstance(store, MemoryStore) and len(store._sessions) == 10
    assert len(store.load_sessions()) == 10


# -- the SQLite file ---------------------------------------------------------------------------------


def test_state_file_lives_in_the_state_directory(tmp_path: Path) -> None:
    assert state_file(tmp_path) == tmp_path / "router.sqlite3"


def test_the_state_file_is_private_and_journaled(tmp_path: Path) -> None:
    path = state_file(tmp_path / "new" / "state")
    store = SqliteStore(path)
    store.save_cooldown(Cooldown("codex", "a", None, NOW, "x", 1))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()


def test_an_existing_state_file_is_made_private(tmp_path: Path) -> None:
    path = state_file(tmp_path)
    path.touch(mode=0o644)
    path.chmod(0o644)
    SqliteStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_corrupt_state_file_is_moved_aside(tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    path = state_file(tmp_path)
    path.write_bytes(b"this is no database" * 100)
    with caplog.at_level(logging.WARNING, logger="router.server.cooldowns"):
        store = SqliteStore(path, clock=clock)
    assert "moving it aside" in caplog.text
    aside = list(tmp_path.glob("router.sqlite3.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is no database")
    cools = Cooldowns(store, clock=clock)
    cools.strike("codex", "a", None, retry_after=60, reason="x")
    store.close()
    assert len(SqliteStore(path, clock=clock).load()[0]) == 1


def test_an_unopenable_state_file_is_moved_aside(tmp_path: Path, clock: Clock) -> None:
    path = state_file(tmp_path)
    path.mkdir()  # not a file at all
    store = SqliteStore(path, clock=clock)
    store.save_session("s", "codex", "a", NOW)
    assert store.load_sessions() == {"s": ("codex", "a")}
    assert path.is_file() and len(list(tmp_path.glob("router.sqlite3.corrupt-*"))) == 1
    store.close()


def test_a_state_directory_that_cannot_be_made_leaves_state_in_memory(tmp_path: Path, clock: Clock) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = SqliteStore(state_file(blocker / "state"), clock=clock)
    store.save_cooldown(Cooldown("codex", "a", None, NOW + 60, "x", 1))
    assert [c.account for c in store.load()[0]] == ["a"]
    store.close()


def test_a_state_file_damaged_while_open_is_replaced(tmp_path: Path, clock: Clock) -> None:
    path = state_file(tmp_path)
    store = SqliteStore(path, clock=clock)
    store.save_cooldown(Cooldown("codex", "a", None, NOW + 60, "x", 1))
    store.close()
    store = SqliteStore(path, clock=clock)
    path.write_bytes(b"\0" * 4096 + b"garbage" * 1000)  # clobbered under the open connection
    (tmp_path / "router.sqlite3-wal").unlink(missing_ok=True)
    assert store.load() == ([], {})  # SQLite finds it malformed: moved aside, a fresh file started
    assert len(list(tmp_path.glob("router.sqlite3.corrupt-*"))) == 1
    store.save_cooldown(Cooldown("codex", "b", None, NOW + 60, "x", 1))
    store.close()
    reopened = SqliteStore(path, clock=clock)
    assert [c.account for c in reopened.load()[0]] == ["b"]
    reopened.close()


def test_a_state_file_of_an_unknown_layout_is_started_afresh(tmp_path: Path, clock: Clock) -> None:
    path = state_file(tmp_path)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE cooldowns (whatever TEXT)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    store = SqliteStore(path, clock=clock)
    store.save_cooldown(Cooldown("codex", "a", "m", NOW + 60, "x", 2))
    assert store.load()[0] == [Cooldown("codex", "a", "m", NOW + 60, "x", 2)]
    store.close()


def test_a_closed_store_ignores_calls(tmp_path: Path, clock: Clock) -> None:
    store = SqliteStore(state_file(tmp_path), clock=clock)
    store.close()
    store.save_cooldown(Cooldown("codex", "a", None, NOW + 60, "x", 1))
    store.save_quota("codex", "a", [window()], NOW)
    store.save_session("s", "codex", "a", NOW)
    store.clear_cooldown("codex", "a", None)
    assert store.load() == ([], {})
    assert store.load_sessions() == {}
    store.close()
