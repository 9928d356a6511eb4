"""router.transport.http1 (our HTTP/1.1 connection, replies parsed by llhttp) against raw servers on 127.0.0.1.

Most servers here send exact bytes, often split at chosen or random points, so the parser sees
every framing the wire allows. Connection reuse is checked by counting what the server accepted.
The last tests compare, byte string by byte string, what httpx makes of a reply through our
transport and through its own (httpcore's h11 connection).

Every scenario runs on CPython's own event loop and on uvloop (what `router serve` runs on),
except the comparison, which is about parsing and runs on uvloop.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import random
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Self

import httpcore
import httpx
import pytest
import uvloop
from httpcore._async.connection_pool import AsyncPoolRequest

from router.transport import http1, netio
from router.transport.body import body_chunks

LOOPS = pytest.mark.parametrize(
    "loop_factory", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"]
)
LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=60.0)


def run(loop_factory: Callable[[], asyncio.AbstractEventLoop], scenario: Callable[[], Awaitable[None]]) -> None:
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(asyncio.wait_for(scenario(), 20))


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()  # unused on plain http: built once rather than per client


def client(limits: httpx.Limits = LIMITS, timeout: float | httpx.Timeout = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=netio.transport(limits, ssl_context=_ssl_context()), timeout=timeout)


def reference_client() -> httpx.AsyncClient:
    """httpx's default transport: httpcore's own HTTP/1.1 connection (h11) on anyio."""
    return httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(limits=LIMITS, verify=_ssl_context()), timeout=5.0)


def pool_of(http: httpx.AsyncClient) -> http1.Pool:
    transport = http._transport
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    pool = transport._pool
    assert isinstance(pool, http1.Pool)
    return pool


def idle_connections(http: httpx.AsyncClient) -> int:
    return sum(1 for connection in pool_of(http).connections if connection.is_idle())


@dataclass
class Seen:
    """One request as the server received it."""

    connection: int
    head: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes

    @property
    def method(self) -> bytes:
        return self.head.split(b" ", 1)[0]

    @property
    def target(self) -> bytes:
        return self.head.split(b" ", 2)[1]

    def header(self, name: bytes) -> bytes | None:
        values = [value for key, value in self.headers if key.lower() == name]
        return values[0] if values else None


Handler = Callable[[Seen, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader, connection: int) -> Seen:
    """A request head, then its body by Content-Length or de-chunked (strictly: bad framing raises)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name, value.strip()))
    seen = Seen(connection, head, headers, b"")
    length = seen.header(b"content-length")
    if seen.header(b"transfer-encoding") == b"chunked":
        assert length is None, "a chunked request must not carry a Content-Length"
        parts = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line[:-2].split(b";")[0], 16)
            if size == 0:
                assert await reader.readuntil(b"\r\n") == b"\r\n"  # no trailers from httpx
                break
            data = await reader.readexactly(size + 2)
            assert data.endswith(b"\r\n"), "a chunk must end in CRLF"
            parts.append(data[:-2])
        seen.body = b"".join(parts)
    elif length is not None:
        seen.body = await reader.readexactly(int(length))
    return seen


