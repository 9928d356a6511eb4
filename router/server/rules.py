"""Tier detection and rule matching: which provider, model and effort serve a requested model name.

Clients such as Claude Code ask for Claude model names (`claude-opus-4-8`, `claude-3-5-sonnet-…`);
the router only cares about their tier, so new releases keep routing without a config change.
Names that are not Claude models can still be served by a `model:` glob rule, or by naming an
upstream directly as `provider/model[:effort]`.
"""

from __future__ import annotations

import itertools

import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from router.conversation import Request
from router.server.config import Config, RouteRule, parse_target
from router.server.lanes import Shape
from router.errors import ConfigError, NoRoute
from router.route import Resolution, Route

TIERS: tuple[str, ...] = ("opus", "sonnet", "haiku")
"""The Claude tiers clients ask for by alias; any other alphabetic word after `claude-` is a tier too."""

_SUFFIX = re.compile(r"\[[^\]]*\]$")
_PREFIX = re.compile(r"^(?:[a-z]{2,4}\.)?anthropic[./]")
_WORD = re.compile(r"[a-z]+")


def detect_tier(model: str) -> str | None:
    """The Claude tier of `model` (`claude-opus-4-8` -> 'opus'), or None when it is not a Claude name.

    Case is ignored, as are a trailing `[1m]`-style suffix and an `anthropic/` or `anthropic.`
    (Bedrock-style, optionally region-prefixed) prefix. The tier is the first purely alphabetic
    word after `claude-`, so both `claude-3-5-sonnet-20241022` and `claude-sonnet-4-5` are 'sonnet',
    and a tier that does not exist yet (`claude-mythos-5`) is detected as itself.
    """
    name = _PREFIX.sub("", _SUFFIX.sub("", model.strip().lower()))
    if name in TIERS:
        return name
    if not name.startswith("claude-"):
        return None
    words = re.split(r"[^a-z0-9]+", name.removeprefix("claude-"))
    return next((word for word in words if _WORD.fullmatch(word)), None)


@dataclass(frozen=True, slots=True)
class _Target:
    """A parsed `provider/model[:effort]`, possibly with a `{model}` placeholder in the model."""

    provider: str
    model: str
    effort: str | None

    @classmethod
    def parse(cls, text: str, effort: str | None = None) -> _Target:
        provider, model, suffix = parse_target(text, "")
        return cls(provider, model, effort or suffix)

    def route(self, requested: str, options: Any = None) -> Route:
        model = self.model.replace("{model}", requested)
        return Route(self.provider, model, self.effort, options)

    @property
    def text(self) -> str:
        return (
            f"{self.provider}/{self.model}:{self.effort}" if self.effort else f"{self.provider}/{self.model}"
        )


_Entry = tuple[RouteRule, tuple[_Target, ...]]


