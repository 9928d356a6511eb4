"""Everything a running router holds: config, provider instances, rules, dispatcher.

Built once per process (or per test) from a validated config and the registered provider
classes; the web app and the CLI commands share it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from router.transport.support import FAST, upstream_transport
from router.errors import ConfigError
from router.provider import DEFAULT_ACCOUNT, CredentialStatus, ModelInfo, Provider, ProviderContext, QuotaSink
from router.quota import QuotaWindow
from router.server.accounts import Account, Pool, Sessions
from router.server.config import ACCOUNT_NAME, AccountSpec, Config, PoolConfig
from router.server.cooldowns import Cooldown, Cooldowns, SqliteStore, Store, state_file
from router.server.dispatch import Dispatcher
from router.server.ledger import Ledger, ledger_file
from router.server.rules import Rules
from router.server.yamllines import located
from router.toolkit.failures import describe_wait

USER_AGENT = "switchyard-router"
MODEL_LIST_TIMEOUT = 5.0


log = logging.getLogger("router")


def state_dir() -> Path:
    """Where providers may keep state (caches); `$SWITCHYARD_STATE_DIR` overrides."""
    configured = os.environ.get("SWITCHYARD_STATE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "switchyard"


def http_client(transport: str = FAST) -> httpx.AsyncClient:
    """The pooled client a provider gets: keep-alive, no overall read timeout (streams last hours).

    With `transport` "fast" (`server.upstream_transport`) its connections are the router's own
    (`router.transport`: cheap reads for streams paced one event per read), unless a proxy is set
    in the environment or the installed httpcore lacks what they build on; otherwise httpx's own.
    """
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=60.0)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=15.0, read=600.0, write=60.0, pool=30.0),
        limits=limits,
        transport=upstream_transport(transport, limits),
        headers={"user-agent": USER_AGENT},
        follow_redirects=False,
    )


@dataclass
class Lifecycle:
    """Shutdown signalling: open streams get a grace period, then are ended with an error event."""

    grace: float
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    draining: bool = False

    def begin_shutdown(self) -> None:
        """Called once on Ctrl-C: after `grace` seconds, streams still open are told to close."""
        if self.draining:
            return
        self.draining = True
        asyncio.get_running_loop().call_later(self.grace, self.closing.set)


@dataclass(frozen=True, slots=True)
class AccountState:
    """What `router status`, `router accounts`, the banner and `/health` say about one account."""

    provider: str
    account: str
    credentials: CredentialStatus
    cooling: tuple[Cooldown, ...]
    quotas: tuple[QuotaWindow, ...]
    quotas_seen: float | None

    def summary(self, now: float) -> str:
        """`ok`, or `cooling 2 h 5 min (until 14:05 UTC): <why>`; credentials first, since they matter most."""
        if not self.credentials.ok:
            return f"no credentials: {self.credentials.detail}"
        if not self.cooling:
            return "ok"
        parts = []
        for cooldown in self.cooling:
            until = datetime.fromtimestamp(cooldown.until, UTC).strftime("%Y-%m-%d %H:%M UTC")
            what = f"{cooldown.model} " if cooldown.model else ""
            parts.append(f"{what}cooling {describe_wait(max(0.0, cooldown.until - now))} (until {until}): {cooldown.reason}")
        return "; ".join(parts)

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "account": self.account,
            "ok": self.credentials.ok and not any(c.model is None for c in self.cooling),
            "credentials": {"ok": self.credentials.ok, "detail": self.credentials.detail},
            "cooling": [
                {"model": c.model, "until": _iso(c.until), "seconds": max(0, round(c.until - now)), "reason": c.reason}
                for c in self.cooling
            ],
            "quota": [
                {"name": w.name, "used_percent": w.used_percent, "resets_at": _iso(w.resets_at) if w.resets_at else None,
                 "window_minutes": w.window_minutes, "detail": w.detail}
                for w in self.quotas
            ],
            "quota_seen": _iso(self.quotas_seen) if self.quotas_seen else None,
        }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def account_dir(root: Path, provider: str, account: str) -> Path:
    """An account's own state directory: the provider's for the default account, `accounts/<name>` else."""
    return root / provider if account == DEFAULT_ACCOUNT else root / provider / "accounts" / account


def stored_accounts(root: Path, provider: str) -> list[str]:
    """Named accounts `router login --account` stored for `provider`, in name order."""
    folder = root / provider / "accounts"
    try:
        names = sorted(entry.name for entry in folder.iterdir() if entry.is_dir())
    except OSError:
        return []
    return [name for name in names if ACCOUNT_NAME.fullmatch(name) and name != DEFAULT_ACCOUNT]


def account_specs(pool: PoolConfig, settings: Any, root: Path) -> tuple[AccountSpec, ...]:
    """The accounts of one provider: those configured, else the default and every stored login."""
    if pool.accounts is not None:
        return pool.accounts
    names = [DEFAULT_ACCOUNT, *stored_accounts(root, pool.provider)]
    return tuple(AccountSpec(name, settings) for name in names)


class Runtime:
    """The router's live state, shared by the web app and the CLI.

    One provider instance per account; the accounts of a provider share its HTTP client. The
    cooldowns, last quota figures and sticky sessions live in `store` (the state directory's
    SQLite file unless told otherwise), so a restart keeps them; `clock` is injectable for tests.
    """

    def __init__(
        self,
        config: Config,
        classes: Mapping[str, type[Provider[Any]]],
        *,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        root = state_dir()
        self.store = store if store is not None else SqliteStore(state_file(root))
        server = config.server
        self.cooldowns = Cooldowns(self.store, clock=clock, base=server.cooldown_base, cap=server.cooldown_max)
        self.sessions = Sessions(self.store.load_sessions(), on_change=self._session_moved)
        self.windows: dict[tuple[str, str], int] = {}
        self._learning: dict[str, asyncio.Task[None]] = {}
        self._extra: list[Provider[Any]] = []
        self.rules = Rules(config, self._window)
        self.pools: dict[str, Pool] = {}
        self.providers: dict[str, Provider[Any]] = {}
        """Each provider's first account: the one that counts tokens and lists models."""
        for name, settings in config.providers.items():
            pool_config = config.pools.get(name) or PoolConfig(name, None)
            http = http_client(server.upstream_transport)
            logger = logging.getLogger(f"providers.{name}")
            accounts = []
            for spec in account_specs(pool_config, settings, root):
                report = self._quota_sink(name, spec.name)
                context = ProviderContext(http, logger, account_dir(root, name, spec.name), spec.name, report)
                accounts.append(Account(name, spec.name, classes[name](spec.settings, context)))
            self.pools[name] = Pool(name, accounts, pool_config.strategy)
            self.providers[name] = accounts[0].instance
        self._check_rule_accounts()
        missing = {name: _missing_message(name) for name in config.missing_providers}
        self.dispatcher = Dispatcher(
            self.pools, self.cooldowns, sessions=self.sessions, retries=server.retries, missing=missing
        )
        self.lifecycle = Lifecycle(server.shutdown_grace)
        self.ledger = open_ledger(config, root, clock)
        """The usage ledger (one row per request), or None when `ledger.enabled` is false."""

    def _quota_sink(self, provider: str, account: str) -> QuotaSink:
        """The account's `report_quota`: never raises, so a provider need not guard the call."""

        def report(windows: Sequence[QuotaWindow]) -> None:
            try:
                self.cooldowns.report_quota(provider, account, windows)
            except Exception:  # noqa: BLE001 -- quota figures inform routing; they must not fail a reply
                log.exception("recording the quota figures of %s/%s failed", provider, account)

        return report

    def account(self, provider: str, name: str) -> Provider[Any]:
        """The instance serving account `name` of `provider`; built (for `router login --account`)
        when the account is not in the pool yet, with the pool's shared HTTP client."""
        pool = self.pools[provider]
        found = pool.get(name)
        if found is not None:
            return found.instance
        first = pool.first.instance
        context = dataclasses.replace(
            first.context, state_dir=account_dir(state_dir(), provider, name), account=name,
            report_quota=self._quota_sink(provider, name),
        )
        instance = type(first)(self.config.providers[provider], context)
        self._extra.append(instance)
        return instance

    def _check_rule_accounts(self) -> None:
        rules = [(f"routes[{i}]", rule) for i, rule in enumerate(self.config.routes)]
        for where, rule in rules:
            for provider, names in rule.accounts.items():
                pool = self.pools.get(provider)
                unknown = [name for name in names if pool is not None and pool.get(name) is None]
                if pool is not None and unknown:
                    raise self._located(ConfigError(
                        f"{where}.accounts.{provider}", f"no account '{unknown[0]}'",
                        f"accounts of {provider}: {', '.join(pool.names)}",
                    ))

    def _located(self, error: ConfigError) -> ConfigError:
        """`error` with the config file's line, like the parser's own (stored accounts are only
        known here, so this check cannot run while parsing)."""
        source = self.config.source
        if source is None:
            return error
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return error
        return located(error, str(source), text)

    def _session_moved(self, key: str, provider: str, account: str) -> None:
        self.store.save_session(key, provider, account, self.clock())

    def _window(self, provider: str, model: str) -> int | None:
        """A model's context window if its provider listed it; the first ask starts learning them."""
        window = self.windows.get((provider, model))
        if window is None and provider in self.providers and provider not in self._learning:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return None
            self._learning[provider] = loop.create_task(self._learn_windows(provider))
        return window

    async def _learn_windows(self, provider: str) -> None:
        try:
            async with asyncio.timeout(MODEL_LIST_TIMEOUT):
                self.note_models(provider, await self.providers[provider].list_models())
        except Exception as exc:  # the threshold then stays `server.long_context_tokens`
            logging.getLogger("router").info("context windows of %s unknown: %s", provider, exc)

    def note_models(self, provider: str, models: Sequence[ModelInfo]) -> None:
        """Remember the context windows a provider's model list gave (for `long_context` lanes)."""
        for info in models:
            if info.context_window:
                self.windows[(provider, info.id)] = info.context_window

    def credential_statuses(self) -> dict[str, CredentialStatus]:
        """Each provider's credential status; missing providers are reported as such."""
        statuses = {name: _safe_status(provider) for name, provider in self.providers.items()}
        for name in self.config.missing_providers:
            statuses[name] = CredentialStatus(False, "provider not installed")
        return statuses

    def account_states(self) -> list[AccountState]:
        """Every account of every provider: credentials, cooldowns in force, last quota figures."""
        cooling: dict[tuple[str, str], list[Cooldown]] = {}
        for cooldown in self.cooldowns.snapshot():
            cooling.setdefault((cooldown.provider, cooldown.account), []).append(cooldown)
        quotas = self.cooldowns.quotas()
        states = []
        for pool in self.pools.values():
            for account in pool.accounts:
                key = (pool.provider, account.name)
                windows, seen = quotas.get(key, ((), None))
                states.append(
                    AccountState(pool.provider, account.name, _safe_status(account.instance),
                                 tuple(cooling.get(key, ())), tuple(windows), seen)
                )
        return states

    async def aclose(self) -> None:
        """Close every account's provider instance, then each provider's HTTP client, then the store."""
        for task in self._learning.values():
            task.cancel()
        try:
            for extra in self._extra:
                await extra.aclose()
            for pool in self.pools.values():
                try:
                    for account in pool.accounts:
                        await account.instance.aclose()
                finally:
                    await pool.first.instance.context.http.aclose()
        finally:
            self.store.close()
            if self.ledger is not None:
                self.ledger.close()


def open_ledger(config: Config, root: Path, clock: Callable[[], float] = time.time) -> Ledger | None:
    """The usage ledger `config` asks for: its `ledger.path`, else `usage.sqlite3` in `root`."""
    settings = config.ledger
    if not settings.enabled:
        return None
    return Ledger(settings.path or ledger_file(root), retention_days=settings.retention_days, clock=clock)


def _missing_message(name: str) -> str:
    return (
        f"provider '{name}' is not installed in this router, so requests routed to it cannot be served; "
        f"install it, or route the model elsewhere in config.yaml (see `router check`)"
    )


def _safe_status(provider: Provider[Any]) -> CredentialStatus:
    try:
        return provider.credential_status()
    except Exception as exc:  # a status check must never stop the banner
        return CredentialStatus(False, f"status check failed: {type(exc).__name__}")