class Server:
    """A raw HTTP/1.1 server on 127.0.0.1: counts connections, records requests, `handler` answers each.

    The handler writes whatever bytes it likes; closing the writer ends the connection."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.requests: list[Seen] = []
        self.received_heads: list[bytes] = []  # also what arrived without making a whole request
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> Self:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        self.writers.append(writer)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # every piece its own segment
        try:
            while not writer.is_closing():
                try:
                    seen = await read_request(reader, number)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        self.received_heads.append(exc.partial)
                    return
                self.received_heads.append(seen.head)
                self.requests.append(seen)
                await self.handler(seen, writer)
        except ConnectionError:
            pass
        finally:
            writer.close()


def replies(*raw: bytes, close: bool = False) -> Handler:
    """A handler answering the n-th request with the n-th reply (the last one from then on)."""
    count = 0

    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        writer.write(raw[min(count, len(raw) - 1)])
        count += 1
        await writer.drain()
        if close:
            writer.close()

    return handler


async def trickle(writer: asyncio.StreamWriter, data: bytes, cuts: list[int], pause: float = 0.002) -> None:
    """`data` written in pieces cut at `cuts`, each drained and given time to arrive on its own."""
    start = 0
    for cut in [*cuts, len(data)]:
        if cut > start:
            writer.write(data[start:cut])
            await writer.drain()
            await asyncio.sleep(pause)
        start = cut


def chunk(data: bytes, extension: bytes = b"") -> bytes:
    return b"%x%s\r\n%s\r\n" % (len(data), extension, data)


def ok(body: bytes = b"ok") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


NEXT = ok(b"next")


# -- framing of replies -------------------------------------------------------------------------------


CHUNKED_REPLY = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Head: h\r\n\r\n"
    + chunk(b"hello", b';name="quoted;value"')
    + chunk(b", ", b";flag")
    + b"00000A;a=b\r\n0123456789\r\n"  # upper-case hex with leading zeros
    + chunk(b"world")
    + b"0;last=1\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n"
)


@LOOPS
def test_a_chunked_reply_with_extensions_and_trailers_and_the_connection_is_reused(loop_factory: Any) -> None:
    async def scenario() -> None:
        async with Server(replies(CHUNKED_REPLY)) as server, client() as http:
            for _ in range(3):
                response = await http.get(server.url + "/")
                assert response.status_code == 200
                assert response.content == b"hello, 0123456789world"
                assert response.headers.raw == [(b"Transfer-Encoding", b"chunked"), (b"X-Head", b"h")]  # no trailers
            assert server.connections == 1
            assert len(server.requests) == 3

    run(loop_factory, scenario)


@LOOPS
def test_a_chunked_reply_split_at_every_byte_is_read_exactly(loop_factory: Any) -> None:
    async def scenario() -> None:
        async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
            await trickle(writer, CHUNKED_REPLY, list(range(1, len(CHUNKED_REPLY))), pause=0)

        async with Server(handler) as server, client() as http:
            for _ in range(2):
                response = await http.get(server.url + "/")
                assert response.content == b"hello, 0123456789world"
            assert server.connections == 1

    run(loop_factory, scenario)


@LOOPS
def test_informational_replies_before_the_final_one_are_skipped(loop_factory: Any) -> None:
    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n"
        b"HTTP/1.1 200 Fine Thanks\r\nContent-Length: 5\r\nX-Final: 1\r\n\r\nhello"
    )

    async def scenario() -> None:
        async with Server(replies(raw)) as server, client() as http:
            for _ in range(2):
                response = await http.get(server.url + "/")
                assert response.status_code == 200
                assert response.headers.raw == [(b"Content-Length", b"5"), (b"X-Final", b"1")]
                assert response.reason_phrase == "Fine Thanks"
                assert response.http_version == "HTTP/1.1"
                assert response.content == b"hello"
            assert server.connections == 1

        async def split(seen: Seen, writer: asyncio.StreamWriter) -> None:  # the hints arrive before the rest
            end_of_hints = raw.index(b"HTTP/1.1 200")
            await trickle(writer, raw, [10, end_of_hints - 3, end_of_hints, end_of_hints + 20], pause=0.01)

        async with Server(split) as server, client() as http:
            response = await http.get(server.url + "/")
            assert (response.status_code, response.content) == (200, b"hello")
            assert response.headers.raw == [(b"Content-Length", b"5"), (b"X-Final", b"1")]

    run(loop_factory, scenario)


@LOOPS
def test_a_reply_written_one_byte_at_a_time(loop_factory: Any) -> None:
    body = b'{"content": "one byte at a time"}'
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    async def scenario() -> None:
        async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
            await trickle(writer, raw, list(range(1, len(raw))), pause=0.0005)

        async with Server(handler) as server, client() as http:
            for _ in range(2):
                response = await http.get(server.url + "/")
                assert response.status_code == 200
                assert response.headers["content-type"] == "application/json"
                assert response.content == body
            assert server.connections == 1

    run(loop_factory, scenario)


@LOOPS
def test_a_reason_phrase_split_across_reads_is_kept_whole(loop_factory: Any) -> None:
    raw = b"HTTP/1.1 200 Fine Thanks\r\nContent-Length: 2\r\n\r\nok"

    async def scenario() -> None:
        async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
            await trickle(writer, raw, [raw.index(b"Thanks")], pause=0.02)

        async with Server(handler) as server, client() as http:
            response = await http.get(server.url + "/")
            assert response.content == b"ok"
            assert response.reason_phrase == "Fine Thanks"

    run(loop_factory, scenario)


@LOOPS
def test_an_http_1_0_reply_without_length_runs_until_close_and_is_not_reused(loop_factory: Any) -> None:
    body = b"all of this, " * 1000

    async def scenario() -> None:
        async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
            await trickle(writer, b"HTTP/1.0 200 OK\r\nX-A: 1\r\n\r\n" + body, [10, 40, 5000], pause=0.01)
            writer.close()

        async with Server(handler) as server, client() as http:
            for count in (1, 2):
                response = await http.get(server.url + "/")
                assert response.http_version == "HTTP/1.0"
                assert response.content == body
                assert server.connections == count
            assert idle_connections(http) == 0

    run(loop_factory, scenario)


@LOOPS
def test_connection_close_in_a_reply_or_a_request_stops_reuse(loop_factory: Any) -> None:
    async def scenario() -> None:
        closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye"
        async with Server(replies(closing)) as server, client() as http:
            for count in (1, 2):
                assert (await http.get(server.url + "/")).content == b"bye"
                assert server.connections == count

        async with Server(replies(ok())) as server, client() as http:  # the server would keep it: we asked not to
            for count in (1, 2):
                assert (await http.get(server.url + "/", headers={"Connection": "close"})).content == b"ok"
                assert server.connections == count
            assert (await http.get(server.url + "/")).content == b"ok"
            assert (await http.get(server.url + "/")).content == b"ok"
            assert server.connections == 3

    run(loop_factory, scenario)


TRUNCATED = {
    "content-length": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial",
    "chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(b"first") + b"5\r\nwor",
}


@LOOPS
@pytest.mark.parametrize("reader", ["aiter_raw", "body_chunks"])
@pytest.mark.parametrize("framing", sorted(TRUNCATED))
def test_a_body_cut_short_is_an_error_and_the_connection_is_dropped(
    loop_factory: Any, reader: str, framing: str
) -> None:
    async def scenario() -> None:
        async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
            if seen.connection == 1:
                await trickle(writer, TRUNCATED[framing], [], pause=0.02)
                writer.close()  # a clean close (FIN): the reply simply stops
            else:
                writer.write(NEXT)

        async with Server(handler) as server, client() as http:
            pieces = []
            async with http.stream("GET", server.url + "/") as response:
                assert response.status_code == 200
                chunks = response.aiter_raw() if reader == "aiter_raw" else body_chunks(response)
                with pytest.raises(httpx.RemoteProtocolError):
                    async for piece in chunks:
                        pieces.append(piece)
                assert all(connection.is_closed() for connection in pool_of(http).connections)  # at once
            assert b"".join(pieces) == (b"partial" if framing == "content-length" else b"firstwor")
            assert idle_connections(http) == 0
            assert (await http.get(server.url + "/")).content == b"next"
            assert server.connections == 2

    run(loop_factory, scenario)


@LOOPS
def test_a_malformed_reply_is_a_remote_protocol_error(loop_factory: Any) -> None:
    bad = [
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header Name: 1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        b"",  # closed without a word
    ]

    async def scenario() -> None:
        for raw in bad:

            async def handler(seen: Seen, writer: asyncio.StreamWriter, raw: bytes = raw) -> None:
                writer.write(raw if seen.connection == 1 else NEXT)
                await writer.drain()
                if not raw:
                    writer.close()

            async with Server(handler) as server, client() as http:
                with pytest.raises(httpx.RemoteProtocolError):
                    await http.get(server.url + "/")
                assert idle_connections(http) == 0
                assert (await http.get(server.url + "/")).content == b"next", raw
                assert server.connections == 2

    run(loop_factory, scenario)


@LOOPS
def test_a_reply_head_over_the_limit_is_refused_without_waiting_for_its_end(loop_factory: Any) -> None:
    async def scenario() -> None:
        async def endless(seen: Seen, writer: asyncio.StreamWriter) -> None:
            writer.write(b"HTTP/1.1 200 OK\r\n")
            for index in range(3 * http1.MAX_HEAD // 1024):  # 300 KiB of headers and no end to them
                writer.write(b"X-Pad-%d: %s\r\n" % (index, b"p" * 1000))
            await writer.drain()
            await asyncio.sleep(10)

        async with Server(endless) as server, client(timeout=10.0) as http:
            started = time.monotonic()
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url + "/")
            assert time.monotonic() - started < 2

        async def one_long_line(seen: Seen, writer: asyncio.StreamWriter) -> None:
            writer.write(b"HTTP/1.1 200 OK\r\nX-Long: " + b"l" * (2 * http1.MAX_HEAD))
            await writer.drain()
            await asyncio.sleep(10)

        async with Server(one_long_line) as server, client(timeout=10.0) as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url + "/")

        large_but_allowed = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 1000) for i in range(http1.MAX_HEAD // 1024 - 10))
        raw = b"HTTP/1.1 200 OK\r\n" + large_but_allowed + b"Content-Length: 2\r\n\r\nok"

        async def under_the_limit(seen: Seen, writer: asyncio.StreamWriter) -> None:
            await trickle(writer, raw, list(range(8192, len(raw), 8192)), pause=0.001)

        async with Server(under_the_limit) as server, client() as http:
            response = await http.get(server.url + "/")
            assert response.content == b"ok"
            assert len(response.headers) == http1.MAX_HEAD // 1024 - 9

    run(loop_factory, scenario)


@LOOPS
def test_bytes_after_a_complete_reply_cost_the_connection_but_not_the_reply(loop_factory: Any) -> None:
    trailing = {
        "garbage in the same read": ok(b"intact") + b"\x00garbage\r\n",
        "a second reply in the same read": ok(b"intact") + ok(b"unasked"),
        "garbage arriving later": ok(b"intact"),
    }

    async def scenario() -> None:
        for name, raw in trailing.items():

            async def handler(seen: Seen, writer: asyncio.StreamWriter, raw: bytes = raw, name: str = name) -> None:
                if seen.connection > 1:
                    writer.write(NEXT)
                    return
                writer.write(raw)
                await writer.drain()
                if name == "garbage arriving later":
                    await asyncio.sleep(0.02)
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nunasked")

            async with Server(handler) as server, client() as http:
                response = await http.get(server.url + "/")
                assert (response.status_code, response.content) == (200, b"intact"), name
                await asyncio.sleep(0.05)
                assert (await http.get(server.url + "/")).content == b"next", name
                assert server.connections == 2, name

    run(loop_factory, scenario)


@LOOPS
def test_replies_without_a_body_return_at_once_and_keep_the_connection(loop_factory: Any) -> None:
    async def scenario() -> None:
        async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
            if seen.method == b"HEAD" and seen.target == b"/chunked":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            elif seen.method == b"HEAD":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n\r\n")
            elif seen.target == b"/204":
                writer.write(b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n")
            elif seen.target == b"/304":
                writer.write(b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 10\r\n\r\n')
            else:
                writer.write(ok())

        async with Server(handler) as server, client(timeout=10.0) as http:
            for _ in range(2):
                started = time.monotonic()
                head = await http.head(server.url + "/")
                assert (head.status_code, head.headers["content-length"], head.content) == (200, "10", b"")
                head = await http.head(server.url + "/chunked")
                assert (head.status_code, head.content) == (200, b"")
                assert time.monotonic() - started < 1  # nobody waited for ten bytes that never come
                empty = await http.get(server.url + "/204")
                assert (empty.status_code, empty.content) == (204, b"")
                unchanged = await http.get(server.url + "/304")
                assert (unchanged.status_code, unchanged.content, unchanged.headers["etag"]) == (304, b"", '"v1"')
                assert (await http.get(server.url + "/")).content == b"ok"
            assert server.connections == 1
            assert len(server.requests) == 10

    run(loop_factory, scenario)


@LOOPS
def test_a_body_sent_with_a_head_reply_is_not_returned(loop_factory: Any) -> None:
    async def scenario() -> None:
        async def head_with_a_body(seen: Seen, writer: asyncio.StreamWriter) -> None:
            writer.write(ok(b"stray") if seen.method == b"HEAD" else NEXT)  # one write: one read on loopback

        async with Server(head_with_a_body) as server, client() as http:
            head = await http.head(server.url + "/")
            assert (head.status_code, head.headers["content-length"]) == (200, "5")
            assert head.content == b""
            assert (await http.get(server.url + "/")).content == b"next"
            assert server.connections == 2  # a connection that carried a stray body is not reused

    run(loop_factory, scenario)


# -- requests -------------------------------------------------------------------------------------------


@LOOPS
def test_a_request_that_could_split_the_message_never_reaches_the_wire(loop_factory: Any) -> None:
    async def scenario() -> None:
        async with Server(replies(ok())) as server, client() as http:
            for headers in (
                {"x-a": "1\r\nx-b: 2"},
                {"x-a": "1\nx-b: 2"},
                {"x-a": "1\rx-b: 2"},
                {"x-a": "1\x00"},
                {"x a": "1"},
                {"x-a:": "1"},
            ):
                with pytest.raises(httpx.LocalProtocolError):
                    await http.get(server.url + "/", headers=headers)
            with pytest.raises(httpx.LocalProtocolError):
                await http.request("GE T", server.url + "/")
            assert (await http.get(server.url + "/", headers={"x-a": "a fine value: with colons"})).content == b"ok"
            await asyncio.sleep(0.05)
            assert len(server.requests) == 1
            assert server.requests[0].header(b"x-a") == b"a fine value: with colons"
            assert not any(b"x-b" in head.lower() or b"GE T" in head for head in server.received_heads)

    run(loop_factory, scenario)


@LOOPS
def test_a_body_that_does_not_match_its_content_length_is_refused(loop_factory: Any) -> None:
    async def scenario() -> None:
        async def longer() -> AsyncIterator[bytes]:
            yield b"abc"
            yield b"def"

        async with Server(replies(ok())) as server, client() as http:
            # httpx keeps an explicit Content-Length over the one it would have computed
            short = http.build_request("POST", server.url + "/", content=b"abc", headers={"content-length": "5"})
            assert short.headers["content-length"] == "5"
            with pytest.raises(httpx.LocalProtocolError):
                await http.send(short)
            long = http.build_request("POST", server.url + "/", content=b"abcdef", headers={"content-length": "5"})
            with pytest.raises(httpx.LocalProtocolError):
                await http.send(long)
            streamed = http.build_request("POST", server.url + "/", content=longer(), headers={"content-length": "4"})
            with pytest.raises(httpx.LocalProtocolError):
                await http.send(streamed)
            for bad in ("x", "-3", "3 3"):
                malformed = http.build_request("POST", server.url + "/", content=b"abc", headers={"content-length": bad})
                with pytest.raises(httpx.LocalProtocolError):
                    await http.send(malformed)
            await asyncio.sleep(0.05)
            assert server.requests == []  # no request was ever complete on the wire
            assert not any(b"abcdef" in head or b"abcd" in head for head in server.received_heads)
            assert (await http.post(server.url + "/", content=b"fine")).content == b"ok"
            assert server.requests[-1].body == b"fine"

    run(loop_factory, scenario)


@LOOPS
def test_a_streamed_request_body_is_sent_chunked_or_by_its_given_length(loop_factory: Any) -> None:
    pieces = [b"first ", b"", b"second ", b"x" * 100_000, b"", b" last"]

    async def generate() -> AsyncIterator[bytes]:
        for piece in pieces:
            await asyncio.sleep(0.001)
            yield piece

    async def scenario() -> None:
        async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
            writer.write(ok(b"%d" % len(seen.body)))

        async with Server(handler) as server, client() as http:
            response = await http.post(server.url + "/", content=generate())
            assert response.content == b"%d" % len(b"".join(pieces))
            seen = server.requests[0]
            assert seen.header(b"transfer-encoding") == b"chunked"
            assert seen.header(b"content-length") is None
            assert seen.body == b"".join(pieces)

            total = sum(map(len, pieces))
            response = await http.post(server.url + "/", content=generate(), headers={"Content-Length": str(total)})
            assert response.content == b"%d" % total
            seen = server.requests[1]
            assert seen.header(b"transfer-encoding") is None
            assert seen.body == b"".join(pieces)

            assert (await http.post(server.url + "/", content=b"")).content == b"0"
            assert server.requests[2].header(b"content-length") == b"0"
            assert server.connections == 1

    run(loop_factory, scenario)


@LOOPS
@pytest.mark.parametrize("body", ["bytes", "stream"])
@pytest.mark.parametrize("says_close", [True, False], ids=["connection-close", "no-connection-header"])
def test_an_early_answer_to_a_large_upload_is_returned_not_raised(
    loop_factory: Any, body: str, says_close: bool
) -> None:
    size = 8 * 1024 * 1024
    answer = b"HTTP/1.1 413 Payload Too Large\r\n%sContent-Length: 8\r\n\r\ntoo big!" % (
        b"Connection: close\r\n" if says_close else b""
    )

    async def stream() -> AsyncIterator[bytes]:
        piece = b"u" * 65536
        for _ in range(size // len(piece)):
            yield piece

    async def scenario() -> None:
        connections = 0

        async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            await reader.readuntil(b"\r\n\r\n")  # the head only: the body is never read
            writer.write(answer)
            await writer.drain()
            writer.close()  # with the upload unread: the client's side sees a reset while it writes

        server = await asyncio.start_server(refuse, "127.0.0.1", 0)
        try:
            url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
            async with client() as http:
                for count in (1, 2):
                    content: bytes | AsyncIterator[bytes] = b"u" * size if body == "bytes" else stream()
                    response = await http.post(url, content=content)
                    assert (response.status_code, response.content) == (413, b"too big!")
                    assert connections == count
        finally:
            server.close()

    run(loop_factory, scenario)


# -- the direct path: router.provider.body_chunks -----------------------------------------------------


@LOOPS
def test_body_chunks_reads_the_connection_directly_and_leaves_it_reusable(loop_factory: Any) -> None:
    pieces = [b"data: %d\n\n" % index for index in range(5)]

    async def scenario() -> None:
        got = asyncio.Event()

        async def paced(seen: Seen, writer: asyncio.StreamWriter) -> None:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
            for piece in pieces:
                got.clear()
                writer.write(chunk(piece))
                await writer.drain()
                await asyncio.wait_for(got.wait(), 5)  # the next piece only after the client had this one
            writer.write(b"0\r\n\r\n")

        async with Server(paced) as server, client() as http:
            for _ in range(3):
                async with http.stream("POST", server.url + "/", content=b"{}") as response:
                    assert http1.BODY in response.extensions
                    direct = []
                    async for piece in body_chunks(response):
                        direct.append(piece)
                        got.set()
                    assert not response.is_stream_consumed  # past httpx's layers, not through them
                assert direct == pieces
            async with http.stream("POST", server.url + "/", content=b"{}") as response:
                raw = []
                async for piece in response.aiter_raw():
                    raw.append(piece)
                    got.set()
            assert raw == pieces
            assert server.connections == 1

    run(loop_factory, scenario)


@LOOPS
def test_body_chunks_decodes_a_compressed_body(loop_factory: Any) -> None:
    text = b"a compressed body, " * 200
    compressed = gzip.compress(text)
    raw = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
        + chunk(compressed[:40])
        + chunk(compressed[40:])
        + b"0\r\n\r\n"
    )

    async def scenario() -> None:
        async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
            await trickle(writer, raw, [len(raw) // 2], pause=0.01)

        async with Server(handler) as server, client() as http:
            for _ in range(2):
                async with http.stream("GET", server.url + "/") as response:
                    body = b"".join([piece async for piece in body_chunks(response)])
                assert body == text
            assert server.connections == 1

    run(loop_factory, scenario)


@LOOPS
def test_body_chunks_raises_httpx_timeouts(loop_factory: Any) -> None:
    async def scenario() -> None:
        async def stalls(seen: Seen, writer: asyncio.StreamWriter) -> None:
            if seen.connection == 1:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
                await writer.drain()
                await asyncio.sleep(10)
            writer.write(NEXT)

        async with Server(stalls) as server, client(timeout=httpx.Timeout(5.0, read=0.2)) as http:  # only reads may time out
            async with http.stream("GET", server.url + "/") as response:
                pieces = []
                with pytest.raises(httpx.ReadTimeout):
                    async for piece in body_chunks(response):
                        pieces.append(piece)
                assert pieces == [b"abc"]
            assert (await http.get(server.url + "/")).content == b"next"
            assert server.connections == 2

    run(loop_factory, scenario)


# -- the pool -------------------------------------------------------------------------------------------


@LOOPS
def test_keep_alive_expires_and_a_connection_the_server_closed_is_replaced(loop_factory: Any) -> None:
    async def scenario() -> None:
        short = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=0.1)
        async with Server(replies(ok())) as server, client(short) as http:
            await http.get(server.url + "/")
            await http.get(server.url + "/")
            assert server.connections == 1  # within the expiry: reused
            await asyncio.sleep(0.3)
            assert (await http.get(server.url + "/")).content == b"ok"
            assert server.connections == 2

        async with Server(replies(ok(), close=True)) as server, client() as http:
            for count in (1, 2, 3):
                assert (await http.get(server.url + "/")).content == b"ok"
                await asyncio.sleep(0.05)  # the server's FIN arrives while the connection sits in the pool
                assert idle_connections(http) == 1
                assert server.connections == count

    run(loop_factory, scenario)


@LOOPS
def test_concurrent_requests_share_the_pool_within_its_limits(loop_factory: Any) -> None:
    async def scenario() -> None:
        async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(0.01)
            writer.write(ok(seen.target))

        async with Server(handler) as server, client() as http:
            for _ in range(2):
                responses = await asyncio.gather(*(http.get(server.url + f"/{index}") for index in range(30)))
                assert [response.content for response in responses] == [b"/%d" % index for index in range(30)]
            assert server.connections == LIMITS.max_connections

    run(loop_factory, scenario)


@LOOPS
@pytest.mark.parametrize("reader", ["aiter_raw", "body_chunks", "early exit"])
def test_a_reply_abandoned_mid_body_closes_its_connection(loop_factory: Any, reader: str) -> None:
    async def scenario() -> None:
        async def pauses(seen: Seen, writer: asyncio.StreamWriter) -> None:
            if seen.connection > 1:
                writer.write(NEXT)
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nbeginning")
            await writer.drain()
            await asyncio.sleep(0.1)
            writer.write(b"." * 91)  # the rest, once nobody reads it any more

        async with Server(pauses) as server, client() as http:
            started = asyncio.Event()

            async def read() -> None:
                async with http.stream("GET", server.url + "/") as response:
                    chunks = body_chunks(response) if reader == "body_chunks" else response.aiter_raw()
                    async for _ in chunks:
                        started.set()
                        if reader == "early exit":
                            break

            task = asyncio.ensure_future(read())
            waiting = asyncio.ensure_future(started.wait())
            await asyncio.wait([task, waiting], timeout=5, return_when=asyncio.FIRST_COMPLETED)
            if not started.is_set():
                waiting.cancel()
                await task  # raises whatever kept the body from arriving
                pytest.fail("the body never arrived")
            if reader != "early exit":
                begun = time.monotonic()
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert time.monotonic() - begun < 0.1
            else:
                await task
            assert idle_connections(http) == 0
            await asyncio.sleep(0.15)  # the rest of the first reply has come by now: it must not be read as a reply
            assert (await http.get(server.url + "/")).content == b"next"
            assert server.connections == 2

    run(loop_factory, scenario)


# -- against httpx's own transport ----------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    raw: bytes
    close: bool = False  # the server closes after sending (the body runs until then, or is cut short)
    error: bool = False  # httpx's own transport raises on it (checked, so that each case means what it says)


CASES: dict[str, Case] = {
    "content-length": Case(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world"),
    "chunked with extensions and trailers": Case(CHUNKED_REPLY),
    "1xx then 201": Case(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nLocation: /new\r\nContent-Length: 2\r\n\r\nok"
    ),
    "http/1.0 until close": Case(b"HTTP/1.0 200 OK\r\nX-A: 1\r\n\r\nuntil the very end", close=True),
    "http/1.1 until close": Case(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the close", close=True),
    "http/1.0 with content-length": Case(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc"),
    "204": Case(b"HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n"),
    "304 with content-length": Case(b'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 10\r\n\r\n'),
    "repeated header names": Case(
        b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\nSET-COOKIE: c=3\r\nContent-Length: 0\r\n\r\n"
    ),
    "values with spaces and colons": Case(
        b"HTTP/1.1 200 OK\r\nX-Url: http://h:1/p?q=a:b\r\nX-Spaced:  \t a  b\tc\r\nX-Empty:\r\n"
        b"X-Date: Tue, 15 Nov 1994 08:12:31 GMT\r\nContent-Length: 1\r\n\r\nx"
    ),
    "no reason phrase": Case(b"HTTP/1.1 404 \r\nContent-Length: 1\r\n\r\nx"),
    "empty chunked body": Case(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "malformed status line": Case(b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", error=True),
    "not http at all": Case(b"SSH-2.0-OpenSSH_9.6\r\n\r\n", error=True),
    "bad chunk size": Case(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", error=True
    ),
    "conflicting content-lengths": Case(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok", error=True
    ),
    "truncated content-length body": Case(
        b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\nonly part", close=True, error=True
    ),
    "truncated chunked body": Case(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(b"first") + b"9\r\nsec", close=True, error=True
    ),
    "truncated head": Case(b"HTTP/1.1 200 OK\r\nContent-Le", close=True, error=True),
    "nothing": Case(b"", close=True, error=True),
}

LENIENT: dict[str, Case] = {  # accepted as h11 accepts them (llhttp refuses them unless told)
    "trailing whitespace in a value": Case(b"HTTP/1.1 200 OK\r\nX-A: value  \r\nContent-Length: 0\r\n\r\n"),
    "obs-fold": Case(b"HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 0\r\n\r\n"),
    "bare LF line endings": Case(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok"),
}
CASES.update(LENIENT)

STRICTER: dict[str, bytes] = {  # refused where h11 lets them through: framing or status we will not guess at
    "repeated identical content-length": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
    "a transfer coding other than chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "a status below 100": b"HTTP/1.1 099 Weird\r\nContent-Length: 2\r\n\r\nok",
}

SEEDS = range(3)

Outcome = tuple[tuple[object, ...], object, int]
"""The reply (status, version, raw headers, body; or the exception's name), the next request's, connections."""


async def exchange(http: httpx.AsyncClient, case: Case, seed: int) -> Outcome:
    """What a client makes of `case` served with the seed's split points, then of a next request."""
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(case.raw)), min(rng.randint(0, 6), max(len(case.raw) - 1, 0))))

    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
        if seen.target == b"/next":
            writer.write(NEXT)
            return
        await trickle(writer, case.raw, cuts, pause=0.001)
        if case.close:
            writer.close()

    async with Server(handler) as server:
        first: tuple[object, ...]
        try:
            response = await http.get(server.url + "/case")
            first = (response.status_code, response.http_version, response.headers.raw, response.content)
        except httpx.HTTPError as exc:
            first = (type(exc).__name__,)
        await asyncio.sleep(0.005)
        try:
            second: object = (await http.get(server.url + "/next")).content
        except httpx.HTTPError as exc:
            second = type(exc).__name__
        return first, second, server.connections


