"""What `router usage` prints: the ledger's totals as a table or JSON, and its `--since` values.

Pure functions over the dicts `Ledger.totals` returns, so the command itself only opens the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

SINCE_DEFAULT = "7d"
_SPAN = re.compile(r"(\d+(?:\.\d+)?)([dhm])")
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0}
COUNTS = ("requests", "input_tokens", "output_tokens", "cached_tokens", "errors")
HEADINGS = ("requests", "input", "output", "cached", "cost", "errors")


def parse_since(text: str, now: float) -> float:
    """`7d`, `24h`, `30m` (that long before `now`) or a date or time (`2026-12-01`, `2026-12-01T09:30`,
    UTC unless it names an offset) as epoch seconds; ValueError says what is accepted."""
    span = _SPAN.fullmatch(text.strip())
    if span:
        return now - float(span.group(1)) * _UNITS[span.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"expected a span such as 7d, 24h or 30m, or a date such as 2026-12-01, got {text!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def total_of(groups: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The sums over all groups (cost None when no group has one)."""
    costs = [group["cost"] for group in groups if group["cost"] is not None]
    total: dict[str, Any] = {"key": None, **{name: sum(int(group[name]) for group in groups) for name in COUNTS}}
    total["cost"] = sum(costs) if costs else None
    return total


def as_json(groups: Sequence[Mapping[str, Any]]) -> str:
    """`--json`: the groups as a JSON array, one object per group."""
    return json.dumps([dict(group) for group in groups], indent=2)


def table(groups: Sequence[Mapping[str, Any]], by: str | None) -> list[str]:
    """The groups as aligned lines under a heading, then a `total` line (alone without `by`)."""
    rows = [_cells(_label(group["key"]), group) for group in groups] if by is not None else []
    rows.append(_cells("total", total_of(groups)))
    header = (by or "", *HEADINGS)
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = []
    for row in (header, *rows):
        first, *numbers = row
        cells = [first.ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(numbers, widths[1:]))]
        lines.append("  ".join(cells).rstrip())
    return lines


def describe_since(since: float) -> str:
    return datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _label(key: object) -> str:
    return "-" if key is None else str(key)


def _cells(label: str, group: Mapping[str, Any]) -> tuple[str, ...]:
    cost = group["cost"]
    return (
        label,
        f"{group['requests']:,}",
        f"{group['input_tokens']:,}",
        f"{group['output_tokens']:,}",
        f"{group['cached_tokens']:,}",
        "-" if cost is None else f"{cost:.6f}",
        f"{group['errors']:,}",
    )
