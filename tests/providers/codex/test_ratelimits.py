"""Codex's rate-limit headers read into quota windows (pure: headers and a clock in, windows out)."""

from __future__ import annotations

import httpx
import pytest

from providers.codex.ratelimits import quota_windows, window_name
from router.quota import QuotaWindow

NOW = 1_790_000_000.0

PLUS_REPLY = {
    "x-codex-primary-used-percent": "42.5",
    "x-codex-primary-window-minutes": "300",
    "x-codex-primary-reset-at": "1790003600",
    "x-codex-secondary-used-percent": "100",
    "x-codex-secondary-window-minutes": "10080",
    "x-codex-secondary-reset-at": "1790500000",
    "x-codex-credits-has-credits": "False",
    "x-codex-credits-unlimited": "False",
    "x-codex-credits-balance": "0",
}


def test_the_primary_and_secondary_windows() -> None:
    assert quota_windows(PLUS_REPLY, NOW) == [
        QuotaWindow("5 h", used_percent=42.5, resets_at=1_790_003_600.0, window_minutes=300),
        QuotaWindow("weekly", used_percent=100.0, resets_at=1_790_500_000.0, window_minutes=10080),
    ]
    assert quota_windows(PLUS_REPLY, NOW)[1].exhausted


def test_header_names_match_in_any_case() -> None:
    headers = httpx.Headers({"X-Codex-Primary-Used-Percent": "7", "X-Codex-Primary-Window-Minutes": "300"})
    assert quota_windows(headers, NOW) == [QuotaWindow("5 h", used_percent=7.0, window_minutes=300)]
    mixed = {"X-CODEX-SECONDARY-USED-PERCENT": "3"}
    assert quota_windows(mixed, NOW) == [QuotaWindow("secondary", used_percent=3.0)]


def test_reset_after_seconds_counts_from_now_and_reset_at_wins() -> None:
    after = {"x-codex-primary-used-percent": "10", "x-codex-primary-reset-after-seconds": "600"}
    assert quota_windows(after, NOW)[0].resets_at == NOW + 600
    both = {**after, "x-codex-primary-reset-at": str(int(NOW) + 60)}
    assert quota_windows(both, NOW)[0].resets_at == NOW + 60


def test_a_reply_without_quota_headers_has_no_windows() -> None:
    assert quota_windows({}, NOW) == []
    assert quota_windows({"content-type": "text/event-stream", "x-codex-limit-name": "codex"}, NOW) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"x-codex-primary-used-percent": "lots"},
        {"x-codex-primary-used-percent": "nan"},
        {"x-codex-primary-used-percent": "-5"},
        {"x-codex-primary-used-percent": ""},
        {"x-codex-primary-reset-at": "soon"},
        {"x-codex-primary-reset-at": "-1"},
        {"x-codex-primary-reset-after-seconds": "inf"},
        {"x-codex-primary-window-minutes": "300"},  # a length alone says nothing about the quota
    ],
)
def test_unreadable_values_are_left_out_never_raised(headers: dict[str, str]) -> None:
    assert quota_windows(headers, NOW) == []


def test_an_unreadable_value_spoils_only_itself() -> None:
    headers = {
        "x-codex-primary-used-percent": "55",
        "x-codex-primary-window-minutes": "five hours",
        "x-codex-primary-reset-at": "tomorrow",
        "x-codex-primary-reset-after-seconds": "120",
    }
    assert quota_windows(headers, NOW) == [QuotaWindow("primary", used_percent=55.0, resets_at=NOW + 120)]


def test_other_limit_families_are_not_the_accounts() -> None:
    headers = {"x-codex-bengalfox-primary-used-percent": "100", "x-codex-secondary-primary-used-percent": "100"}
    assert quota_windows(headers, NOW) == []


@pytest.mark.parametrize(
    ("credits", "detail"),
    [
        ({"x-codex-credits-unlimited": "true"}, "unlimited"),
        ({"x-codex-credits-has-credits": "true", "x-codex-credits-balance": "12.50"}, "12.5 left"),
        ({"x-codex-credits-has-credits": "True"}, "available"),
    ],
)
def test_bought_credits_inform_but_never_fill_up(credits: dict[str, str], detail: str) -> None:
    windows = quota_windows(credits, NOW)
    assert windows == [QuotaWindow("credits", detail=detail)]
    assert not windows[0].exhausted


@pytest.mark.parametrize(
    ("minutes", "name"),
    [(300, "5 h"), (10080, "weekly"), (1440, "daily"), (90, "90 min"), (2880, "2 d"), (60, "1 h"), (1, "1 min")],
)
def test_window_names(minutes: int, name: str) -> None:
    assert window_name(minutes) == name