async def compare(case: Case) -> None:
    async with client() as ours, reference_client() as reference:
        for seed in SEEDS:
            expected = await exchange(reference, case, seed)
            assert (len(expected[0]) == 1) == case.error, expected
            assert await exchange(ours, case, seed) == expected, f"seed {seed}"


@pytest.mark.parametrize("name", list(CASES))
def test_replies_come_out_as_through_httpx_own_transport(name: str) -> None:
    run(uvloop.new_event_loop, lambda: compare(CASES[name]))  # parsing does not depend on the loop


@pytest.mark.parametrize("name", list(STRICTER))
def test_ambiguous_framing_and_impossible_statuses_are_refused(name: str) -> None:
    async def scenario() -> None:
        async def handler(seen: Seen, writer: asyncio.StreamWriter) -> None:
            writer.write(NEXT if seen.target == b"/next" else STRICTER[name])

        async with Server(handler) as server, client() as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url + "/case")
            assert (await http.get(server.url + "/next")).content == b"next"
            assert server.connections == 2  # the refused reply's connection is not used again

    run(uvloop.new_event_loop, scenario)


# -- the pool's assignment ---------------------------------------------------------------------------


class StubConnection(httpcore.AsyncConnectionInterface):
    """A connection in a given state, counting how often the pool asks about it."""

    calls = 0

    def __init__(self, name: str, origin: httpcore.Origin, state: str = "idle", expired: bool = False) -> None:
        self.name, self.origin, self.state, self.expired = name, origin, state, expired

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        StubConnection.calls += 1
        return origin == self.origin

    def is_available(self) -> bool:
        StubConnection.calls += 1
        return self.state == "idle"

    def has_expired(self) -> bool:
        StubConnection.calls += 1
        return self.expired

    def is_idle(self) -> bool:
        StubConnection.calls += 1
        return self.state == "idle"

    def is_closed(self) -> bool:
        StubConnection.calls += 1
        return self.state == "closed"


