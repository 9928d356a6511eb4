"""Moments as people and login files write them: how long until a token expires, and when.

`router status` and the start-up banner say of every login when its access token expires;
each provider words the login itself, and these helpers word the time the same way for all.
Login files keep their moments as ISO-8601 text (`2026-01-02T03:04:05.678Z`), read and
written here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def relative_time(seconds: float) -> str:
    """A span from now: `in 4 h 12 min`, `3 min ago`, `in 2 d 5 h`, `in less than a minute`."""
    span = abs(int(seconds))
    days, rest = divmod(span, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    parts = ([f"{days} d"] if days else []) + ([f"{hours} h"] if hours else [])
    parts += [f"{minutes} min"] if minutes and not days else []
    text = " ".join(parts) or "less than a minute"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def utc_time(moment: float) -> str:
    """Epoch seconds as `2026-01-02 03:04 UTC`."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")


def token_expiry(expires_at: float, now: float) -> str:
    """`access token expires in 59 min (2026-01-02 03:04 UTC)`, or, once past, that it expired
    and will be refreshed on next use."""
    when = f"{relative_time(expires_at - now)} ({utc_time(expires_at)})"
    if expires_at > now:
        return f"access token expires {when}"
    return f"access token expired {when}, refreshed on next use"


def parse_iso_time(value: Any) -> float | None:
    """An ISO-8601 timestamp (`Z` or an offset; none means UTC) as epoch seconds; None when it is not one."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def iso_utc(moment: float, *, timespec: str = "seconds") -> str:
    """Epoch seconds as ISO-8601 in UTC with a `Z`, to `timespec` (as `datetime.isoformat` takes it)."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
