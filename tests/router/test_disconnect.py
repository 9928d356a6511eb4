"""A client that hangs up mid-stream cancels the upstream request at once, whatever the ping interval.

End to end for each provider: a client on a real socket reads the first events of a stream and
closes it while the fake upstream (wrapped in `Stalling`) is silent, with the default 10 s
ping interval; the upstream must see its request closed well before the next ping would be
due, and the provider's stream must have run its `finally`. Then the writer alone: the client
leaving while a write is still pending must still close the provider's stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import AsyncGeneratorType
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from providers.codex.provider import CodexProvider
from providers.kiro.provider import KiroProvider
from providers.openrouter.provider import OpenRouterProvider
from router.anthropic.encode import StreamEncoder
from router.server.sse import EventStreamResponse
from router.events import Batch, BlockStop, MessageStart, MessageStop, TextDelta, TextStart
from router.provider import DEFAULT_ACCOUNT, Provider, ProviderContext
from router.route import Resolution, Route
from router.server.accounts import Account, Pool
from router.server.config import ServerConfig, parse_config
from router.server.cooldowns import Cooldowns, MemoryStore
from router.server.dispatch import Dispatcher
from router.server.runtime import Runtime
from tests.providers.codex.fake_backend import FakeCodex
from tests.providers.codex.test_end_to_end import write_auth
from tests.providers.kiro.fake_kiro import FakeKiro
from tests.providers.kiro.test_end_to_end import write_token_file
from tests.providers.openrouter.fake_openrouter import API_KEY, FakeOpenRouter
from tests.support.canonical import canonical_request
from tests.support.live import serve_asgi, served
from tests.support.stall import Stalling

CLASSES: dict[str, Any] = {"codex": CodexProvider, "kiro": KiroProvider, "openrouter": OpenRouterProvider}
MODELS = {"codex": "gpt-5.5", "kiro": "claude-sonnet-4.5", "openrouter": "openai/gpt-5"}

CANCEL_BOUND = 1.0
"""Seconds from the client's hang-up to the upstream's: the goal is 100 ms, and a disconnect noticed
only at the next ping check would take up to half the 10 s ping interval (about 5 s here)."""

IN_LOOP_BOUND = 0.25
"""The same for the writer alone (no sockets, one event loop): tight enough that a disconnect left to
the next ping check fails it even at a 1 s ping interval (0.5 s between checks)."""


def providers_section(name: str, upstream: str, tmp_path: Path) -> dict[str, Any]:
    """The `providers:` config for `name` against the fake at `upstream`, with the login files it needs."""
    if name == "codex":
        auth = tmp_path / "codex-auth.json"
        write_auth(auth, FakeCodex().tokens)
        return {"base_url": upstream, "token_url": f"{upstream}/oauth/token", "auth_file": str(auth)}
    if name == "kiro":
        token_file = tmp_path / "kiro-auth-token.json"
        write_token_file(token_file, FakeKiro())
        return {"api_url": upstream, "social_refresh_url": f"{upstream}/refreshToken", "token_file": str(token_file)}
    return {"api_key": API_KEY, "base_url": upstream, "anthropic_endpoint": False}


def fake_app(name: str) -> Any:
    return {"codex": FakeCodex, "kiro": FakeKiro, "openrouter": FakeOpenRouter}[name]().app()


@dataclass
class Hangup:
    left: float  # when the client closed its socket
    received: bytes  # what it had read by then


def stream_then_hang_up(url: str, model: str, timeout: float = 15.0) -> Hangup:
    """Start a stream on a raw socket, read until the first text delta, then close the socket."""
    parts = urlsplit(url)
    payload = json.dumps({"model": model, "max_tokens": 256, "stream": True,
                          "messages": [{"role": "user", "content": "hello"}]}).encode()
    head = (f"POST /v1/messages HTTP/1.1\r\nhost: {parts.netloc}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(payload)}\r\n\r\n").encode()
    received = b""
    deadline = time.monotonic() + timeout
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head + payload)
        while b"event: content_block_delta" not in received:
            assert time.monotonic() < deadline, received
            chunk = sock.recv(65536)
            assert chunk, f"the router closed the stream early: {received!r}"
            received += chunk
        left = time.monotonic()
    return Hangup(left, received)


def tracked(provider: Any, monkeypatch: pytest.MonkeyPatch) -> list[AsyncGeneratorType[Batch, None]]:
    """The stream generators `provider` makes from now on (the provider's own, only recorded)."""
    made: list[AsyncGeneratorType[Batch, None]] = []
    real = provider.stream

    def stream(*args: Any) -> AsyncGeneratorType[Batch, None]:
        generator = real(*args)
        assert isinstance(generator, AsyncGeneratorType)
        made.append(generator)
        return generator

    monkeypatch.setattr(provider, "stream", stream)
    return made


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


@pytest.fixture(params=sorted(CLASSES))
def provider_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def stalled_router(
    provider_name: str, tmp_path: Path, upstream_transport: str
) -> Iterator[tuple[Runtime, str, Stalling]]:
    """The router (default ping interval) in front of the provider's fake, which stalls after its first text."""
    stalling = Stalling(fake_app(provider_name), b"hello")
    with serve_asgi(stalling) as upstream:
        data = {"server": {"upstream_transport": upstream_transport, "retries": 0},
                "providers": {provider_name: providers_section(provider_name, upstream, tmp_path)},
                "default": {"use": f"{provider_name}/{MODELS[provider_name]}"}}
        runtime = Runtime(parse_config(data, CLASSES, env={}), CLASSES)
        with served(runtime) as (url, _):
            yield runtime, url, stalling


def test_a_client_hanging_up_cancels_the_upstream_at_once_at_the_default_ping_interval(
    stalled_router: tuple[Runtime, str, Stalling], provider_name: str, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime, url, stalling = stalled_router
    assert runtime.config.server.ping_interval == ServerConfig().ping_interval == 10.0
    streams = tracked(runtime.providers[provider_name], monkeypatch)
    caplog.set_level(logging.INFO, logger="router.access")

    hangup = stream_then_hang_up(url, "claude-sonnet-5")

    assert b"hello" in hangup.received and stalling.stalled  # the client saw text, then the upstream fell silent
    assert wait_for(lambda: bool(stalling.hung_up)), "the upstream request was never closed"
    delay = stalling.hung_up[0] - hangup.left
    assert delay < CANCEL_BOUND, f"the upstream was closed {delay:.3f}s after the client left"
    assert len(streams) == 1
    assert wait_for(lambda: streams[0].ag_frame is None, 2.0), "the provider's stream never ran its finally"
    assert wait_for(lambda: any("status=499" in r.getMessage() for r in caplog.records), 2.0)


# -- the writer alone ---------------------------------------------------------------------


class Client:
    """An ASGI client whose first text write never completes (its socket buffer full) and who then leaves."""

    def __init__(self) -> None:
        self.write_pending = asyncio.Event()
        self.gone = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and b"text_delta" in message["body"]:
            self.write_pending.set()
            async with asyncio.timeout(30):
                await asyncio.Event().wait()  # bounded: only the stream's cancellation ends it early

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}


class Parked(Provider[Any]):
    """Starts a reply with some text, then thinks for 30 s; notes when its stream's `finally` runs."""

    name = "up"

    def __init__(self) -> None:
        super().__init__(None, ProviderContext(httpx.AsyncClient(), logging.getLogger("t"), Path(".")))
        self.thinking = asyncio.Event()
        self.finally_ran: list[float] = []

    async def stream(self, request: Any, route: Route) -> AsyncIterator[Batch]:
        try:
            yield [MessageStart(route.model)]
            yield [TextStart(), TextDelta("first")]
            self.thinking.set()
            await asyncio.sleep(30)
            yield [TextDelta("never"), BlockStop(), MessageStop("end_turn")]
        finally:
            self.finally_ran.append(time.monotonic())


async def reply_of(provider: Parked, how: str) -> AsyncIterator[Batch]:
    """The provider's stream itself, or as the app gets it: from the dispatcher, its first batch stepped by hand."""
    route = Route("up", "model-1")
    request = canonical_request("claude-opus-4-8")
    if how == "bare":
        return provider.stream(request, route)
    pools = {"up": Pool("up", [Account("up", DEFAULT_ACCOUNT, provider)])}
    dispatcher = Dispatcher(pools, Cooldowns(MemoryStore()), retries=0)
    started = await dispatcher.start(request, Resolution("claude-opus-4-8", None, "test", (route,)))
    return started.batches


@pytest.mark.parametrize("how", ["bare", "dispatched"])
async def test_leaving_while_a_write_is_pending_still_runs_the_providers_finally(how: str) -> None:
    provider = Parked()
    client = Client()
    ended: list[int] = []
    response = EventStreamResponse(await reply_of(provider, how), StreamEncoder("claude-opus-4-8"), ping_interval=10.0,
                                   closing=asyncio.Event(), on_end=lambda status, stop: ended.append(status))
    task = asyncio.create_task(response({"type": "http"}, client.receive, client.send))  # type: ignore[arg-type]
    async with asyncio.timeout(5):
        await client.write_pending.wait()
    assert not provider.thinking.is_set()  # the provider is parked at its `yield`, the stream task in the write
    left = time.monotonic()
    client.gone.set()
    async with asyncio.timeout(15):
        await task
    await provider.context.http.aclose()
    assert provider.finally_ran, "the provider's finally never ran"
    assert provider.finally_ran[0] - left < IN_LOOP_BOUND
    assert ended == [499]


@pytest.mark.parametrize("ping_interval", [1.0, 4.0, 10.0])
async def test_leaving_while_the_upstream_is_silent_cancels_it_at_once(ping_interval: float) -> None:
    cancelled: list[float] = []

    async def provider() -> AsyncIterator[Batch]:
        yield [MessageStart("m")]
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(time.monotonic())
            raise
        yield [TextStart(), TextDelta("never"), BlockStop(), MessageStop("end_turn")]

    sent = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message.get("body"):
            sent.set()

    gone = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await gone.wait()
        return {"type": "http.disconnect"}

    ended: list[int] = []
    response = EventStreamResponse(provider(), StreamEncoder("claude-opus-4-8"), ping_interval=ping_interval,
                                   closing=asyncio.Event(), on_end=lambda status, stop: ended.append(status))
    task = asyncio.create_task(response({"type": "http"}, receive, send))  # type: ignore[arg-type]
    async with asyncio.timeout(5):
        await sent.wait()
    await asyncio.sleep(0.05)
    left = time.monotonic()
    gone.set()
    async with asyncio.timeout(15):
        await task
    assert cancelled and cancelled[0] - left < IN_LOOP_BOUND
    assert ended == [499]
