"""router.toolkit.clock: spans and moments as `router status` says them, ISO-8601 as login files keep them."""

from __future__ import annotations

import pytest

from router.toolkit.clock import iso_utc, parse_iso_time, relative_time, token_expiry, utc_time

NOW = 1_800_000_000.0  # 2027-01-15 08:00 UTC


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (30, "in less than a minute"),
        (-30, "less than a minute ago"),
        (59 * 60 + 5, "in 59 min"),
        (4 * 3600 + 12 * 60, "in 4 h 12 min"),
        (-3 * 60, "3 min ago"),
        (2 * 86400 + 5 * 3600 + 7 * 60, "in 2 d 5 h"),
        (3600, "in 1 h"),
    ],
)
def test_relative_time(seconds: float, said: str) -> None:
    assert relative_time(seconds) == said


def test_token_expiry_before_and_after() -> None:
    assert token_expiry(NOW + 3540, NOW) == "access token expires in 59 min (2027-01-15 08:59 UTC)"
    assert token_expiry(NOW - 120, NOW) == (
        "access token expired 2 min ago (2027-01-15 07:58 UTC), refreshed on next use"
    )
    assert utc_time(NOW) == "2027-01-15 08:00 UTC"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-01-15T08:00:00Z", NOW),
        ("2027-01-15T08:00:00.500Z", NOW + 0.5),
        ("2027-01-15T09:00:00+01:00", NOW),
        ("2027-01-15T08:00:00", NOW),
        ("yesterday", None),
        ("", None),
        (1_800_000_000, None),
        (None, None),
    ],
)
def test_parse_iso_time(value: object, expected: float | None) -> None:
    assert parse_iso_time(value) == expected


def test_iso_utc_round_trips() -> None:
    assert iso_utc(NOW + 0.678, timespec="milliseconds") == "2027-01-15T08:00:00.678Z"
    assert iso_utc(NOW) == "2027-01-15T08:00:00Z"
    assert parse_iso_time(iso_utc(NOW + 1.25, timespec="microseconds")) == NOW + 1.25