class Rules:
    """The routing table built from a validated `Config`; `resolve` maps a model name to routes.

    Matching order: the `routes` in file order (first match wins), then `default` for any other
    Claude model, then a direct `provider/model[:effort]` reference to an enabled provider.
    """

    def __init__(self, config: Config, windows: Callable[[str, str], int | None] | None = None) -> None:
        self.config = config
        self.windows = windows or _unknown_window
        """The context window of `provider`, `model` when known (a `long_context` lane's threshold)."""
        self._providers = tuple(dict.fromkeys([*config.providers, *config.missing_providers]))
        self._routes = [(rule, self._parse(rule)) for rule in config.routes]
        self._default = (config.default, self._parse(config.default)) if config.default else None
        self._tiers = tuple(tier for tier in TIERS if self._find(tier) is not None)

    @staticmethod
    def _parse(rule: RouteRule) -> tuple[_Target, ...]:
        return (_Target.parse(rule.use, rule.effort), *(_Target.parse(text) for text in rule.fallback))

    def resolve(self, model: str, request: Request | None = None, body_size: int = 0) -> Resolution:
        """The routes for `model`, primary first; raises `NoRoute` naming what can be asked for.

        Rules with request-shape conditions (lanes) match only when `request` is given and has
        that shape; its `Shape` is computed once, and only if such a rule is reached.
        """
        resolution = self._find(model, request, body_size)
        if resolution is None:
            raise NoRoute(self._no_route_message(model))
        return resolution

    def _find(self, model: str, request: Request | None = None, body_size: int = 0) -> Resolution | None:
        tier = detect_tier(model)
        shape: Shape | None = None
        for index, entry in enumerate(self._routes):
            rule = entry[0]
            if not _matches(rule, model, tier):
                continue
            if not rule.conditions.empty:
                if request is None:
                    continue
                shape = shape or Shape.of(request, body_size)
                threshold = self._long_context(index, model, tier) if rule.conditions.long_context is not None else 0
                if not rule.conditions.matches(shape, threshold):
                    continue
            return _resolution(entry, model, tier)
        if tier is not None and self._default is not None:
            return _resolution(self._default, model, tier)
        target = self._direct(model)
        if target is None:
            return None
        return Resolution(model, tier, "direct", (target.route(model),))

    def _long_context(self, index: int, model: str, tier: str | None) -> int:
        """The `long_context` threshold of rule `index`: the context window of the model that would
        serve were the lane not taken (the next plain rule that matches, else the default), when the
        provider has said it, else `server.long_context_tokens`."""
        later = itertools.islice(self._routes, index + 1, None)
        entry = next((e for e in later if e[0].conditions.empty and _matches(e[0], model, tier)), None)
        if entry is None and tier is not None:
            entry = self._default
        if entry is not None:
            primary = entry[1][0].route(model)
            window = self.windows(primary.provider, primary.model)
            if window:
                return window
        return self.config.server.long_context_tokens

    def _direct(self, model: str) -> _Target | None:
        try:
            target = _Target.parse(model)
        except ConfigError:
            return None
        return target if target.provider in self._providers else None

    def _no_route_message(self, model: str) -> str:
        tier = detect_tier(model)
        text = f"model '{model}'" + (f" (tier {tier})" if tier else "") + " matches no route"
        try:
            provider = parse_target(model, "")[0]
        except ConfigError:
            provider = None
        if provider is not None and tier is None:
            text += f" and '{provider}' is not an enabled provider"
        asks = []
        if self._tiers:
            asks.append(f"a Claude model ({', '.join(self._tiers)})")
        if self._providers:
            asks.append(
                f"name an upstream directly as provider/model (providers: {', '.join(self._providers)})"
            )
        return text + ("; ask for " + " or ".join(asks) if asks else "; the config has no routes")

    def table(self) -> list[tuple[str, str]]:
        """(rule label, `primary -> fallback, ...`) rows for the start-up banner, in match order."""
        rows = []
        for rule, (primary, *fallbacks) in self._entries():
            text = primary.text + (
                " -> " + ", ".join(target.text for target in fallbacks) if fallbacks else ""
            )
            pools = [f"{name} accounts {', '.join(names)}" for name, names in rule.accounts.items()]
            if rule.strategy:
                pools.append(rule.strategy)
            rows.append((rule.label, text + (f"  [{'; '.join(pools)}]" if pools else "")))
        return rows

    def _entries(self) -> list[_Entry]:
        return [*self._routes, *([self._default] if self._default else [])]

    def model_ids(self) -> list[str]:
        """Names for GET /v1/models: routable tier aliases, then each concrete `provider/model` in config."""
        ids = list(self._tiers)
        for _rule, targets in self._entries():
            for target in targets:
                if "{model}" not in target.model:
                    ids.append(f"{target.provider}/{target.model}")
        return list(dict.fromkeys(ids))


def _resolution(entry: _Entry, model: str, tier: str | None) -> Resolution:
    """The routes of one matched rule: the rule's options go to the primary route only."""
    rule, (primary, *fallbacks) = entry
    routes = (primary.route(model, rule.options), *(target.route(model) for target in fallbacks))
    return Resolution(model, tier, rule.label, routes, rule.accounts, rule.strategy)


def _unknown_window(provider: str, model: str) -> int | None:
    return None


def _matches(rule: RouteRule, model: str, tier: str | None) -> bool:
    """Whether `rule` applies: its tier (if any) and its model glob (if any) both match."""
    if rule.tier is not None and (tier is None or rule.tier not in ("*", tier)):
        return False
    return rule.model is None or fnmatchcase(model, rule.model)
