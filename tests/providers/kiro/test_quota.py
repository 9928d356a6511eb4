"""Kiro's limits for reset-aware cooldowns: what each limit limits and until when, the plan's
credits from getUsageLimits as a quota window, and where a named account's login lives."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from providers.kiro.failures import error_from_exception, error_from_http, seconds_until_next_month
from providers.kiro.provider import KiroProvider, KiroSettings
from providers.kiro.usage import describe_usage, usage_windows
from router.errors import AuthError, Overloaded, RateLimited
from router.provider import DEFAULT_ACCOUNT, LoginOptions, ProviderContext
from router.quota import QuotaWindow
from tests.providers.conftest import Opened
from tests.providers.kiro.contract import KiroHarness

MODEL = "claude-sonnet-4.5"


def moment(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> float:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


MID_DECEMBER = moment(2026, 12, 15, 12, 0, 0)


def kiro_error(message: str, reason: str | None = None) -> bytes:
    return orjson.dumps({"message": message, "reason": reason})


# -- the month's end -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "start"),
    [
        (MID_DECEMBER, moment(2027, 1, 1)),  # December rolls over into the next year
        (moment(2026, 12, 31, 23, 59, 59), moment(2027, 1, 1)),
        (moment(2027, 1, 1), moment(2027, 2, 1)),  # at the very start, the next month is a month away
        (moment(2027, 1, 31, 8), moment(2027, 2, 1)),
        (moment(2028, 2, 29, 1), moment(2028, 3, 1)),
    ],
)
def test_seconds_until_next_month(now: float, start: float) -> None:
    assert seconds_until_next_month(now) == start - now


# -- what a limit limits, and until when -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers", "scope", "wait"),
    [
        (429, kiro_error("busy", "INSUFFICIENT_MODEL_CAPACITY"), {}, "model", None),
        (429, kiro_error("busy", "INSUFFICIENT_MODEL_CAPACITY"), {"Retry-After": "5"}, "model", 5.0),
        (429, kiro_error("Rate exceeded", "DAILY_REQUEST_COUNT"), {"Retry-After": "60"}, "account", 60.0),
        (429, kiro_error("Rate exceeded", "DAILY_REQUEST_COUNT"), {}, "account", None),
        (429, kiro_error("Too many requests"), {"Retry-After": "7"}, "account", 7.0),
        (429, kiro_error("limit", "MONTHLY_REQUEST_COUNT"), {}, "account", moment(2027, 1, 1) - MID_DECEMBER),
        (402, kiro_error("Monthly limit", "MONTHLY_REQUEST_COUNT"), {}, "account", moment(2027, 1, 1) - MID_DECEMBER),
        (402, kiro_error("Quota reached"), {}, "account", moment(2027, 1, 1) - MID_DECEMBER),
        (402, kiro_error("over", "OVERAGE_REQUEST_LIMIT_EXCEEDED"), {}, "account", moment(2027, 1, 1) - MID_DECEMBER),
        (402, kiro_error("Monthly limit", "MONTHLY_REQUEST_COUNT"), {"Retry-After": "90"}, "account", 90.0),
        (402, kiro_error("too many", "CONVERSATION_LIMIT_EXCEEDED"), {}, "account", None),
    ],
)
def test_http_limits_say_what_they_limit(
    status: int, body: bytes, headers: dict[str, str], scope: str, wait: float | None
) -> None:
    error = error_from_http(status, body, headers, model=MODEL, now=MID_DECEMBER)
    assert isinstance(error, RateLimited), error.message
    assert error.scope == scope and error.retry_after == wait and error.fallback


def test_a_monthly_limit_says_when_it_starts_afresh() -> None:
    error = error_from_http(402, kiro_error("Quota reached"), {}, now=MID_DECEMBER)
    assert "monthly credits" in error.message and "next month (UTC), in 16 d 12 h" in error.message


def test_stream_limits_say_what_they_limit() -> None:
    capacity = error_from_exception("ThrottlingException", {"message": "busy", "reason": "INSUFFICIENT_MODEL_CAPACITY"},
                                    model=MODEL)
    assert isinstance(capacity, RateLimited) and capacity.scope == "model" and MODEL in capacity.message
    monthly = error_from_exception("ServiceQuotaExceededException", {"message": "Quota reached"}, now=MID_DECEMBER)
    assert isinstance(monthly, RateLimited) and monthly.scope == "account"
    assert monthly.retry_after == moment(2027, 1, 1) - MID_DECEMBER
    unavailable = error_from_exception("InternalServerException", {"message": "later",
                                                                   "reason": "MODEL_TEMPORARILY_UNAVAILABLE"})
    assert isinstance(unavailable, Overloaded)


# -- getUsageLimits -> the plan's quota window ---------------------------------------------------------------

RESET = 1_798_761_600  # 2027-01-01 00:00 UTC


def usage(entry: dict[str, Any], **document: Any) -> dict[str, Any]:
    credit = {"resourceType": "CREDIT", "displayName": "Credit", "displayNamePlural": "Credits", **entry}
    return {"subscriptionInfo": {"subscriptionTitle": "KIRO FREE"}, "usageBreakdownList": [credit], **document}


def test_usage_becomes_the_monthly_credits_window() -> None:
    document = usage({"currentUsageWithPrecision": 12.5, "usageLimitWithPrecision": 50.0}, nextDateReset=RESET)
    assert usage_windows(document) == [
        QuotaWindow("monthly credits", used_percent=25.0, resets_at=float(RESET), detail="12.5 of 50 credits")
    ]


def test_a_spent_allowance_is_a_full_window() -> None:
    document = usage({"currentUsage": 50, "usageLimit": 50, "nextDateReset": RESET})
    (window,) = usage_windows(document)
    assert window.exhausted and window.resets_at == RESET


def test_an_active_free_trial_and_bonuses_add_to_the_allowance() -> None:
    entry = {
        "currentUsageWithPrecision": 50.0,
        "usageLimitWithPrecision": 50.0,
        "freeTrialInfo": {"freeTrialStatus": "ACTIVE", "currentUsageWithPrecision": 100.0,
                          "usageLimitWithPrecision": 500.0},
        "bonuses": [{"status": "ACTIVE", "currentUsage": 0, "usageLimit": 50},
                    {"status": "EXPIRED", "currentUsage": 10, "usageLimit": 100}],
    }
    (window,) = usage_windows(usage(entry))
    assert window.used_percent == 150 / 600 * 100 and not window.exhausted
    assert window.detail == "150 of 600 credits"
    assert describe_usage(usage(entry)) == "KIRO FREE: 150 of 600 credits used"


def test_with_overage_enabled_the_window_fills_only_at_the_cap() -> None:
    spent = {"currentUsageWithPrecision": 1200.0, "usageLimitWithPrecision": 1000.0}
    (capped,) = usage_windows(usage({**spent, "overageCap": 1000.0},
                                    overageConfiguration={"overageStatus": "ENABLED"}))
    assert capped.used_percent == 60.0 and "overage enabled, up to 1000 more" in capped.detail
    (uncapped,) = usage_windows(usage(spent, overageConfiguration={"overageEnabled": True}))
    assert uncapped.used_percent is None and not uncapped.exhausted
    (disabled,) = usage_windows(usage(spent, overageConfiguration={"overageStatus": "DISABLED"}))
    assert disabled.exhausted


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {},
        {"usageBreakdownList": "none"},
        {"usageBreakdownList": [{"resourceType": "CREDIT", "currentUsage": "lots", "usageLimit": 50}]},
        {"usageBreakdownList": [{"resourceType": "CREDIT", "currentUsage": 1}]},
    ],
)
def test_unreadable_usage_has_no_window(document: Any) -> None:
    assert usage_windows(document) == []
    assert describe_usage(document) is None


def test_a_reset_in_milliseconds_or_iso_text_is_read() -> None:
    figures = {"currentUsage": 1, "usageLimit": 50}
    assert usage_windows(usage(figures, nextDateReset=RESET * 1000))[0].resets_at == RESET
    assert usage_windows(usage(figures, nextDateReset="2027-01-01 00:00:00+00:00"))[0].resets_at == RESET
    assert usage_windows(usage(figures, nextDateReset="soon"))[0].resets_at is None


# -- the provider reports the window when it checks the usage ----------------------------------------------


@pytest.fixture
def make(tmp_path: Path, opened: Opened, monkeypatch: pytest.MonkeyPatch) -> Callable[..., KiroHarness]:
    monkeypatch.delenv("KIRO_AUTH_FILE", raising=False)
    return lambda **options: opened(KiroHarness(tmp_path, **options))


async def test_a_usage_check_reports_the_quota_window(make: Callable[..., KiroHarness]) -> None:
    kiro = make()
    kiro.usage.mock(return_value=httpx.Response(200, json=usage(
        {"currentUsageWithPrecision": 50.0, "usageLimitWithPrecision": 50.0}, nextDateReset=RESET)))
    assert await kiro.provider.usage_report() is not None
    assert kiro.reported == [[QuotaWindow("monthly credits", used_percent=100.0, resets_at=float(RESET),
                                          detail="50 of 50 credits")]]


async def test_a_throttled_request_reports_the_quota_after_its_usage_check(make: Callable[..., KiroHarness]) -> None:
    kiro = make()
    kiro.usage.mock(return_value=httpx.Response(200, json=usage(
        {"currentUsageWithPrecision": 50.0, "usageLimitWithPrecision": 50.0}, nextDateReset=RESET)))
    kiro.serve(kiro.error_response(429, {"message": "Too many requests", "reason": None}))
    _, error = await kiro.failure()
    assert isinstance(error, RateLimited) and error.scope == "account"
    for _ in range(200):  # the usage check runs in the background
        if kiro.reported:
            break
        await asyncio.sleep(0.01)
    assert kiro.reported and kiro.reported[0][0].exhausted


async def test_a_failed_usage_check_reports_nothing(make: Callable[..., KiroHarness]) -> None:
    kiro = make()
    assert await kiro.provider.usage_limits() is None
    assert kiro.reported == []


# -- named accounts ----------------------------------------------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:  # never used to send: these tests stay on disk
        yield client


def provider_for(http: httpx.AsyncClient, account: str, state_dir: Path, **settings: Any) -> KiroProvider:
    context = ProviderContext(http, logging.getLogger("providers.kiro"), state_dir, account=account)
    return KiroProvider(KiroSettings(**settings), context)


def test_a_named_account_reads_its_token_file_from_its_state_folder(
    http: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIRO_AUTH_FILE", str(tmp_path / "ide" / "kiro-auth-token.json"))
    state = tmp_path / "state" / "kiro" / "accounts" / "work"
    assert provider_for(http, "work", state).tokens.store.where == str(state / "kiro-auth-token.json")
    default = provider_for(http, DEFAULT_ACCOUNT, tmp_path / "state" / "kiro")
    assert default.tokens.store.where == str(tmp_path / "ide" / "kiro-auth-token.json")
    given = tmp_path / "elsewhere.json"
    assert provider_for(http, "work", state, token_file=given).tokens.store.where == str(given)


async def test_login_for_a_named_account_says_where_its_token_file_goes(
    http: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KIRO_AUTH_FILE", raising=False)
    state = tmp_path / "state" / "kiro" / "accounts" / "work"
    provider = provider_for(http, "work", state)
    with pytest.raises(AuthError, match="account 'work'") as caught:
        await provider.login(LoginOptions(), lambda line: None)
    assert str(state / "kiro-auth-token.json") in str(caught.value)
    said: list[str] = []
    await provider.logout(said.append)
    assert said and "forget the account's Kiro login" in said[0]
