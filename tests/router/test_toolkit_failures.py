"""router.toolkit.failures: scrubbing backend messages, Retry-After in every form, the overflow
wording, waits; and the three built-in providers reading Retry-After the same way through it."""

from __future__ import annotations

import email.utils
import time

import pytest

from providers.codex import failures as codex
from providers.kiro import failures as kiro
from providers.openrouter import failures as openrouter
from router.errors import RateLimited
from router.toolkit.failures import MAX_MESSAGE, describe_wait, retry_after, safe_message, too_long_message

NOW = 1_800_000_000.0
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLXZhbHVl"


def http_date(moment: float) -> str:
    return email.utils.formatdate(moment, usegmt=True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain  message\nover\tlines", "plain message over lines"),
        ("header was Authorization: Bearer sk-secret-123", "header was Authorization: Bearer …"),
        ("bearer abc.def", "bearer …"),
        (f"token {JWT} refused", "token … refused"),
        ("item gAAAAABoZ1x2y3z4w5v6u7t8 invalid", "item gAAAA… invalid"),
        ("key sk-or-v1-0123456789abcdef is disabled", "key sk-or-… is disabled"),
        ("access aoaAAAAAGk0123456789abcdefghij expired", "access … expired"),
        ("refresh aorAAAAAGk0123456789abcdefghij dead", "refresh … dead"),
        ("model claude-sonnet-4.5 is fine", "model claude-sonnet-4.5 is fine"),
    ],
)
def test_safe_message_keeps_one_line_and_no_secrets(text: str, expected: str) -> None:
    assert safe_message(text) == expected


def test_safe_message_shortens_long_text() -> None:
    text = safe_message("word " * 200)
    assert len(text) == MAX_MESSAGE and text.endswith("…")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"Retry-After": "2.5"}, 2.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"retry-after": http_date(NOW + 120)}, 120.0),
        ({"retry-after": email.utils.formatdate(NOW + 30)}, 30.0),  # "-0000": a UTC date
        ({"retry-after": http_date(NOW - 60)}, 0.0),
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "next tuesday"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_seconds_milliseconds_and_dates(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after(headers, NOW) == expected


def test_too_long_message_is_worded_so_claude_code_compacts() -> None:
    assert too_long_message("Codex", "input exceeds", model="gpt-5.5", context_window=272_000) == (
        "prompt is too long: the conversation exceeds gpt-5.5's context window of 272,000 tokens (Codex: input exceeds)"
    )
    assert too_long_message("Kiro", "Input is too long") == (
        "prompt is too long: the conversation exceeds the model's context window (Kiro: Input is too long)"
    )


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(0, "0 s"), (44.6, "45 s"), (60, "1 min"), (754, "12 min"), (13872, "3 h 51 min"), (187200, "2 d 4 h")],
)
def test_describe_wait(seconds: float, said: str) -> None:
    assert describe_wait(seconds) == said


RATE_LIMITS = {
    "codex": lambda headers: codex.error_from_http(429, b'{"detail": "slow down"}', headers, now=NOW),
    "kiro": lambda headers: kiro.error_from_http(429, b'{"message": "Too many requests"}', headers, now=NOW),
    "openrouter": lambda headers: openrouter.error_from_http(429, b'{"error": {"message": "slow"}}', headers, now=NOW),
}


@pytest.mark.parametrize("provider", sorted(RATE_LIMITS))
@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": http_date(NOW + 90)}, 90.0),
        ({}, None),
    ],
)
def test_every_provider_reads_retry_after_in_every_form(
    provider: str, headers: dict[str, str], expected: float | None
) -> None:
    error = RATE_LIMITS[provider](headers)
    assert isinstance(error, RateLimited) and error.retry_after == expected


def test_a_date_without_zone_is_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        assert retry_after({"retry-after": email.utils.formatdate(NOW + 30)}, NOW) == 30.0
    finally:
        monkeypatch.undo()
        time.tzset()
