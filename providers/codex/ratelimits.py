"""Codex's rate-limit headers -> the account's quota windows (protocol sheet §5).

Every reply from `/responses`, a 200 or a refusal, says how much of the plan's windows is
used: `x-codex-primary-*` (the 5 h window) and `x-codex-secondary-*` (the weekly one), each
with a used percentage, the window's length and when it resets, plus the credits balance.
The router shows these and cools the account down until the reset once a window is full, so
that no request is spent on an account that can only be refused.

Only the default `codex` limit family is read: other families (`x-codex-bengalfox-*`, …)
limit particular models, and a full one must not stop the whole account. A value that is
missing or unreadable is left out; reading headers never raises.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from router.quota import QuotaWindow

_PREFIX = "x-codex-"
_WINDOWS = ("primary", "secondary")
_NAMES = {1440: "daily", 10080: "weekly"}


def quota_windows(headers: Mapping[str, str], now: float) -> list[QuotaWindow]:
    """The quota windows a Codex reply's headers describe (none when it carries no such headers).

    `now` (epoch seconds) dates a `…-reset-after-seconds` header; `…-reset-at` wins when both
    are given. Header names match in any case.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    windows = [window for which in _WINDOWS if (window := _window(lowered, which, now)) is not None]
    credits = _credits(lowered)
    if credits is not None:
        windows.append(credits)
    return windows


def window_name(minutes: int) -> str:
    """A window's length as people say it: `5 h`, `weekly`, `daily`, `90 min`, `2 d`."""
    if minutes in _NAMES:
        return _NAMES[minutes]
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


def _window(headers: Mapping[str, str], which: str, now: float) -> QuotaWindow | None:
    stem = f"{_PREFIX}{which}-"
    used = _number(headers.get(stem + "used-percent"))
    used = used if used is not None and used >= 0 else None
    resets_at = _positive(headers.get(stem + "reset-at"))
    if resets_at is None and (after := _number(headers.get(stem + "reset-after-seconds"))) is not None:
        resets_at = now + after if after >= 0 else None
    if used is None and resets_at is None:
        return None
    length = _positive(headers.get(stem + "window-minutes"))
    minutes = int(length) if length is not None and length >= 1 else None
    name = window_name(minutes) if minutes is not None else which
    return QuotaWindow(name, used_percent=used, resets_at=resets_at, window_minutes=minutes)


def _credits(headers: Mapping[str, str]) -> QuotaWindow | None:
    """Bought credits, as a window that only informs (no percentage: it never cools anything down).

    Left out when the account has none, the common case on a plan without bought credits.
    """
    if _flag(headers.get(_PREFIX + "credits-unlimited")):
        return QuotaWindow("credits", detail="unlimited")
    balance = _number(headers.get(_PREFIX + "credits-balance"))
    if balance is not None and balance > 0:
        return QuotaWindow("credits", detail=f"{balance:g} left")
    if _flag(headers.get(_PREFIX + "credits-has-credits")):
        return QuotaWindow("credits", detail="available")
    return None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _positive(text: str | None) -> float | None:
    value = _number(text)
    return value if value is not None and value > 0 else None


def _flag(text: str | None) -> bool:
    return text is not None and str(text).strip().lower() in ("true", "1", "yes")
