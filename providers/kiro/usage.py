"""What getUsageLimits says about the plan: one line for `router status`, and the quota window
the router acts on (sheet A7).

The plan's credits are counted as Kiro's own clients count them: the base allowance plus an
active free trial and active bonuses. With overage enabled, a spent allowance does not stop
the account, so the window is only full against the overage cap (and never when the cap is
not given): reporting it full would cool down an account that can still serve.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from router.quota import QuotaWindow
from router.toolkit.clock import parse_iso_time


@dataclass(frozen=True, slots=True)
class UsageLimits:
    """What getUsageLimits says about the plan, reduced to one line for `router status`."""

    summary: str
    fetched_at: float


@dataclass(frozen=True, slots=True)
class _Credits:
    """The plan's credit figures, totalled over allowance, free trial and bonuses."""

    used: float
    limit: float
    unit: str
    resets_at: float | None
    overage: bool
    overage_cap: float | None


def describe_usage(document: Any) -> str | None:
    """`KIRO FREE: 12.5 of 50 credits used, resets 2026-06-01`, from getUsageLimits' answer (sheet A7)."""
    credits = _credits(document)
    if credits is None:
        return None
    text = f"{credits.used:g} of {credits.limit:g} {credits.unit} used"
    if credits.overage:
        text += ", overage enabled"
    if credits.resets_at is not None:
        text += f", resets {datetime.fromtimestamp(credits.resets_at, UTC):%Y-%m-%d}"
    subscription = document.get("subscriptionInfo")
    title = subscription.get("subscriptionTitle") if isinstance(subscription, Mapping) else None
    return f"{title}: {text}" if isinstance(title, str) and title else text


def usage_windows(document: Any) -> list[QuotaWindow]:
    """The plan's monthly credits as a quota window (`monthly credits`, used %, next reset);
    none when the answer has no readable figures."""
    credits = _credits(document)
    if credits is None:
        return []
    detail = f"{credits.used:g} of {credits.limit:g} {credits.unit}"
    ceiling: float | None = credits.limit
    if credits.overage:
        ceiling = credits.limit + credits.overage_cap if credits.overage_cap is not None else None
        cap = f", up to {credits.overage_cap:g} more" if credits.overage_cap is not None else ""
        detail += f", overage enabled{cap}"
    used = credits.used / ceiling * 100 if ceiling else None
    return [QuotaWindow(f"monthly {credits.unit}", used_percent=used, resets_at=credits.resets_at, detail=detail)]


def _credits(document: Any) -> _Credits | None:
    if not isinstance(document, Mapping):
        return None
    entries = [e for e in _list(document.get("usageBreakdownList")) if isinstance(e, Mapping)]
    entry = next((e for e in entries if e.get("resourceType") == "CREDIT"), entries[0] if entries else None)
    if entry is None:
        return None
    used, limit = _figures(entry)
    if used is None or limit is None:
        return None
    for extra in _active_extras(entry):
        more_used, more_limit = _figures(extra)
        used += more_used or 0.0
        limit += more_limit or 0.0
    cap = _number(entry.get("overageCapWithPrecision", entry.get("overageCap")))
    return _Credits(
        used=used,
        limit=limit,
        unit=str(entry.get("displayNamePlural") or "credits").lower(),
        resets_at=_moment(entry.get("nextDateReset")) or _moment(document.get("nextDateReset")),
        overage=_overage_enabled(document.get("overageConfiguration")),
        overage_cap=cap if cap is not None and cap > 0 else None,
    )


def _figures(entry: Mapping[str, Any]) -> tuple[float | None, float | None]:
    used = _number(entry.get("currentUsageWithPrecision", entry.get("currentUsage")))
    limit = _number(entry.get("usageLimitWithPrecision", entry.get("usageLimit")))
    return used, limit


def _active_extras(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """An active free trial and active bonuses: credits on top of the plan's allowance."""
    extras: list[Mapping[str, Any]] = []
    trial = entry.get("freeTrialInfo")
    if isinstance(trial, Mapping) and str(trial.get("freeTrialStatus") or "").upper() == "ACTIVE":
        extras.append(trial)
    for bonus in _list(entry.get("bonuses")):
        if isinstance(bonus, Mapping) and str(bonus.get("status") or "").upper() == "ACTIVE":
            extras.append(bonus)
    return extras


def _overage_enabled(configuration: Any) -> bool:
    """`overageStatus: ENABLED`, or `overageEnabled: true` (another shape of the same answer)."""
    if not isinstance(configuration, Mapping):
        return False
    if isinstance(configuration.get("overageEnabled"), bool):
        return bool(configuration["overageEnabled"])
    return str(configuration.get("overageStatus") or "").upper() == "ENABLED"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def _moment(value: Any) -> float | None:
    """`nextDateReset`: epoch seconds (milliseconds when that large), or ISO-8601 text."""
    number = _number(value)
    if number is not None:
        return (number / 1000 if number > 1e11 else number) if number > 0 else None
    return parse_iso_time(value)
