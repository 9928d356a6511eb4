"""The usage ledger: what one request leaves behind, written in batches off the event loop.

The app tests drive the real app over the scripted provider and read the rows back; the unit
tests hold the clock and the file: retention, permissions, a broken file, the live tail.
"""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

import router.server.ledger as ledger_module
from router.conversation import Usage
from router.errors import Overloaded, UpstreamRejected, UpstreamUnavailable
from router.events import MessageStart, TextDelta, TextStart
from router.server.ledger import FLUSH_ROWS, Ledger, LedgerRow
from router.server.runtime import Runtime
from tests.conftest import CLASSES, CONFIG, Harness, body, make_config
from tests.support.live import served
from tests.support.scripted import USAGE, ScriptedProvider, Sleep, text_reply

DAY = 86400.0
PROMPT = "zebra-quartz-7731 the prompt nobody may keep"
ONE_ROUTE = "server: {retries: 0}\ndefault: {use: scripted/m}\n"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def row(**changes: Any) -> LedgerRow:
    values: dict[str, Any] = dict(
        at=1_800_000_000.0, session="s-1", path="/v1/messages", stream=True, client_model="claude-opus-4-8",
        tier="opus", rule="tier=opus", provider="codex", account="default", upstream_model="gpt-5.5",
        input_tokens=100, output_tokens=20, cached_tokens=5, cost=None, ttfb_ms=12.5, total_ms=40.0,
        status=200, error_type=None,
    )
    values.update(changes)
    return LedgerRow(**values)


def stored_count(path: Path) -> int:
    """Rows in the file as another process sees them (not through the ledger, which would flush)."""
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("SELECT count(*) FROM requests").fetchone()[0])


def stored_times(path: Path) -> list[float]:
    with closing(sqlite3.connect(path)) as conn:
        return [at for (at,) in conn.execute("SELECT at FROM requests ORDER BY at")]


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.02)
    return condition()


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger" / "usage.sqlite3"


@pytest.fixture
def make_ledger(ledger_path: Path) -> Iterator[Callable[..., Ledger]]:
    made: list[Ledger] = []

    def build(clock: Callable[[], float] = Clock(), retention_days: int = 90, path: Path = ledger_path) -> Ledger:
        ledger = Ledger(path, retention_days=retention_days, clock=clock)
        made.append(ledger)
        return ledger

    yield build
    for ledger in made:
        ledger.close()


# -- through the app ------------------------------------------------------------------------------


def scripted(harness: Harness) -> ScriptedProvider:
    return harness.scripted


def rows_of(harness: Harness) -> list[LedgerRow]:
    assert harness.runtime.ledger is not None
    return list(reversed(harness.runtime.ledger.recent()))


async def test_a_json_reply_and_a_stream_each_leave_one_row(make_harness: Any) -> None:
    harness = make_harness()
    headers = {"x-claude-code-session-id": "session-42"}
    assert (await harness.http.post("/v1/messages", json=body(), headers=headers)).status_code == 200
    streamed = await harness.http.post("/v1/messages", json=body("claude-sonnet-4-5", stream=True), headers=headers)
    assert streamed.status_code == 200 and "message_stop" in streamed.text

    folded, stream = rows_of(harness)
    assert (folded.path, folded.stream, stream.stream) == ("/v1/messages", False, True)
    assert (folded.client_model, folded.tier, folded.rule) == ("claude-opus-4-8", "opus", "tier=opus")
    assert (folded.provider, folded.account, folded.upstream_model) == ("scripted", "default", "big-model")
    assert (stream.client_model, stream.tier, stream.upstream_model) == ("claude-sonnet-4-5", "sonnet", "mid-model")
    for recorded in (folded, stream):
        assert recorded.session == "session-42"
        assert (recorded.input_tokens, recorded.output_tokens, recorded.cached_tokens) == (
            USAGE.input_tokens, USAGE.output_tokens, USAGE.cache_read_input_tokens)
        assert (recorded.status, recorded.error_type, recorded.cost) == (200, None, None)
        assert recorded.ttfb_ms is not None and 0 <= recorded.ttfb_ms <= recorded.total_ms
        assert recorded.id is not None


