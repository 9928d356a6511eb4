"""Quota figures a backend reports about an account, as the router shows and acts on them.

A provider that learns how much of a plan is used (Codex's rate-limit headers on every reply,
Kiro's usage endpoint) hands the figures to `ProviderContext.report_quota`. The router keeps
the last ones seen per account for `router status`, the banner and `/health`, and puts an
account on cooldown until the reset when a window is used up, so no request is sent to it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QuotaWindow:
    """One limit of an account: how much of it is used and when it starts afresh.

    `name` is how the user knows it ("5 h", "weekly", "monthly credits"); `used_percent` is
    0-100 (None when the backend gives counts only, then `detail` says them); `resets_at` is
    epoch seconds.
    """

    name: str
    used_percent: float | None = None
    resets_at: float | None = None
    window_minutes: int | None = None
    detail: str = ""

    @property
    def exhausted(self) -> bool:
        """Whether the window is used up, so the account can serve nothing until `resets_at`."""
        return self.used_percent is not None and self.used_percent >= 100.0
