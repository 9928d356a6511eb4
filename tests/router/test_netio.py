"""The upstream socket layer (router.transport.netio) against real sockets on 127.0.0.1, plain and TLS.

Every scenario runs on CPython's own event loop and on uvloop (what `router serve` runs on):
their transports differ in exactly the places this layer touches (connect with a given
socket, TLS upgrade, flow control).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import trustme
import uvloop

from router.transport import netio

LOOPS = pytest.mark.parametrize("loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"])
LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=60.0)


def run(loop_factory: Callable[[], asyncio.AbstractEventLoop], scenario: Callable[[], Awaitable[None]]) -> None:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(asyncio.wait_for(scenario(), 20))


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    """A tiny HTTP/1.1 server on 127.0.0.1 that counts connections; `handler` answers each request."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length:
                    await reader.readexactly(length)
                await self.handler(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def respond(writer: asyncio.StreamWriter, body: bytes = b"ok") -> None:
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
    await writer.drain()


def client(**kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=netio.transport(LIMITS, **kwargs), timeout=5.0)


@LOOPS
def test_a_streamed_body_arrives_piece_by_piece_as_the_server_writes_it(loop_factory: Any) -> None:
    async def scenario() -> None:
        seen = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunk(b"data: one\n\n"))
            await writer.drain()
            await seen.wait()  # the second piece only after the client has the first
            writer.write(chunk(b"data: two\n\n") + b"0\r\n\r\n")
            await writer.drain()

        async with Server(handler) as server, client() as http:
            async with http.stream("POST", f"http://127.0.0.1:{server.port}/", content=b"{}") as response:
                pieces = []
                async for piece in response.aiter_raw():
                    pieces.append(piece)
                    seen.set()
            assert pieces == [b"data: one\n\n", b"data: two\n\n"]

    run(loop_factory, scenario)


@LOOPS
def test_keep_alive_reuses_one_connection_and_survives_the_server_closing_it(loop_factory: Any) -> None:
    async def scenario() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await respond(writer)

        async with Server(handler) as server, client() as http:
            for _ in range(5):
                assert (await http.get(f"http://127.0.0.1:{server.port}/")).text == "ok"
            assert server.connections == 1

        closing = Server(lambda reader, writer: _respond_and_close(writer))
        async with closing, client() as http:
            for _ in range(3):  # each pooled connection is found closed (EOF seen), and replaced
                assert (await http.get(f"http://127.0.0.1:{closing.port}/")).text == "ok"
                await asyncio.sleep(0.05)
            assert closing.connections == 3

    run(loop_factory, scenario)


async def _respond_and_close(writer: asyncio.StreamWriter) -> None:
    await respond(writer)
    writer.close()


@LOOPS
def test_failures_become_httpx_errors(loop_factory: Any) -> None:
    async def scenario() -> None:
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
        async with client() as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"http://127.0.0.1:{port}/")

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(10)

        async with Server(silent) as server:
            async with httpx.AsyncClient(transport=netio.transport(LIMITS), timeout=httpx.Timeout(5.0, read=0.2)) as http:
                with pytest.raises(httpx.ReadTimeout):
                    await http.get(f"http://127.0.0.1:{server.port}/")

        async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
            await writer.drain()
            writer.transport.abort()

        async with Server(cut) as server, client() as http:
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                await http.get(f"http://127.0.0.1:{server.port}/")

    run(loop_factory, scenario)