ORIGINS = [httpcore.Origin(b"https", b"a.test", 443), httpcore.Origin(b"https", b"b.test", 443)]


def stub_pool(pool: httpcore.AsyncConnectionPool, rng: random.Random) -> list[Any]:
    """`pool` filled from `rng` with stub connections and requests; returns the requests."""
    made = 0

    def create(origin: httpcore.Origin) -> StubConnection:
        nonlocal made
        made += 1
        return StubConnection(f"new{made}", origin, "new")

    pool.create_connection = create  # type: ignore[method-assign]
    for index in range(rng.randint(0, 12)):
        state = rng.choice(["idle", "idle", "active", "new", "closed"])
        pool._connections.append(StubConnection(f"c{index}", rng.choice(ORIGINS), state, rng.random() < 0.15))
    requests = []
    for _ in range(rng.randint(0, 5)):
        origin = rng.choice(ORIGINS)
        request = AsyncPoolRequest(httpcore.Request("GET", f"https://{origin.host.decode()}/"))
        if rng.random() < 0.3 and pool._connections:
            request.connection = rng.choice(pool._connections)  # already served
        requests.append(request)
    pool._requests.extend(requests)
    return requests


def test_the_pool_assigns_connections_by_httpcore_rules_in_one_pass() -> None:
    async def scenario() -> None:
        for seed in range(400):
            rng = random.Random(seed)
            limits = {"max_connections": rng.randint(1, 10), "max_keepalive_connections": rng.randint(0, 8)}
            ours = http1.Pool(None, keepalive_expiry=None, network_backend=netio.AsyncioBackend(), **limits)
            reference = httpcore.AsyncConnectionPool(**limits)
            outcomes = []
            for pool, method in ((ours, ours._assign_requests_to_connections),
                                 (reference, functools.partial(httpcore.AsyncConnectionPool._assign_requests_to_connections,
                                                               reference))):
                requests = stub_pool(pool, random.Random(seed))
                closing = method()
                outcomes.append((
                    [c.name for c in closing],  # type: ignore[attr-defined]
                    [c.name for c in pool._connections],  # type: ignore[attr-defined]
                    [getattr(r.connection, "name", None) for r in requests],
                ))
            assert outcomes[0] == outcomes[1], f"seed {seed}"

    asyncio.run(scenario())


def test_assigning_a_request_asks_each_pooled_connection_a_bounded_number_of_questions() -> None:
    async def scenario() -> None:
        origin = ORIGINS[0]
        pool = http1.Pool(None, 256, 64, None, netio.AsyncioBackend())
        pool._connections.extend(StubConnection(f"c{i}", origin) for i in range(64))
        pool._requests.append(AsyncPoolRequest(httpcore.Request("GET", "https://a.test/")))
        StubConnection.calls = 0
        pool._assign_requests_to_connections()
        assert StubConnection.calls <= 5 * 64  # httpcore's own version: over 64 * 64
        assert pool._requests[0].connection is pool._connections[0]

    asyncio.run(scenario())
