"""The upstream socket layer: an httpcore network backend on plain asyncio protocols.

Why not httpcore's default (anyio) backend: when a backend paces its stream, one event per
read, every read is the whole cost of an event, and anyio's read path spends it on bookkeeping.
Each `receive` enters a `fail_after` cancel scope, asks sniffio which event loop runs, and
pauses then resumes the transport's reading (two `epoll_ctl` calls). On Python 3.11 every
`asyncio.current_task()`/`get_running_loop()` behind that is also a `getpid()` system call.
A profile of paced streams put a third of the router's CPU there
(docs/performance.md). Here the protocol keeps reading into a buffer, a read that finds
data returns it at once, and a read that must wait parks on one future with one timer.

This module moves bytes: it connects (racing a host's addresses), starts TLS with the context
it is given, reads and writes, and raises httpcore's own exceptions so httpx maps them as it
always does. HTTP itself is `router.transport.http1`'s. `transport()` puts the two together
under httpx: httpx's transport, its pool replaced by an `http1.Pool` on this backend.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from asyncio.staggered import staggered_race
from collections import deque
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from router.transport import http1

HIGH_WATER = 1 << 20
"""Stop reading from the socket when this much is buffered and unread (a slow consumer)."""
LOW_WATER = 1 << 18
"""... and start again once the buffer is back under this."""
YIELD_EVERY = 1 << 18
"""Bytes handed out without waiting before a read lets other tasks run (fairness during bursts)."""
HAPPY_EYEBALLS_DELAY = 0.25
"""Seconds before racing the next address of a host (RFC 8305's recommendation)."""


class _Protocol(asyncio.Protocol):
    """Buffers what the socket delivers and wakes the one reader or writer waiting on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.eof = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.reader: asyncio.Future[bool] | None = None
        self.drainer: asyncio.Future[bool] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        _wake(self.reader)

    def eof_received(self) -> bool:
        self.eof = True
        _wake(self.reader)
        return False  # close the transport: httpcore never half-closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        _wake(self.reader)
        _wake(self.drainer)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        _wake(self.drainer)

    def take(self, max_bytes: int) -> bytes:
        """Up to `max_bytes` of what is buffered (without copying when one chunk fits)."""
        chunks = self.chunks
        first = chunks[0]
        if len(first) <= max_bytes and (len(chunks) == 1 or len(first) + len(chunks[1]) > max_bytes):
            chunks.popleft()
            data = first
        else:
            parts, size = [], 0
            while chunks and size < max_bytes:
                chunk = chunks.popleft()
                if size + len(chunk) > max_bytes:
                    cut = max_bytes - size
                    chunks.appendleft(chunk[cut:])
                    chunk = chunk[:cut]
                parts.append(chunk)
                size += len(chunk)
            data = b"".join(parts)
        self.buffered -= len(data)
        if self.reading_paused and self.buffered < LOW_WATER and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        return data


def _wake(waiter: asyncio.Future[bool] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(True)


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection: reads return buffered bytes without suspending, or wait on one future."""

    def __init__(self, transport: asyncio.Transport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._loop = protocol.loop
        self._unyielded = 0

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if protocol.buffered:
            self._unyielded += protocol.buffered
            if self._unyielded >= YIELD_EVERY:  # a long burst: let other streams run between reads
                self._unyielded = 0
                await asyncio.sleep(0)
        else:
            self._unyielded = 0
            while not protocol.buffered:
                if protocol.eof:
                    if protocol.error is not None:
                        raise httpcore.ReadError(str(protocol.error) or type(protocol.error).__name__)
                    return b""
                if not await self._wait(timeout):
                    raise httpcore.ReadTimeout(f"no data from the upstream in {timeout} s")
        return protocol.take(max_bytes)

    async def _wait(self, timeout: float | None, slot: str = "reader") -> bool:
        """Park on one future in the protocol's `slot` ("reader" or "drainer") until it has news;
        False when `timeout` passed first."""
        waiter: asyncio.Future[bool] = self._loop.create_future()
        setattr(self._protocol, slot, waiter)
        timer = self._loop.call_later(timeout, _expire, waiter) if timeout is not None else None
        try:
            return await waiter
        finally:
            setattr(self._protocol, slot, None)
            if timer is not None:
                timer.cancel()

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        if self._transport.is_closing():
            raise httpcore.WriteError(str(protocol.error or "the connection is closed"))
        self._transport.write(buffer)
        while protocol.writing_paused:
            if protocol.eof:
                raise httpcore.WriteError(str(protocol.error or "the connection closed while writing"))
            if not await self._wait(timeout, "drainer"):
                raise httpcore.WriteTimeout(f"the upstream took no data for {timeout} s")

    async def aclose(self) -> None:
        if not self._transport.is_closing():
            self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            tls = await asyncio.wait_for(
                self._loop.start_tls(self._transport, self._protocol, ssl_context, server_hostname=server_hostname),
                timeout,
            )
        except TimeoutError:
            self._transport.abort()
            raise httpcore.ConnectTimeout(f"TLS handshake with {server_hostname} took over {timeout} s") from None
        except (OSError, ssl.SSLError) as exc:
            self._transport.abort()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from None
        if tls is None:  # the loop gave up on the connection during the handshake
            raise httpcore.ConnectError(f"the connection to {server_hostname} closed during the TLS handshake")
        self._protocol.transport = tls
        return AsyncioStream(tls, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle pooled connection with news is one the server closed
            return bool(self._protocol.buffered) or self._protocol.eof
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connects with asyncio's own transports (uvloop's when uvicorn runs on it)."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            sock = await asyncio.wait_for(_connect_socket(loop, host, port, local_address), timeout)
            for option in socket_options or ():
                sock.setsockopt(*option)
            transport, protocol = await loop.create_connection(lambda: _Protocol(loop), sock=sock)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"connecting to {host}:{port} took over {timeout} s") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from None
        return AsyncioStream(transport, protocol)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await asyncio.wait_for(
                loop.create_unix_connection(lambda: _Protocol(loop), path), timeout
            )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"connecting to {path} took over {timeout} s") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from None
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connect_socket(
    loop: asyncio.AbstractEventLoop, host: str, port: int, local_address: str | None
) -> socket.socket:
    """A connected non-blocking socket: every address of `host` raced, staggered (happy eyeballs).

    The loop's own `create_connection` does this on CPython's loop but not on uvloop, and a
    host whose IPv6 route silently drops packets must not cost the whole connect timeout.
    """
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if not infos:
        raise OSError(f"could not resolve {host}")
    ordered = _interleave(infos)
    errors: list[OSError] = []

    async def attempt(info: tuple[Any, ...]) -> socket.socket:
        family, kind, proto, _, address = info
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            if local_address is not None:
                sock.bind((local_address, 0))
            await loop.sock_connect(sock, address)
        except BaseException as exc:
            sock.close()
            if isinstance(exc, OSError):
                errors.append(exc)
            raise
        return sock

    winner, _, _ = await staggered_race(
        [functools.partial(attempt, info) for info in ordered],
        HAPPY_EYEBALLS_DELAY if len(ordered) > 1 else None,
    )
    if winner is None:
        if len(errors) == 1:
            raise errors[0]
        raise OSError(f"could not connect to {host}:{port}: " + "; ".join(str(e) for e in errors))
    sock: socket.socket = winner
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _interleave(infos: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Addresses alternating between families, the resolver's first family first (RFC 8305)."""
    first = infos[0][0]
    preferred = [i for i in infos if i[0] == first]
    others = [i for i in infos if i[0] != first]
    ordered: list[tuple[Any, ...]] = []
    for index in range(max(len(preferred), len(others))):
        ordered += preferred[index : index + 1] + others[index : index + 1]
    return ordered


def transport(limits: httpx.Limits, ssl_context: ssl.SSLContext | None = None) -> httpx.AsyncHTTPTransport:
    """httpx's own transport (its request/response and error mapping), with our pool on `AsyncioBackend`.

    httpx builds its connection pool without a way to pass a network backend, so the pool is
    built again here with the same settings and put in the transport's private `_pool` (which
    `router.transport.support` checks is still where httpx keeps it).
    """
    ssl_context = ssl_context or httpx.create_ssl_context()
    result = httpx.AsyncHTTPTransport(limits=limits, verify=ssl_context)  # given, not built twice
    result._pool = http1.Pool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=AsyncioBackend(),
    )
    return result
