"""Everything a running router holds: config, provider instances, rules, dispatcher.

Built once per process (or per test) from a validated config and the registered provider
classes; the web app and the CLI commands share it.
"""

from __future__ import annotations

from typing import Any

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from router.transport.support import FAST, upstream_transport
from router.server.config import Config
from router.server.dispatch import Dispatcher
from router.provider import CredentialStatus, Provider, ProviderContext
from router.server.rules import Rules

USER_AGENT = "switchyard-router"


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


class Runtime:
    """The router's live state, shared by the web app and the CLI."""

    def __init__(self, config: Config, classes: Mapping[str, type[Provider[Any]]]) -> None:
        self.config = config
        self.rules = Rules(config)
        self.providers: dict[str, Provider[Any]] = {}
        for name, settings in config.providers.items():
            http = http_client(config.server.upstream_transport)
            context = ProviderContext(http, logging.getLogger(f"providers.{name}"), state_dir() / name)
            self.providers[name] = classes[name](settings, context)
        missing = {name: _missing_message(name) for name in config.missing_providers}
        self.dispatcher = Dispatcher(self.providers, retries=config.server.retries, missing=missing)
        self.lifecycle = Lifecycle(config.server.shutdown_grace)

    def credential_statuses(self) -> dict[str, CredentialStatus]:
        """Each provider's credential status; missing providers are reported as such."""
        statuses = {name: _safe_status(provider) for name, provider in self.providers.items()}
        for name in self.config.missing_providers:
            statuses[name] = CredentialStatus(False, "provider not installed")
        return statuses

    async def aclose(self) -> None:
        """Close every provider and its HTTP client."""
        for provider in self.providers.values():
            try:
                await provider.aclose()
            finally:
                await provider.context.http.aclose()


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
