"""The dispatcher on its own: a reply starts with its first batch, and closing it reaches the upstream response."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.errors import Overloaded, ProviderError, UpstreamUnavailable
from router.events import Batch, MessageStart, TextDelta, TextStart
from router.provider import DEFAULT_ACCOUNT, Provider, ProviderContext
from router.route import Resolution, Route
from router.server.accounts import Account, Pool
from router.server.cooldowns import Cooldowns, MemoryStore
from router.server.dispatch import Dispatcher
from router.toolkit.upstream import Backend
from router.testing.scripted import ScriptedBody as Body
from tests.support.canonical import canonical_request
from tests.support.scripted import Step, play, text_reply

ROUTE = Route("up", "model-1")
REQUEST = canonical_request("claude-opus-4-8")


class Played(Provider[Any]):
    """Plays one script per call (runs of events between pauses are batches); counts closed streams."""

    name = "up"

    def __init__(self, *scripts: Sequence[Step]) -> None:
        super().__init__(None, ProviderContext(httpx.AsyncClient(), logging.getLogger("t"), Path(".")))
        self.scripts = list(scripts)
        self.calls = 0
        self.closed = 0

    async def stream(self, request: Any, route: Route) -> AsyncIterator[Batch]:
        self.calls += 1
        try:
            async for batch in play(self.scripts.pop(0)):
                yield batch
        finally:
            self.closed += 1


class Relay(Provider[Any]):
    """Reads a real (mocked) HTTP reply through `router.toolkit.upstream`, as the built-in providers do."""

    name = "up"

    def __init__(self, body: Body) -> None:
        http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(200, stream=body)))
        super().__init__(None, ProviderContext(http, logging.getLogger("t"), Path(".")))
        self.backend = Backend(http, "the Relay backend", "up")

    async def stream(self, request: Any, route: Route) -> AsyncIterator[Batch]:
        response = await self.backend.send("POST", "https://relay.test/", content=b"", headers={})
        batches = self.backend.chunk_batches(response, lambda chunk: [TextDelta(chunk.decode())], list)
        try:
            yield [MessageStart(route.model), TextStart()]
            async for batch in batches:
                yield batch
        finally:
            await batches.aclose()


def dispatcher(provider: Provider[Any]) -> Dispatcher:
    pools = {"up": Pool("up", [Account("up", DEFAULT_ACCOUNT, provider)])}
    return Dispatcher(pools, Cooldowns(MemoryStore()), retries=1, backoff=0.0)


async def start(provider: Provider[Any]) -> AsyncIterator[Batch]:
    started = await dispatcher(provider).start(REQUEST, Resolution("claude-opus-4-8", None, "test", (ROUTE,)))
    return started.batches


async def test_the_first_batch_is_in_before_the_reply_counts_as_started() -> None:
    provider = Played([Overloaded("busy")], [*text_reply("a")[:2], Overloaded("gone mid-reply")])
    batches = await start(provider)
    assert provider.calls == 2  # the failure before any batch was retried
    assert list(await anext(batches)) == text_reply("a")[:2]
    with pytest.raises(Overloaded, match="gone mid-reply"):  # after it, the failure belongs to the client
        await anext(batches)
    assert provider.calls == 2 and provider.closed == 2


async def test_a_stream_that_yields_nothing_is_unavailable() -> None:
    with pytest.raises(UpstreamUnavailable, match="up/model-1 ended its reply before it began"):
        await start(Played([], []))


async def test_a_provider_bug_mid_reply_is_a_provider_error_and_closes_its_stream() -> None:
    provider = Played([MessageStart("m"), KeyError("internal")])
    batches = await start(provider)
    await anext(batches)
    with pytest.raises(ProviderError) as caught:
        await anext(batches)
    assert caught.value.message == "provider 'up' failed: KeyError" and type(caught.value) is ProviderError
    assert provider.closed == 1


async def test_closing_the_dispatched_stream_mid_reply_closes_the_upstream_response() -> None:
    body = Body(b"one", b"two", stall=True)
    batches = await start(Relay(body))
    assert list(await anext(batches)) == [MessageStart("model-1"), TextStart()]
    assert list(await anext(batches)) == [TextDelta("one")]
    assert not body.closed
    await batches.aclose()  # type: ignore[attr-defined]
    assert body.closed and not body.exhausted
