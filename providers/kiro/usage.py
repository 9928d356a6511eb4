"""What getUsageLimits says about the plan, read into one line for `router status` and the log."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class UsageLimits:
    """What getUsageLimits says about the plan, reduced to one line for `router status`."""

    summary: str
    fetched_at: float


def describe_usage(document: Any) -> str | None:
    """`KIRO FREE: 12.5 of 50 credits used, resets 2026-06-01`, from getUsageLimits' answer (sheet A7)."""
    if not isinstance(document, Mapping):
        return None
    entries = [e for e in document.get("usageBreakdownList") or () if isinstance(e, Mapping)]
    entry = next((e for e in entries if e.get("resourceType") == "CREDIT"), entries[0] if entries else None)
    if entry is None:
        return None
    used = entry.get("currentUsageWithPrecision", entry.get("currentUsage"))
    limit = entry.get("usageLimitWithPrecision", entry.get("usageLimit"))
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (used, limit)):
        return None
    unit = str(entry.get("displayNamePlural") or "credits").lower()
    text = f"{used:g} of {limit:g} {unit} used"
    reset = entry.get("nextDateReset", document.get("nextDateReset"))
    if isinstance(reset, (int, float)) and not isinstance(reset, bool) and reset > 0:
        text += f", resets {datetime.fromtimestamp(reset, UTC):%Y-%m-%d}"
    subscription = document.get("subscriptionInfo")
    title = subscription.get("subscriptionTitle") if isinstance(subscription, Mapping) else None
    return f"{title}: {text}" if isinstance(title, str) and title else text
