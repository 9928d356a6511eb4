"""YAML -> frozen, validated config; every mistake is a `ConfigError` with a dotted path.

The file is read once at start-up: `yaml.safe_load`, then `${VAR}` references are expanded,
then small constructors build frozen dataclasses. `build_settings` is the generic validator
that also checks each provider's own `Settings` and `RouteOptions` dataclasses, so plugins
get the same error messages as the core without a schema library.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from router.errors import ConfigError
from router.provider import DEFAULT_ACCOUNT, Provider
from router.server.lanes import NO_CONDITIONS, SHAPE_KEYS, Conditions, parse_conditions
from router.server.yamllines import located, with_position
from router.settings import (
    as_mapping,
    build_settings,
    check_field,
    expand_env,
    from_env,
    join_path,
    kind_of,
    plain,
    reject_unknown,
    show_value,
    suggest,
)

EFFORTS: tuple[str, ...] = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
"""Reasoning efforts a route may ask for; also the only `:suffix` values `parse_target` splits off."""

CONFIG_ENV = "SWITCHYARD_CONFIG"
TOP_LEVEL_KEYS = ("server", "providers", "routes", "default", "ledger")
RULE_KEYS = ("when", "use", "effort", "fallback", "options", "accounts", "strategy")
WHEN_KEYS = ("tier", "model")
POOL_KEYS = ("accounts", "strategy")
"""Keys of a provider section the core reads itself (the rest is the provider's `Settings`)."""
STRATEGIES: tuple[str, ...] = ("sticky", "round-robin", "fill-first")
"""How a pool picks an account; `sticky` keeps each client session on one account."""
DEFAULT_STRATEGY = "sticky"
_TIER = re.compile(r"[a-z]+|\*")
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
"""An account label: safe as a directory name and in a log line."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How the HTTP server listens and behaves; the `server:` section."""

    host: str = "127.0.0.1"
    port: int = 8765
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    ping_interval: float = 10.0
    shutdown_grace: float = 10.0
    auth_token: str | None = None
    retries: int = 2
    max_body_bytes: int = 32 * 1024 * 1024
    upstream_transport: Literal["fast", "httpx"] = "fast"
    """The router's own HTTP/1.1 connections to upstreams, or httpx's (`router.transport`)."""
    cooldown_base: float = 30.0
    """Seconds an account rests after its first limit with no reset time; doubled on each repeat."""
    cooldown_max: float = 3600.0
    """The longest cooldown given when the backend named no reset time."""
    long_context_tokens: int = 180_000
    """`when: {long_context: true}` threshold where the fall-through model's context window is unknown."""

    def __post_init__(self) -> None:
        check_field(bool(self.host), "host", "must not be empty")
        check_field(1 <= self.port <= 65535, "port", "must be between 1 and 65535")
        check_field(self.ping_interval > 0, "ping_interval", "must be greater than 0")
        check_field(self.shutdown_grace >= 0, "shutdown_grace", "must be 0 or more")
        check_field(self.retries >= 0, "retries", "must be 0 or more")
        check_field(self.max_body_bytes > 0, "max_body_bytes", "must be greater than 0")
        check_field(self.upstream_transport in ("fast", "httpx"), "upstream_transport", "must be 'fast' or 'httpx'")
        check_field(self.cooldown_base > 0, "cooldown_base", "must be greater than 0")
        check_field(self.cooldown_max >= self.cooldown_base, "cooldown_max", "must be at least cooldown_base")
        check_field(self.long_context_tokens > 0, "long_context_tokens", "must be greater than 0")
        if self.auth_token == "":  # `${TOKEN:-}` with TOKEN unset means "no auth", not "the empty token"
            object.__setattr__(self, "auth_token", None)


@dataclass(frozen=True, slots=True)
class LedgerConfig:
    """The usage ledger (`router usage`, docs/usage.md); the `ledger:` section."""

    enabled: bool = True
    path: Path | None = None
    """The SQLite file; None: `usage.sqlite3` in the state directory. Relative to the config file's folder."""
    retention_days: int = 90
    """Requests older than this many days are deleted (at start, then once a day)."""

    def __post_init__(self) -> None:
        check_field(self.path is None or bool(self.path.name), "path", "must name a file")
        check_field(self.retention_days >= 1, "retention_days", "must be 1 or more")


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server on this machine: a loopback address, or `localhost`.

    Any other name counts as reachable from elsewhere: it may resolve to any interface.
    """
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class RouteRule:
    """One `routes:` entry (or the `default:`), validated; `rules.Rules` turns it into `Route`s."""

    tier: str | None
    model: str | None
    use: str
    effort: str | None
    fallback: tuple[str, ...]
    options: Any
    """The provider's `RouteOptions` instance, or None when the rule has no `options:`."""
    label: str
    conditions: Conditions = NO_CONDITIONS
    """The request-shape part of `when:` (thinking, images, long context, ...)."""
    accounts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Per provider, the accounts this rule may use (all of the pool when a provider is absent)."""
    strategy: str | None = None
    """Overrides the pools' own strategy for this rule's requests."""


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """One account of a provider: its label and the `Settings` built for it."""

    name: str
    settings: Any


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """A provider's accounts as configured; `accounts` None means "the default plus stored logins"."""

    provider: str
    accounts: tuple[AccountSpec, ...] | None
    strategy: str = DEFAULT_STRATEGY


@dataclass(frozen=True, slots=True)
class Config:
    """The whole validated config; `providers` maps each enabled provider to its Settings instance."""

    server: ServerConfig
    providers: Mapping[str, Any]
    routes: tuple[RouteRule, ...]
    default: RouteRule | None
    source: Path | None
    missing_providers: tuple[str, ...] = ()
    pools: Mapping[str, PoolConfig] = field(default_factory=dict)
    """Each enabled provider's accounts and strategy; `providers` holds the settings of each one's first account."""
    ledger: LedgerConfig = field(default_factory=LedgerConfig)


# ---------------------------------------------------------------- finding and loading the file


def config_candidates(env: Mapping[str, str] = os.environ) -> list[Path]:
    """Where `router serve` looks without `--config`: $SWITCHYARD_CONFIG alone, else ./ then XDG."""
    if env.get(CONFIG_ENV):
        return [Path(env[CONFIG_ENV]).expanduser()]
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    xdg = env.get("XDG_CONFIG_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".config"
    return [Path.cwd() / "config.yaml", base / "switchyard" / "config.yaml"]


def find_config(env: Mapping[str, str] = os.environ) -> Path | None:
    """The first candidate that exists; $SWITCHYARD_CONFIG is returned even when missing, so it fails loudly."""
    candidates = config_candidates(env)
    if env.get(CONFIG_ENV):
        return candidates[0]
    return next((path for path in candidates if path.is_file()), None)


def load_config(
    path: Path, provider_classes: Mapping[str, type[Provider[Any]]], env: Mapping[str, str] = os.environ
) -> Config:
    """Read and validate one config file; every error names the file, and the line where it can."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "no such file") from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), "not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(str(path), f"cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(path, text, with_position(exc, text)) from None
    try:
        return parse_config(data, provider_classes, env, source=path)
    except ConfigError as exc:
        raise located(exc, str(path), text) from None


def _yaml_error(path: Path, text: str, exc: yaml.YAMLError) -> ConfigError:
    mark = getattr(exc, "problem_mark", None)
    where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
    problem = getattr(exc, "problem", None) or str(exc)
    lines = text.splitlines()
    line = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
    hint = 'quote ${...} references inside {...} or [...], e.g. {api_key: "${KEY}"}' if "${" in line else None
    context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if hint is None and context and start is not None:
        hint = f"{context}, from line {start.line + 1}"
    return ConfigError(where, f"invalid YAML: {problem}", hint)


def parse_config(
    data: object,
    provider_classes: Mapping[str, type[Provider[Any]]],
    env: Mapping[str, str] = os.environ,
    source: Path | None = None,
) -> Config:
    """Validate already-parsed YAML: expand `${VAR}` references, then check every section."""
    return _Parser(provider_classes).config(expand_env(data, env), source)


DEFAULT_CONFIG = "default.yaml"
"""The packaged config (beside this module) used when no file exists."""


def builtin_default(provider_classes: Mapping[str, type[Provider[Any]]]) -> Config:
    """The config used when no file exists (`default.yaml`), so `router serve` just works.

    Unlike a user's file, a provider it names that is not installed is listed in
    `missing_providers` (and reported by the banner) instead of being an error.
    """
    data = yaml.safe_load(resources.files(__package__).joinpath(DEFAULT_CONFIG).read_text(encoding="utf-8"))
    return _Parser(provider_classes, missing_ok=True).config(data, None)


def parse_target(text: str, path: str) -> tuple[str, str, str | None]:
    """Split `provider/model[:effort]` at the first '/'; `:suffix` is an effort only if it names one."""
    if not isinstance(text, str):
        raise ConfigError(path, f"expected 'provider/model', got {show_value(text)}")
    provider, slash, model = text.partition("/")
    head, colon, tail = model.rpartition(":")
    effort = tail if colon and tail in EFFORTS else None
    model = head if effort else model
    if not slash or not provider or not model or any(char.isspace() for char in text):
        raise ConfigError(path, f"expected 'provider/model' or 'provider/model:effort', got {show_value(text)}")
    return provider, model, effort


# ---------------------------------------------------------------- sections


def _bad_tier(tier: object, path: str) -> ConfigError:
    fixable = isinstance(tier, str) and not from_env(tier) and _TIER.fullmatch(tier.lower())
    hint = f"did you mean '{str(tier).lower()}'?" if fixable else None
    return ConfigError(path, f"expected a lowercase word such as 'opus', or '*', got {show_value(tier)}", hint)


class _Parser:
    """Builds a `Config` from expanded YAML, enabling route providers as it goes."""

    def __init__(self, classes: Mapping[str, type[Provider[Any]]], *, missing_ok: bool = False) -> None:
        self.classes = classes
        self.missing_ok = missing_ok
        self.missing: list[str] = []
        self.providers: dict[str, Any] = {}
        self.pools: dict[str, PoolConfig] = {}

    def config(self, data: object, source: Path | None) -> Config:
        if data is not None and not isinstance(data, Mapping):
            raise ConfigError("", f"the config must be a mapping at the top level, got {kind_of(data)}")
        top = as_mapping(data, "")
        reject_unknown(top, TOP_LEVEL_KEYS, "")
        server = build_settings(ServerConfig, top.get("server"), "server")
        self._providers(top.get("providers"))
        rules = self._list(top.get("routes"), "routes")
        routes = tuple(self._rule(item, f"routes[{i}]", when=True) for i, item in enumerate(rules))
        default = None if top.get("default") is None else self._rule(top["default"], "default", when=False)
        pools = {name: self.pools.get(name) or PoolConfig(name, None) for name in self.providers}
        ledger = self._ledger(top.get("ledger"), source)
        return Config(server, dict(self.providers), routes, default, source, tuple(self.missing), pools, ledger)

    @staticmethod
    def _ledger(data: object, source: Path | None) -> LedgerConfig:
        """The `ledger:` section; a relative `path` is taken from the config file's folder."""
        ledger: LedgerConfig = build_settings(LedgerConfig, data, "ledger")
        if ledger.path is not None and not ledger.path.is_absolute() and source is not None:
            ledger = replace(ledger, path=source.parent / ledger.path)
        return ledger

    def _providers(self, data: object) -> None:
        for name, section in as_mapping(data, "providers").items():
            path = join_path("providers", name)
            cls = self.classes.get(name)
            if cls is None:
                raise ConfigError(path, f"unknown provider '{name}'", self._known_hint(str(name)))
            body = dict(as_mapping(section, path))
            keys = {key: body.pop(key) for key in POOL_KEYS if key in body}
            pool = self._pool(cls, str(name), body, keys, path)
            # with accounts listed, the section holds what they share and need not be complete alone
            first = pool.accounts[0].settings if pool.accounts else build_settings(cls.Settings, body, path)
            self.providers[name], self.pools[name] = first, pool

    def _pool(
        self, cls: type[Provider[Any]], name: str, base: Mapping[str, Any], pool: Mapping[str, Any], path: str
    ) -> PoolConfig:
        """`accounts:` (names, or name -> settings merged over the section) and `strategy:`."""
        strategy = self._strategy(pool.get("strategy"), f"{path}.strategy") or DEFAULT_STRATEGY
        if pool.get("accounts") is None:
            return PoolConfig(name, None, strategy)
        where = f"{path}.accounts"
        value = pool["accounts"]
        if isinstance(value, list):
            entries: Mapping[Any, Any] = {self._account_name(item, f"{where}[{i}]"): None
                                          for i, item in enumerate(value)}
            if len(entries) != len(value):
                raise ConfigError(where, "lists an account twice")
        elif isinstance(value, Mapping):
            entries = value
        else:
            raise ConfigError(where, f"expected a list of names or a mapping of name to settings, got {show_value(value)}")
        if not entries:
            raise ConfigError(where, "must name at least one account", f"e.g. accounts: [{DEFAULT_ACCOUNT}, work]")
        accounts = []
        for label, overrides in entries.items():
            account = self._account_name(label, where)
            at = join_path(where, account)
            extra = as_mapping(overrides, at)
            if account == DEFAULT_ACCOUNT and extra:
                raise ConfigError(at, "takes no settings", f"the '{DEFAULT_ACCOUNT}' account is the section itself")
            nested = next((key for key in extra if key in POOL_KEYS), None)
            if nested is not None:
                raise ConfigError(join_path(at, nested), "not allowed inside an account", f"set it on {path}")
            accounts.append(AccountSpec(account, build_settings(cls.Settings, {**base, **extra}, at)))
        return PoolConfig(name, tuple(accounts), strategy)

    @staticmethod
    def _account_name(value: object, path: str) -> str:
        if isinstance(value, str) and ACCOUNT_NAME.fullmatch(value):
            return value
        problem = f"expected an account name (letters, digits, '.', '_', '-'), got {show_value(value)}"
        raise ConfigError(path, problem)

    def _strategy(self, value: object, path: str) -> str | None:
        if value is None:
            return None
        if isinstance(value, str) and value in STRATEGIES:
            return value
        hint = None if from_env(value) else suggest(str(value).lower(), STRATEGIES)
        raise ConfigError(path, f"unknown strategy {show_value(value)}", hint)

    def _rule(self, data: object, path: str, *, when: bool) -> RouteRule:
        if not isinstance(data, Mapping):
            raise ConfigError(path, f"expected a mapping with `use`, got {show_value(data)}")
        if not when and "when" in data:
            raise ConfigError(
                f"{path}.when", "not allowed here", "the default applies to Claude models no rule matches"
            )
        reject_unknown(data, RULE_KEYS if when else RULE_KEYS[1:], path)
        tier, glob, conditions = self._when(data.get("when"), f"{path}.when") if when else (None, None, NO_CONDITIONS)
        if "use" not in data:
            raise ConfigError(f"{path}.use", "required", "e.g. use: codex/gpt-5.5")
        provider, model, suffix = self._target(data["use"], f"{path}.use")
        effort = self._effort(data.get("effort"), suffix, f"{path}.effort")
        fallback = self._fallbacks(data.get("fallback"), f"{path}.fallback")
        options = self._options(provider, data.get("options"), f"{path}.options")
        targets = (provider, *(text.partition("/")[0] for text in fallback))
        accounts = self._rule_accounts(data.get("accounts"), provider, targets, f"{path}.accounts")
        strategy = self._strategy(data.get("strategy"), f"{path}.strategy")
        parts = [f"{key}={value}" for key, value in (("tier", tier), ("model", glob)) if value]
        if not conditions.empty:
            parts.append(conditions.describe())
        return RouteRule(
            tier, glob, f"{provider}/{model}", effort, fallback, options, " ".join(parts) or "default",
            conditions, accounts, strategy,
        )

    def _rule_accounts(
        self, value: object, primary: str, targets: tuple[str, ...], path: str
    ) -> dict[str, tuple[str, ...]]:
        """A list limits the primary's provider; a mapping names accounts per provider of the rule."""
        if value is None:
            return {}
        if isinstance(value, list):
            value = {primary: value}
        section = as_mapping(value, path)
        chosen: dict[str, tuple[str, ...]] = {}
        for name, names in section.items():
            at = join_path(path, name)
            if name not in targets:
                raise ConfigError(at, "not a provider of this rule", "providers here: " + ", ".join(dict.fromkeys(targets)))
            items = names if isinstance(names, list) else [names]
            chosen[str(name)] = tuple(self._account_name(item, at) for item in items)
            if not chosen[str(name)]:
                raise ConfigError(at, "must name at least one account")
        return chosen

    def _when(self, data: object, path: str) -> tuple[str | None, str | None, Conditions]:
        if data is None:
            raise ConfigError(path, "required", 'e.g. when: {tier: opus} or when: {model: "gpt-*"}')
        section = as_mapping(data, path)
        reject_unknown(section, (*WHEN_KEYS, *sorted(SHAPE_KEYS)), path)
        if not section:
            raise ConfigError(path, "needs `tier`, `model` or a request-shape condition such as `thinking: true`")
        conditions = parse_conditions(section, path)
        tier, glob = section.get("tier"), section.get("model")
        if tier is not None and not (isinstance(tier, str) and _TIER.fullmatch(tier)):
            raise _bad_tier(tier, f"{path}.tier")
        if glob is not None and not (isinstance(glob, str) and glob):
            problem = f"expected a model name or glob such as 'gpt-*', got {show_value(glob)}"
            raise ConfigError(f"{path}.model", problem)
        return (str(tier) if tier else None), (str(glob) if glob else None), conditions

    def _target(self, text: object, path: str) -> tuple[str, str, str | None]:
        if not isinstance(text, str):
            raise ConfigError(path, f"expected 'provider/model', got {show_value(text)}")
        provider, model, effort = parse_target(text, path)
        if "{" in model.replace("{model}", "") or "}" in model.replace("{model}", ""):
            raise ConfigError(
                path, "unknown placeholder", "only {model} is replaced, by the requested model name"
            )
        self._enable(provider, path, hidden=from_env(text))
        return provider, model, effort

    def _enable(self, name: str, path: str, *, hidden: bool) -> None:
        """Make sure a provider named by a route is enabled, implicitly with defaults if installed."""
        if name in self.providers:
            return
        cls = self.classes.get(name)
        if cls is None and self.missing_ok:
            if name not in self.missing:
                self.missing.append(name)
            return
        if cls is None:
            shown = "from the environment (not shown)" if hidden else f"'{name}'"
            raise ConfigError(path, f"unknown provider {shown}", self._known_hint(name))
        try:
            self.providers[name] = build_settings(cls.Settings, {}, f"providers.{name}")
        except ConfigError as exc:
            problem = f"provider '{name}' needs a `providers.{name}` section"
            raise ConfigError(path, problem, f"{exc.path}: {exc.problem}") from None

    def _effort(self, value: object, suffix: str | None, path: str) -> str | None:
        if value is None:
            return suffix
        if not (isinstance(value, str) and value in EFFORTS):
            hint = None if from_env(value) else suggest(str(value).lower(), EFFORTS)
            raise ConfigError(path, f"unknown effort {show_value(value)}", hint)
        if suffix and suffix != value:
            raise ConfigError(path, f"conflicts with ':{suffix}' in `use`")
        return str(value)

    def _fallbacks(self, value: object, path: str) -> tuple[str, ...]:
        if value is None:
            return ()
        items = [(value, path)] if isinstance(value, str) else None
        if items is None:
            items = [(item, f"{path}[{i}]") for i, item in enumerate(self._list(value, path))]
        targets = []
        for text, where in items:
            provider, model, effort = self._target(text, where)
            targets.append(f"{provider}/{model}:{effort}" if effort else f"{provider}/{model}")
        return tuple(targets)

    def _options(self, provider: str, value: object, path: str) -> Any:
        options = as_mapping(value, path)
        if not options:
            return None
        spec = self.classes[provider].RouteOptions
        if spec is None:
            raise ConfigError(path, f"provider '{provider}' takes no route options")
        return build_settings(spec, options, path)

    def _list(self, value: object, path: str) -> list[Any]:
        if value is None:
            return []
        if isinstance(value, list):
            return value
        raise ConfigError(path, f"expected a list, got {show_value(value)}")

    def _known_hint(self, name: str) -> str:
        known = sorted(self.classes)
        if not known:
            return "no provider plugins are installed"
        close = difflib.get_close_matches(name, known, n=1)
        listing = "installed providers: " + ", ".join(known)
        return f"did you mean '{close[0]}'? {listing}" if close else listing
