"""Route, retry, fall back: get a reply started on the first route that can serve it.

A reply counts as started when its provider yields the first batch of events. Until then a failure
is retried (when retryable) with backoff, then the next fallback route is tried; after it
the stream belongs to the client and failures travel to it as an error event.
"""

from __future__ import annotations

from typing import Any

import asyncio
import logging
import math
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass

from router.conversation import Request, drop_foreign_signatures
from router.errors import AuthError, ModelUnavailable, PermissionDenied, ProviderError, RateLimited, UpstreamUnavailable
from router.events import Batch
from router.provider import Provider
from router.route import Resolution, Route
from router.server.accounts import Account, Pool, Sessions, session_of
from router.server.cooldowns import Cooldown, Cooldowns
from router.toolkit.failures import describe_wait

log = logging.getLogger("router.server.dispatch")

_NEXT_ACCOUNT = (AuthError, PermissionDenied, ModelUnavailable)
"""Failures of one account (its login, its plan): another account of the same provider may serve."""


@dataclass(frozen=True, slots=True)
class Started:
    """A reply under way: the route and account that answered, and its batches (the first already in)."""

    route: Route
    account: str
    batches: AsyncIterator[Batch]


class Dispatcher:
    """Starts replies on the routes of a `Resolution`, in order, each over its provider's account pool.

    An account on cooldown is skipped with no request sent; an account that answers with a
    quota or rate limit is put on cooldown (until the reset the backend gave) and the next
    account, then the next route, is tried at once. When every route is dry the client gets one
    429 whose `retry-after` is the earliest reset.
    """

    def __init__(
        self,
        pools: Mapping[str, Pool],
        cooldowns: Cooldowns,
        *,
        sessions: Sessions | None = None,
        retries: int = 2,
        backoff: float = 0.5,
        missing: Mapping[str, str] | None = None,
    ) -> None:
        self.pools = pools
        self.cooldowns = cooldowns
        self.sessions = sessions if sessions is not None else Sessions()
        self.retries = retries
        self.backoff = backoff
        self.missing = dict(missing or {})

    async def start(self, request: Request, resolution: Resolution) -> Started:
        """The route and account that answered, with its batches; raises if none could."""
        error: ProviderError | None = None
        dry: list[tuple[Route, Cooldown]] = []
        every_route_dry = True
        session = session_of(request)
        for position, route in enumerate(resolution.routes):
            if position and error is not None:
                log.warning("falling back to %s after: %s", route.target, error.message)
            pool = self.pools.get(route.provider)
            if pool is None:
                reason = self.missing.get(route.provider) or f"provider '{route.provider}' is not configured"
                error, every_route_dry = ProviderError(reason, provider=route.provider), False
                continue
            only = resolution.accounts.get(route.provider)
            accounts = pool.order(session, self.sessions, only=only, strategy=resolution.strategy)
            route_dry, routed = True, None
            for account in accounts:
                cooling = self.cooldowns.cooling(route.provider, account.name, route.model)
                if cooling is not None:
                    dry.append((route, cooling))
                    continue
                routed = routed or drop_foreign_signatures(request, route.provider, route.model)
                try:
                    batches = await self._start_route(account.instance, routed, route)
                except RateLimited as exc:
                    dry.append((route, self._cool(account, route, exc)))
                    error = exc
                    continue
                except _NEXT_ACCOUNT as exc:
                    error, route_dry = exc, False
                    if len(accounts) > 1:
                        log.warning("%s account %s failed: %s", route.target, account.name, exc.message)
                    continue
                except ProviderError as exc:
                    error, route_dry = exc, False
                    if not exc.fallback:
                        raise
                    break  # the backend's trouble, not the account's: the next route
                self.cooldowns.succeeded(route.provider, account.name, route.model)
                if session is not None and len(accounts) > 1:
                    self.sessions.served(session, route.provider, account.name)
                return Started(route, account.name, batches)
            every_route_dry = every_route_dry and route_dry and bool(accounts)
        if dry and every_route_dry:
            if len(dry) == 1 and isinstance(error, RateLimited):
                raise error  # one target, one account: its own answer says it best
            raise self._all_dry(dry)
        raise error or UpstreamUnavailable(f"no route could serve model '{request.model}'")

    def _cool(self, account: Account, route: Route, exc: RateLimited) -> Cooldown:
        model = route.model if exc.scope == "model" else None
        cooldown = self.cooldowns.strike(
            route.provider, account.name, model, retry_after=exc.retry_after, reason=exc.message
        )
        wait = describe_wait(max(0.0, cooldown.until - self.cooldowns.clock()))
        what = f"{route.provider} account {account.name}" + (f" ({model})" if model else "")
        log.warning("%s is on cooldown for %s: %s", what, wait, exc.message)
        return cooldown

    def _all_dry(self, dry: list[tuple[Route, Cooldown]]) -> RateLimited:
        """One 429 for the client: each target, why it is dry and when it resets; retry after the earliest."""
        now = self.cooldowns.clock()
        parts = []
        for route, cooldown in dry:
            wait = describe_wait(max(0.0, cooldown.until - now))
            parts.append(f"{route.target} account {cooldown.account}: {cooldown.reason} (ready again in {wait})")
        earliest = max(1.0, min(cooldown.until for _route, cooldown in dry) - now)
        message = "every route is out of quota or rate-limited: " + "; ".join(dict.fromkeys(parts))
        return RateLimited(message, retry_after=float(math.ceil(earliest)))

    async def _start_route(self, provider: Provider[Any], request: Request, route: Route) -> AsyncIterator[Batch]:
        for attempt in range(self.retries + 1):
            try:
                return await _first_batch(provider, request, route)
            except ProviderError as exc:
                if not exc.retryable or attempt == self.retries:
                    raise
                delay = self.backoff * 2**attempt
                log.warning("%s failed (%s); retry %d in %.1fs", route.target, exc.message, attempt + 1, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")


async def _first_batch(provider: Provider[Any], request: Request, route: Route) -> AsyncIterator[Batch]:
    """The provider's reply once its first batch is in: errors before it can still be retried or fall back."""
    batches = provider.stream(request, route)
    try:
        first = await anext(batches)
    except StopAsyncIteration:
        raise UpstreamUnavailable(f"{route.target} ended its reply before it began", provider=route.provider) from None
    except ProviderError as exc:
        await _close(batches)
        exc.provider = exc.provider or provider.name
        raise
    except Exception as exc:
        await _close(batches)
        raise _provider_bug(provider) from exc
    except BaseException:
        await _close(batches)
        raise
    return guarded(provider, batches, first)


async def guarded(provider: Provider[Any], batches: AsyncIterator[Batch], first: Batch) -> AsyncGenerator[Batch, None]:
    """`first`, then the rest of the provider's batches, with any non-router exception (a provider bug)
    logged and made a `ProviderError` (not retried: the same bug would strike again; a fallback
    route may still serve). One generator layer for both, since every batch passes through it.

    Closing this generator closes the provider's stream too, so an abandoned reply cancels its upstream.
    """
    try:
        yield first
        async for batch in batches:
            yield batch
    except ProviderError as exc:
        exc.provider = exc.provider or provider.name
        raise
    except Exception as exc:
        raise _provider_bug(provider) from exc
    finally:
        await _close(batches)


def _provider_bug(provider: Provider[Any]) -> ProviderError:
    """Called while handling a non-router exception from a provider: logged with its traceback."""
    log.exception("provider %s failed unexpectedly", provider.name)
    exc = sys.exc_info()[1]
    return ProviderError(f"provider '{provider.name}' failed: {type(exc).__name__}", provider=provider.name)


async def _close(batches: AsyncIterator[Batch]) -> None:
    close = getattr(batches, "aclose", None)
    if close is not None:
        await close()
