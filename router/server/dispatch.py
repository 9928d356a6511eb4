"""Route, retry, fall back: get a reply started on the first route that can serve it.

A reply counts as started when its provider yields the first batch of events. Until then a failure
is retried (when retryable) with backoff, then the next fallback route is tried; after it
the stream belongs to the client and failures travel to it as an error event.
"""

from __future__ import annotations

from typing import Any

import asyncio
import logging
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Mapping

from router.conversation import Request, drop_foreign_signatures
from router.errors import ProviderError, UpstreamUnavailable
from router.events import Batch
from router.provider import Provider
from router.route import Resolution, Route

log = logging.getLogger("router.server.dispatch")


class Dispatcher:
    """Starts replies on the routes of a `Resolution`, in order."""

    def __init__(
        self,
        providers: Mapping[str, Provider[Any]],
        *,
        retries: int = 2,
        backoff: float = 0.5,
        missing: Mapping[str, str] | None = None,
    ) -> None:
        self.providers = providers
        self.retries = retries
        self.backoff = backoff
        self.missing = dict(missing or {})

    async def start(self, request: Request, resolution: Resolution) -> tuple[Route, AsyncIterator[Batch]]:
        """The route that answered and its batches of events, the first already received; raises if none could."""
        error: ProviderError = UpstreamUnavailable(f"no route could serve model '{request.model}'")
        for position, route in enumerate(resolution.routes):
            if position:
                log.warning("falling back to %s after: %s", route.target, error.message)
            try:
                return route, await self._start_route(request, route)
            except ProviderError as exc:
                error = exc
                if not exc.fallback:
                    break
        raise error

    async def _start_route(self, request: Request, route: Route) -> AsyncIterator[Batch]:
        provider = self._provider(route)
        routed = drop_foreign_signatures(request, route.provider, route.model)
        for attempt in range(self.retries + 1):
            try:
                return await _first_batch(provider, routed, route)
            except ProviderError as exc:
                if not exc.retryable or attempt == self.retries:
                    raise
                delay = self.backoff * 2**attempt
                log.warning("%s failed (%s); retry %d in %.1fs", route.target, exc.message, attempt + 1, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    def _provider(self, route: Route) -> Provider[Any]:
        provider = self.providers.get(route.provider)
        if provider is None:
            reason = self.missing.get(route.provider) or f"provider '{route.provider}' is not configured"
            raise ProviderError(reason, provider=route.provider)
        return provider


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
