"""Which transport a provider's client gets: ours, or httpx's when asked, behind a proxy, or
when the installed httpcore/httpx/httptools lacks a part ours builds on."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from typing import Any

import httpcore
import httptools
import httpx
import pytest
from httpcore._async.connection_pool import AsyncPoolRequest

from router.errors import ConfigError
from router.server.config import ServerConfig
from router.server.runtime import Runtime, http_client
from router.settings import InvalidField
from router.transport import http1, netio, support
from tests.conftest import CLASSES, make_config


@pytest.fixture(autouse=True)
def fresh_check(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test checks (and logs) afresh, with no proxy from the machine's environment."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(support, "_told", set())
    support.fast_transport_supported.cache_clear()
    yield
    support.fast_transport_supported.cache_clear()


def pool_of(client: httpx.AsyncClient) -> object:
    transport = client._transport
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    return transport._pool


def is_fast(client: httpx.AsyncClient) -> bool:
    pool = pool_of(client)
    if isinstance(pool, http1.Pool):
        assert isinstance(pool._network_backend, netio.AsyncioBackend)
        return True
    assert type(pool) is httpcore.AsyncConnectionPool  # httpx's own, with httpcore's connections
    return False


def transport_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "router.transport"]


def test_everything_the_fast_transport_needs_is_installed() -> None:
    assert support.fast_transport_supported() is None


async def test_the_fast_transport_is_the_default(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="router.transport")
    client = http_client()
    assert is_fast(client)
    assert transport_lines(caplog) == []
    await client.aclose()


async def test_httpx_is_chosen_by_the_setting() -> None:
    client = http_client("httpx")
    assert not is_fast(client)
    await client.aclose()


async def test_a_proxy_in_the_environment_uses_httpx_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    caplog.set_level(logging.INFO, logger="router.transport")
    clients = [http_client(), http_client()]
    assert not any(is_fast(client) for client in clients)
    assert clients[0]._transport_for_url(httpx.URL("https://example.org")) is not clients[0]._transport  # the proxy's
    assert [level for level, message in transport_lines(caplog) if "proxy" in message] == [logging.INFO]
    for client in clients:
        await client.aclose()


async def test_a_missing_internal_falls_back_to_httpx_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delattr(httpcore.AsyncConnectionPool, "_assign_requests_to_connections")
    caplog.set_level(logging.INFO, logger="router.transport")
    clients = [http_client(), http_client()]  # one per provider: the warning is still said once
    assert not any(is_fast(client) for client in clients)
    [(level, message)] = transport_lines(caplog)
    assert level == logging.WARNING
    assert f"httpcore {httpcore.__version__}" in message
    assert "httpcore.AsyncConnectionPool._assign_requests_to_connections()" in message
    assert "httpx's own transport" in message
    for client in clients:
        await client.aclose()


def _without_connections(original: Callable[..., None]) -> Callable[..., None]:
    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        del self._connections

    return init


async def _no_hook(self: Any, request: Any) -> Any:  # a pool that assigns requests some other way
    raise NotImplementedError


BREAKAGES: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], str]] = {
    "httptools": (lambda m: m.setitem(sys.modules, "httptools", None), "httptools (it does not import"),
    "parser method": (
        lambda m: m.setattr(httptools, "HttpResponseParser", type("HttpResponseParser", (), {"feed_data": None})),
        "httptools.HttpResponseParser.set_dangerous_leniencies",  # an older parser without leniencies
    ),
    "public name": (lambda m: m.delattr(httpcore, "ConnectionNotAvailable"), "httpcore.ConnectionNotAvailable"),
    "interface method": (
        lambda m: m.delattr(httpcore.AsyncConnectionInterface, "has_expired"),
        "httpcore.AsyncConnectionInterface.has_expired()",
    ),
    "stream method": (lambda m: m.delattr(httpcore.AsyncNetworkStream, "start_tls"), "AsyncNetworkStream.start_tls"),
    "hook not called": (
        lambda m: m.setattr(httpcore.AsyncConnectionPool, "handle_async_request", _no_hook),
        "handle_async_request calling _assign_requests_to_connections",
    ),
    "pool state": (
        lambda m: m.setattr(httpcore.AsyncConnectionPool, "__init__",
                            _without_connections(httpcore.AsyncConnectionPool.__init__)),
        "httpcore.AsyncConnectionPool()._connections (list)",
    ),
    "pool request": (lambda m: m.delattr(AsyncPoolRequest, "is_queued"), "AsyncPoolRequest.is_queued()"),
    "httpx's _pool": (
        lambda m: m.setattr(httpx.AsyncHTTPTransport, "aclose", _no_hook),
        "httpx.AsyncHTTPTransport.aclose using self._pool",
    ),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_the_check_names_what_is_missing(monkeypatch: pytest.MonkeyPatch, breakage: str) -> None:
    breaks, named = BREAKAGES[breakage]
    breaks(monkeypatch)
    reason = support.fast_transport_supported()
    assert reason is not None and named in reason


def test_the_setting_is_validated() -> None:
    assert make_config().server.upstream_transport == "fast"
    assert make_config(upstream_transport="httpx").server.upstream_transport == "httpx"
    with pytest.raises(ConfigError) as caught:
        make_config(upstream_transport="Httpx")
    assert "server.upstream_transport" in str(caught.value) and "'httpx'" in str(caught.value)
    with pytest.raises(InvalidField):
        ServerConfig(upstream_transport="h11")  # type: ignore[arg-type]


async def test_the_runtime_gives_each_provider_the_configured_transport() -> None:
    for choice, fast in (("fast", True), ("httpx", False)):
        runtime = Runtime(make_config(upstream_transport=choice), CLASSES)
        assert [is_fast(p.context.http) for p in runtime.providers.values()] == [fast, fast]
        await runtime.aclose()
