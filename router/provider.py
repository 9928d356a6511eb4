"""The provider contract: what a plugin implements to put one backend behind the router.

A provider is constructed once at start-up with its validated settings and a
`ProviderContext`; after that the core only calls `stream` (and the optional methods).
Only `stream` is required: non-streaming replies are folded from it by the core.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from router.conversation import Request
from router.events import Event
from router.quota import QuotaWindow
from router.route import Route


@dataclass(frozen=True, slots=True)
class NoSettings:
    """Settings of a provider that takes none: its YAML section must be empty."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One upstream model a provider offers."""

    id: str
    display_name: str = ""
    context_window: int | None = None
    max_output_tokens: int | None = None
    efforts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CredentialStatus:
    """Whether a provider can authenticate now, and a one-line, secret-free explanation."""

    ok: bool
    detail: str


@dataclass(frozen=True, slots=True)
class LoginOptions:
    """What `router login NAME` was asked for."""

    device: bool = False
    """No browser here: sign in with a code shown on this machine and entered on another."""
    import_from: str | None = None
    """Take over an existing login that another tool keeps (e.g. "opencode") instead of signing in."""
    force: bool = False
    """Replace an existing, still valid login."""


Say = Callable[[str], None]


QuotaSink = Callable[[Sequence[QuotaWindow]], None]
"""Where a provider reports the quota figures it saw (`ProviderContext.report_quota`); it never raises."""


def _ignore_quota(windows: Sequence[QuotaWindow]) -> None:
    """The sink of a provider built outside a running router (tests, one-off CLI commands)."""


DEFAULT_ACCOUNT = "default"
"""The account a provider's own section describes (for Codex, the Codex CLI's login)."""


@dataclass(slots=True)
class ProviderContext:
    """What the core hands a provider: a pooled HTTP client, a logger, and where state may live.

    A provider instance serves one account. `account` is its label (`DEFAULT_ACCOUNT` for the
    provider's own section, else the name under `accounts:` or given to `router login
    --account`); `state_dir` is that account's own directory, where a login the router stores
    for a named account belongs. `report_quota` takes the quota figures the backend reported.
    """

    http: httpx.AsyncClient
    logger: logging.Logger
    state_dir: Path
    account: str = DEFAULT_ACCOUNT
    report_quota: QuotaSink = _ignore_quota


SettingsT = TypeVar("SettingsT")
"""The type of a provider's validated settings (its `Settings` class)."""


class Provider(ABC, Generic[SettingsT]):
    """Base class of every provider; subclass it (`Provider[MySettings]`) and register the class from a plugin.

    Class attributes: `name` is the key used in config and routes (`codex/gpt-5.5`);
    `Settings` is a frozen dataclass validated from the provider's YAML section;
    `RouteOptions`, when not None, a frozen dataclass validated from a route's `options`.
    """

    name: ClassVar[str]
    Settings: ClassVar[type[Any]] = NoSettings
    RouteOptions: ClassVar[type[Any] | None] = None

    def __init__(self, settings: SettingsT, context: ProviderContext) -> None:
        self.settings: SettingsT = settings
        self.context = context

    def route_options(self, route: Route) -> Any:
        """The route's `RouteOptions` instance; a route that gave none gets the class's defaults (or None)."""
        if route.options is not None:
            return route.options
        return self.RouteOptions() if self.RouteOptions is not None else None

    @property
    def log(self) -> logging.Logger:
        """The provider's logger (`providers.<name>`; its lines pass the redacting handler like all others)."""
        return self.context.logger

    @abstractmethod
    def stream(self, request: Request, route: Route) -> AsyncIterator[Sequence[Event]]:
        """Send `request` to `route.model` and yield canonical events as the backend answers.

        Each item is a batch (`router.events.Batch`): the non-empty list of events translated
        from one upstream read (one SSE event, one chunk of frames), yielded as soon as it is
        complete; the router writes a batch to the client in one go. `router.toolkit.upstream`
        sends the request and reads the reply this way for HTTP backends.

        Raise `router.errors.ProviderError` subclasses for failures. Any reasoning signature
        in `request` was minted by this provider and `route.model` (the core drops others).
        """

    async def count_tokens(self, request: Request, route: Route) -> int | None:
        """Input tokens `request` would use on `route`, or None when the backend cannot tell."""
        return None

    async def list_models(self) -> Sequence[ModelInfo]:
        """The upstream models this provider can serve now (may be a built-in list)."""
        return ()

    def credential_status(self) -> CredentialStatus:
        """Cheap, local check of the credentials, for the banner and `router status`."""
        return CredentialStatus(True, "no credentials needed")

    async def usage_report(self) -> str | None:
        """Plan usage and limits as the backend reports them (may call it), for `router status`; None if unknown."""
        return None

    async def login(self, options: LoginOptions, say: Say) -> None:
        """Interactive sign-in for `router login NAME`; `say` prints to the user.

        Raise `router.errors.AuthError`/`PermissionDenied` with a message the user can act on.
        """
        raise NotImplementedError(f"provider '{self.name}' has no login; see its section in config.example.yaml")

    async def logout(self, say: Say) -> None:
        """Forget the credentials `login` stored, for `router logout NAME`."""
        raise NotImplementedError(f"provider '{self.name}' has no logout")

    async def aclose(self) -> None:
        """Release what the provider holds; the core closes the shared HTTP client itself."""