@LOOPS
def test_large_bodies_both_ways_with_flow_control(loop_factory: Any) -> None:
    size = 8 * netio.HIGH_WATER

    async def scenario() -> None:
        received: list[int] = []

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            received.append(1)
            body = bytes(range(256)) * (size // 256)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body))
            for start in range(0, len(body), 1 << 16):
                writer.write(body[start : start + (1 << 16)])
                await writer.drain()

        upload = b"u" * size  # bigger than any socket buffer: the write must wait for the server to read
        async with Server(handler) as server, client() as http:
            async with http.stream("POST", f"http://127.0.0.1:{server.port}/", content=upload) as response:
                total, slow = 0, True
                async for piece in response.aiter_raw():
                    total += len(piece)
                    if slow:  # a slow consumer at first: the socket is paused, not buffered without end
                        await asyncio.sleep(0.2)
                        slow = False
            assert total == size and received == [1]

    run(loop_factory, scenario)


@LOOPS
def test_buffering_is_bounded_for_a_slow_reader(loop_factory: Any) -> None:
    async def scenario() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            for _ in range(64):
                writer.write(b"x" * (1 << 16))
                await writer.drain()

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        try:
            port = server.sockets[0].getsockname()[1]
            stream = await netio.AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
            await asyncio.sleep(0.3)  # the server pushes 4 MB; nobody reads
            protocol = stream._protocol  # type: ignore[attr-defined]
            assert protocol.reading_paused
            assert protocol.buffered <= netio.HIGH_WATER + (1 << 18)
            total = 0
            while total < 64 * (1 << 16):
                total += len(await stream.read(1 << 16, timeout=5))
            assert not protocol.reading_paused
            await stream.aclose()
        finally:
            server.close()

    run(loop_factory, scenario)


@LOOPS
def test_a_read_that_is_cancelled_leaves_the_stream_usable(loop_factory: Any) -> None:
    async def scenario() -> None:
        go = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await go.wait()
            writer.write(b"late")
            await writer.drain()
            await asyncio.sleep(1)

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        try:
            stream = await netio.AsyncioBackend().connect_tcp("127.0.0.1", server.sockets[0].getsockname()[1])
            reading = asyncio.ensure_future(stream.read(100))
            await asyncio.sleep(0.05)
            reading.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reading
            go.set()
            assert await stream.read(100, timeout=5) == b"late"
            assert stream.get_extra_info("is_readable") is False
            await stream.aclose()
        finally:
            server.close()

    run(loop_factory, scenario)


@LOOPS
def test_a_long_burst_of_buffered_reads_lets_other_tasks_run(loop_factory: Any) -> None:
    async def scenario() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(b"y" * (4 * netio.YIELD_EVERY))
            await writer.drain()
            await asyncio.sleep(1)

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        try:
            stream = await netio.AsyncioBackend().connect_tcp("127.0.0.1", server.sockets[0].getsockname()[1])
            while stream._protocol.buffered < netio.HIGH_WATER:  # type: ignore[attr-defined]
                await asyncio.sleep(0.01)
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    ticks += 1
                    await asyncio.sleep(0)

            task = asyncio.ensure_future(ticker())
            await asyncio.sleep(0)
            before = ticks
            total = 0
            while total < netio.HIGH_WATER:
                total += len(await stream.read(1 << 12, timeout=5))  # every read finds data waiting
            assert ticks - before >= netio.HIGH_WATER // netio.YIELD_EVERY - 1
            task.cancel()
            await stream.aclose()
        finally:
            server.close()

    run(loop_factory, scenario)


@LOOPS
def test_tls_through_httpx(loop_factory: Any) -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)

    async def scenario() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await respond(writer, b"secret handshake")

        async with Server(handler, tls=server_context) as server:
            async with client(ssl_context=client_context) as http:
                for _ in range(3):
                    response = await http.get(f"https://127.0.0.1:{server.port}/")
                    assert response.text == "secret handshake"
                assert server.connections == 1
            async with client() as untrusting:  # the system's CAs do not know this one
                with pytest.raises(httpx.ConnectError):
                    await untrusting.get(f"https://127.0.0.1:{server.port}/")

    run(loop_factory, scenario)


@LOOPS
def test_a_host_name_connects_through_its_addresses(loop_factory: Any) -> None:
    async def scenario() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await respond(writer)

        async with Server(handler) as server, client() as http:  # "localhost" may try ::1 first: nothing listens there
            assert (await http.get(f"http://localhost:{server.port}/")).text == "ok"

    run(loop_factory, scenario)


def test_addresses_alternate_between_families() -> None:
    v6 = [(socket.AF_INET6, 1, 6, "", (f"::{i}", 1, 0, 0)) for i in (1, 2)]
    v4 = [(socket.AF_INET, 1, 6, "", (f"10.0.0.{i}", 1)) for i in (1, 2, 3)]
    ordered = netio._interleave([*v6, *v4])
    assert [info[4][0] for info in ordered] == ["::1", "10.0.0.1", "::2", "10.0.0.2", "10.0.0.3"]
