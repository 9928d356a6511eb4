"""A backend's model list, fetched now and then and kept: the cache behind `list_models`.

Backends list their models on an endpoint that costs a round trip, changes rarely and may
fail. So the list is fetched at most once per `ttl`, and a request never waits for it when
a provider only `peek`s. A failure keeps the last good list (or, before there was one, the
provider's built-in fallback) and is retried after `retry_after_failure` seconds: sooner
than a whole `ttl`, so that a fallback does not stick, but not on every request either.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from router.toolkit.failures import safe_message

M = TypeVar("M")

RETRY_AFTER_FAILURE = 60.0
"""Seconds before a failed fetch is tried again (never more than the ttl)."""


class Catalogue(Generic[M]):
    """The live list of models of type `M`, refreshed at most every `ttl` seconds.

    `fetch()` returns the whole list (a provider whose backend pages does the paging in
    it); an exception or an empty list counts as a failure. `key(model)` is the model's id
    for `find` and `peek`. `fallback` is served while no fetch has succeeded; `warn`, if
    given, hears about each failure (`what` names the list in that message).
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Sequence[M]]],
        ttl: float,
        *,
        key: Callable[[M], str],
        fallback: Sequence[M] = (),
        warn: Callable[[str], object] | None = None,
        what: str = "models",
        clock: Callable[[], float] = time.monotonic,
        retry_after_failure: float = RETRY_AFTER_FAILURE,
    ) -> None:
        self.fetch = fetch
        self.ttl = ttl
        self.key = key
        self.fallback = tuple(fallback)
        self.warn = warn
        self.what = what
        self.clock = clock
        self.retry_after_failure = min(retry_after_failure, ttl)
        self.models: tuple[M, ...] = ()
        self.fetched_at: float | None = None

    async def all(self) -> Sequence[M]:
        """The current list, fetched first when it is due; the fallback while nothing was fetched."""
        now = self.clock()
        if self.fetched_at is None or now - self.fetched_at >= self.ttl:
            self.fetched_at = now  # one attempt per period, even when it fails
            fetched = await self._fetch()
            if fetched:
                self.models = fetched
            else:  # try again soon rather than keeping the fallback for a whole ttl
                self.fetched_at = now - self.ttl + self.retry_after_failure
        return self.models or self.fallback

    async def find(self, model_id: str) -> M | None:
        """The model called `model_id` in the current list (fetched when due), else in the fallback."""
        return _first(model_id, (*await self.all(), *self.fallback), self.key)

    def peek(self, model_id: str) -> M | None:
        """What is known about `model_id` now, without fetching (so a request never waits for the list)."""
        return _first(model_id, (*self.models, *self.fallback), self.key)

    async def _fetch(self) -> tuple[M, ...]:
        try:
            return tuple(await self.fetch())
        except Exception as exc:  # noqa: BLE001 -- any failure: keep serving what we have
            if self.warn is not None:
                self.warn(f"could not list {self.what} ({type(exc).__name__}: {safe_message(str(exc))})")
            return ()


def _first(model_id: str, models: Sequence[M], key: Callable[[M], str]) -> M | None:
    return next((model for model in models if key(model) == model_id), None)