async def test_ttfb_is_the_first_byte_not_the_end(make_harness: Any) -> None:
    harness = make_harness()
    late = [MessageStart("m"), Sleep(0.4), *text_reply("late")[1:]]
    scripted(harness).queue(late, late)
    await harness.http.post("/v1/messages", json=body(stream=True))
    await harness.http.post("/v1/messages", json=body())
    for recorded in rows_of(harness):  # the first byte (or event) came 0.4 s before the end
        assert recorded.ttfb_ms is not None and recorded.total_ms - recorded.ttfb_ms >= 300


async def test_count_tokens_is_recorded_with_the_count(make_harness: Any) -> None:
    harness = make_harness()
    scripted(harness).count = 321
    response = await harness.http.post("/v1/messages/count_tokens", json=body())
    assert response.json() == {"input_tokens": 321}
    (counted,) = rows_of(harness)
    assert (counted.path, counted.input_tokens, counted.output_tokens, counted.status) == (
        "/v1/messages/count_tokens", 321, 0, 200)
    assert counted.ttfb_ms is None


async def test_a_failing_local_estimate_is_a_recorded_500_not_an_unlogged_one(
    make_harness: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(request: Any) -> int:
        raise ValueError("estimate broke")

    monkeypatch.setattr("router.server.app.estimate_input_tokens", broken)
    harness = make_harness()
    scripted(harness).count = None  # the provider cannot count: the local estimate runs
    response = await harness.http.post("/v1/messages/count_tokens", json=body())
    assert response.status_code == 500 and response.json()["error"]["type"] == "api_error"
    (failed,) = rows_of(harness)
    assert (failed.path, failed.status, failed.error_type) == ("/v1/messages/count_tokens", 500, "api_error")


async def test_failures_record_the_status_and_error_type(make_harness: Any) -> None:
    harness = make_harness(ONE_ROUTE)
    provider = scripted(harness)
    provider.queue([UpstreamRejected("the upstream refused it")])
    provider.queue([MessageStart("m"), TextStart(), TextDelta("half"), Sleep(0), UpstreamUnavailable("cut off")])
    refused = await harness.http.post("/v1/messages", json=body("claude-x"))
    cut = await harness.http.post("/v1/messages", json=body("claude-x", stream=True))
    bad = await harness.http.post("/v1/messages", json={"model": "claude-x"})
    assert (refused.status_code, cut.status_code, bad.status_code) == (400, 200, 400)
    assert '"type":"error"' in cut.text.replace(" ", "")

    before, mid_stream, undecodable = rows_of(harness)
    assert (before.status, before.error_type, before.provider) == (400, "invalid_request_error", "scripted")
    assert (mid_stream.status, mid_stream.error_type, mid_stream.stream) == (502, "api_error", True)
    assert (undecodable.status, undecodable.error_type) == (400, "invalid_request_error")
    assert (undecodable.client_model, undecodable.provider, undecodable.rule) == ("", None, "-")
    assert harness.runtime.ledger is not None
    (totals,) = harness.runtime.ledger.totals(0)
    assert (totals["requests"], totals["errors"]) == (3, 3)


async def test_an_overloaded_upstream_is_a_529_row(make_harness: Any) -> None:
    harness = make_harness(ONE_ROUTE)
    scripted(harness).queue([Overloaded("busy")])
    response = await harness.http.post("/v1/messages", json=body("claude-x"))
    (failed,) = rows_of(harness)
    assert (failed.status, failed.error_type) == (response.status_code, response.json()["error"]["type"])


def test_a_client_disconnect_is_recorded_as_499() -> None:
    runtime = Runtime(make_config(), CLASSES)
    provider = runtime.providers["scripted"]
    assert isinstance(provider, ScriptedProvider) and runtime.ledger is not None
    provider.queue([MessageStart("m", Usage(input_tokens=9)), TextStart(), TextDelta("first"), Sleep(60)])
    with served(runtime) as (url, _):
        with httpx.stream("POST", f"{url}/v1/messages", json=body(stream=True), timeout=10) as response:
            for line in response.iter_lines():
                if "content_block_delta" in line:
                    break
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not runtime.ledger.recent():
            time.sleep(0.02)
        (gone,) = runtime.ledger.recent()
    assert (gone.status, gone.error_type, gone.stream) == (499, None, True)
    assert gone.ttfb_ms is not None and gone.ttfb_ms <= gone.total_ms


async def test_no_prompt_text_reaches_the_file(make_harness: Any) -> None:
    harness = make_harness()
    scripted(harness).queue(text_reply("a reply quoting " + PROMPT))
    await harness.http.post("/v1/messages", json=body(text=PROMPT, system=PROMPT, metadata={"user_id": "u-1"}))
    await harness.http.post("/v1/messages/count_tokens", json=body(text=PROMPT))
    ledger = harness.runtime.ledger
    assert ledger is not None and len(ledger.recent()) == 2
    ledger.close()
    files = [p for p in ledger.path.parent.iterdir() if p.name.startswith(ledger.path.name)]
    assert files
    for path in files:
        assert PROMPT.encode() not in path.read_bytes()
        assert b"zebra-quartz" not in path.read_bytes()


async def test_a_disabled_ledger_writes_nothing(make_harness: Any, _state_dir: Path) -> None:
    harness = make_harness(CONFIG + "ledger: {enabled: false}\n")
    assert harness.runtime.ledger is None
    assert (await harness.http.post("/v1/messages", json=body(stream=True))).status_code == 200
    assert (await harness.http.post("/v1/messages", json=body())).status_code == 200
    await harness.aclose()
    assert not list(_state_dir.glob("usage.sqlite3*"))


async def test_the_configured_path_is_used(make_harness: Any, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "mine.sqlite3"
    harness = make_harness(CONFIG + f"ledger: {{path: {target}, retention_days: 7}}\n")
    assert harness.runtime.ledger is not None and harness.runtime.ledger.path == target
    await harness.http.post("/v1/messages", json=body())
    await harness.aclose()
    assert stored_count(target) == 1


# -- recording: batched, off the loop --------------------------------------------------------------


async def test_recording_writes_nothing_on_the_loop_and_the_batch_lands_soon(
    make_ledger: Any, ledger_path: Path
) -> None:
    ledger = make_ledger()
    for _ in range(3):
        ledger.record(row())
    assert stored_count(ledger_path) == 0  # nothing written while the request was being finished
    assert await eventually(lambda: stored_count(ledger_path) == 3)


async def test_a_full_batch_is_written_without_waiting_for_the_interval(
    make_ledger: Any, ledger_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "FLUSH_INTERVAL", 600.0)
    ledger = make_ledger()
    ledger.record(row())
    await asyncio.sleep(0.3)
    assert stored_count(ledger_path) == 0  # one row waits for the (long) interval
    for _ in range(FLUSH_ROWS - 1):
        ledger.record(row())
    assert await eventually(lambda: stored_count(ledger_path) == FLUSH_ROWS)


def test_close_writes_what_is_buffered_and_later_records_are_dropped(make_ledger: Any, ledger_path: Path) -> None:
    ledger = make_ledger()
    ledger.record(row())
    ledger.record(row(status=429, error_type="rate_limit_error"))
    ledger.close()
    assert stored_count(ledger_path) == 2
    ledger.record(row())
    assert stored_count(ledger_path) == 2


# -- reading ---------------------------------------------------------------------------------------


def test_totals_group_by_provider_model_account_day_and_rule(make_ledger: Any) -> None:
    ledger = make_ledger()
    start = 1_800_000_000.0  # 2027-01-15 08:00 UTC
    ledger.record(row(at=start, cost=0.5))
    ledger.record(row(at=start + 60, provider="openrouter", account="work", upstream_model="openai/gpt-5",
                      rule="tier=sonnet", input_tokens=1, output_tokens=2, cached_tokens=3, cost=0.25))
    ledger.record(row(at=start + DAY, status=499, input_tokens=0, output_tokens=0, cached_tokens=0))
    ledger.record(row(at=start - 10 * DAY, input_tokens=10_000))  # before `since`

    (total,) = ledger.totals(start)
    assert total == {"key": None, "requests": 3, "input_tokens": 101, "output_tokens": 22, "cached_tokens": 8,
                     "cost": 0.75, "errors": 1}
    by_provider = {group["key"]: group for group in ledger.totals(start, "provider")}
    assert by_provider["codex"]["requests"] == 2 and by_provider["codex"]["cost"] == 0.5
    assert by_provider["openrouter"]["input_tokens"] == 1
    assert [g["key"] for g in ledger.totals(start, "model")] == ["codex/gpt-5.5", "openrouter/openai/gpt-5"]
    assert [g["key"] for g in ledger.totals(start, "account")] == ["codex/default", "openrouter/work"]
    assert [(g["key"], g["requests"]) for g in ledger.totals(start, "day")] == [("2027-01-15", 2), ("2027-01-16", 1)]
    assert {g["key"]: g["requests"] for g in ledger.totals(start, "rule")} == {"tier=opus": 2, "tier=sonnet": 1}
    with pytest.raises(ValueError):
        ledger.totals(start, "colour")


def test_totals_of_nothing_are_zero_with_no_cost(make_ledger: Any) -> None:
    assert make_ledger().totals(0) == [{"key": None, "requests": 0, "input_tokens": 0, "output_tokens": 0,
                                        "cached_tokens": 0, "cost": None, "errors": 0}]


def test_token_counts_count_as_requests_but_not_as_tokens_spent(make_ledger: Any) -> None:
    ledger = make_ledger()
    ledger.record(row())
    ledger.record(row(path="/v1/messages/count_tokens", stream=False, input_tokens=37_000, output_tokens=0,
                      cached_tokens=0))
    (total,) = ledger.totals(0)
    assert (total["requests"], total["input_tokens"], total["output_tokens"]) == (2, 100, 20)
    assert ledger.session_totals("s-1")["input_tokens"] == 100


def test_session_totals_and_where_the_session_went_last(make_ledger: Any) -> None:
    ledger = make_ledger()
    ledger.record(row(session="a", at=1.0e9, cost=0.1))
    ledger.record(row(session="a", at=1.0e9 + 5, provider="kiro", account="work", upstream_model="claude-sonnet-4.5",
                      rule="default"))
    ledger.record(row(session="b", input_tokens=999))
    totals = ledger.session_totals("a")
    assert totals == {"requests": 2, "input_tokens": 200, "output_tokens": 40, "cached_tokens": 10, "cost": 0.1,
                      "errors": 0, "provider": "kiro", "account": "work", "upstream_model": "claude-sonnet-4.5",
                      "rule": "default"}
    assert ledger.session_totals("nobody")["requests"] == 0
    assert ledger.session_totals("nobody")["provider"] is None


def test_recent_is_newest_first_and_as_json_has_every_column(make_ledger: Any) -> None:
    ledger = make_ledger()
    for n in range(5):
        ledger.record(row(at=1.0e9 + n, output_tokens=n))
    recent = ledger.recent(3)
    assert [r.output_tokens for r in recent] == [4, 3, 2]
    assert set(recent[0].as_json()) == set(ledger_module.COLUMNS) | {"id"}
    assert recent[0].as_json()["stream"] is True


async def test_subscribe_tails_every_row_until_close(make_ledger: Any) -> None:
    ledger = make_ledger()
    tail = ledger.subscribe()
    ledger.record(row(output_tokens=1))
    ledger.record(row(output_tokens=2))
    seen = [await asyncio.wait_for(anext(tail), 1), await asyncio.wait_for(anext(tail), 1)]
    assert [r.output_tokens for r in seen] == [1, 2]
    ledger.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(tail), 1)


# -- retention and the file ------------------------------------------------------------------------


def test_old_rows_are_pruned_at_start(make_ledger: Any, ledger_path: Path) -> None:
    clock = Clock()
    first = make_ledger(clock, retention_days=30)
    first.record(row(at=clock.now - 31 * DAY))
    first.record(row(at=clock.now - 29 * DAY))
    first.close()
    assert stored_count(ledger_path) == 2
    again = make_ledger(clock, retention_days=30)
    assert [r.at for r in again.recent()] == [clock.now - 29 * DAY]


async def test_old_rows_are_pruned_once_a_day_while_running(make_ledger: Any, ledger_path: Path) -> None:
    clock = Clock()
    ledger = make_ledger(clock, retention_days=1)
    ledger.record(row(at=clock.now))
    assert await eventually(lambda: stored_count(ledger_path) == 1)
    clock.now += 0.5 * DAY
    ledger.record(row(at=clock.now))
    assert await eventually(lambda: stored_count(ledger_path) == 2)  # not a day since the last pruning
    clock.now += 0.6 * DAY  # the first row is now older than a day, and a day has passed
    ledger.record(row(at=clock.now))
    kept = [clock.now - 0.6 * DAY, clock.now]
    assert await eventually(lambda: stored_times(ledger_path) == kept)


def test_the_file_is_private(make_ledger: Any, ledger_path: Path) -> None:
    make_ledger().record(row())
    assert stat.S_IMODE(ledger_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(ledger_path.parent.stat().st_mode) == 0o700


def test_a_broken_file_is_moved_aside_and_a_fresh_one_started(make_ledger: Any, ledger_path: Path) -> None:
    ledger_path.parent.mkdir(parents=True)
    ledger_path.write_bytes(b"this is not a database, just " + b"x" * 5000)
    ledger = make_ledger()
    (aside,) = ledger_path.parent.glob("usage.sqlite3.corrupt-*")
    assert aside.read_bytes().startswith(b"this is not a database")
    ledger.record(row())
    assert len(ledger.recent()) == 1
    assert stat.S_IMODE(ledger_path.stat().st_mode) == 0o600


def test_a_file_of_another_layout_is_kept_aside_not_dropped(make_ledger: Any, ledger_path: Path) -> None:
    ledger_path.parent.mkdir(parents=True)
    with sqlite3.connect(ledger_path) as conn:
        conn.execute("CREATE TABLE requests (future TEXT)")
        conn.execute("INSERT INTO requests VALUES ('kept')")
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    ledger = make_ledger()
    assert ledger.recent() == []
    (aside,) = [p for p in ledger_path.parent.glob("usage.sqlite3.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]
    with sqlite3.connect(aside) as conn:
        assert conn.execute("SELECT future FROM requests").fetchall() == [("kept",)]
    conn.close()


def test_a_failing_write_is_logged_and_skipped(make_ledger: Any, ledger_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    ledger = make_ledger()
    ledger.record(row())
    assert len(ledger.recent()) == 1
    with sqlite3.connect(ledger_path) as other:  # another program replaced the table: inserts now fail
        other.execute("DROP TABLE requests")
        other.execute("CREATE TABLE requests (something TEXT)")
    other.close()
    ledger.record(row())
    assert ledger.recent() == []  # nothing raised: the write and the read were logged and skipped
    assert "could not record 1 request(s)" in caplog.text


def test_rows_recorded_on_a_later_loop_are_still_written_soon(make_ledger: Any, ledger_path: Path) -> None:
    ledger = make_ledger()

    async def first() -> None:
        ledger.record(row())  # its timer belongs to this loop, which ends before it fires

    async def second() -> bool:
        ledger.record(row())
        return await eventually(lambda: stored_count(ledger_path) == 2)

    asyncio.run(first())
    assert asyncio.run(second())
