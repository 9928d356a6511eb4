"""Where one request goes: a provider, its upstream model, and how hard it should think."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Route:
    """One concrete destination: `provider/model`, an optional reasoning effort, per-route options.

    `options` is the provider's own `RouteOptions` instance, validated from the rule's `options:`
    at start-up, or None where the rule gave none (fallbacks and `provider/model` names never do).
    """

    provider: str
    model: str
    effort: str | None = None
    options: Any = None

    @property
    def target(self) -> str:
        """`provider/model[:effort]`, as written in config and in logs."""
        text = f"{self.provider}/{self.model}"
        return f"{text}:{self.effort}" if self.effort else text


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome of routing one model name: the tier found, the rule that matched, the routes to try."""

    requested: str
    tier: str | None
    rule: str
    routes: tuple[Route, ...]
    accounts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per provider, the accounts the matched rule allows (a provider not named may use all of its)."""
    strategy: str | None = None
    """The rule's account strategy, overriding each pool's own."""

    @property
    def primary(self) -> Route:
        """The route tried first; the rest are fallbacks in order."""
        return self.routes[0]
