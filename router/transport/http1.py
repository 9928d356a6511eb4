"""HTTP/1.1 to the upstreams: our own connection, parsing replies with llhttp, in httpcore's pool.

Why not httpcore's own HTTP/1.1 connection: when a backend paces its stream, one event per
read, every read of the body costs the whole of h11's machinery (two `next_event` calls, its
state transitions, an exception-mapping context manager around each) for a few hundred bytes.
The paced soak's profile put about a fifth of the router's CPU per event there
(docs/performance.md). Here h11 is not used at all: a read is handed to httptools' parser
(llhttp, the parser uvicorn already uses for our own server side), which calls back once per
piece of body.

`Connection` speaks HTTP/1.1 on one connection: it writes the request, parses the reply, and
tells the pool whether the connection can be used again. `Pool` is httpcore's pool (its queue,
keep-alive limits and expiry) opening `Connection`s, with the pass that assigns requests to
connections rewritten to be linear. Both raise httpcore's exceptions, which httpx maps as it
always does. They build on httpcore internals (the pool's `_connections`, `_requests` and
`_assign_requests_to_connections`, its queued-request objects, the connection interface):
`router.transport.support` checks those before either is used.
"""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import AsyncIterator
from enum import Enum
from typing import Any

import httpcore
import httptools
import httpx

from router.transport.body import BODY

READ_BYTES = 64 * 1024
"""Most bytes asked of the socket per read."""
MAX_HEAD = 100 * 1024
"""A reply whose status line and headers run past this is refused (h11's limit, which we replace)."""

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(rb"[\x00\r\n]")
_BAD_TARGET = re.compile(rb"[\x00-\x20\x7f]")


class _State(Enum):
    NEW = "NEW"
    ACTIVE = "ACTIVE"
    IDLE = "IDLE"
    CLOSED = "CLOSED"


class _Reply:
    """httptools' callbacks for one response: the head once, then the body as it arrives."""

    __slots__ = ("parser", "status", "reason", "headers", "framed", "head_done", "body", "done", "keep_alive", "after")

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        # Accepted as h11 accepted them, since only a value's text is at stake (never the framing):
        # lines ending in a bare LF, and header values folded over lines or with control characters.
        self.parser.set_dangerous_leniencies(lenient_headers=True, lenient_optional_cr_before_lf=True)
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.framed = False  # a Content-Length or chunked body: its end is not the connection's
        self.head_done = False
        self.body: list[bytes] = []
        self.done = False
        self.keep_alive = False  # read when the reply completes: llhttp forgets it right after
        self.after = False  # the upstream sent bytes past the end of this reply

    def on_message_begin(self) -> None:
        if self.done:
            self.after = True

    def on_status(self, reason: bytes) -> None:
        if not self.head_done:  # llhttp may hand the phrase over in pieces
            self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.head_done:  # trailers after a chunked body are dropped, as httpcore does
            self.headers.append((name, value.rstrip(b" \t")))  # llhttp strips leading whitespace only

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 100:
            raise httpcore.RemoteProtocolError(f"the upstream answered with status {status}")
        if status < 200:  # informational (103 Early Hints): the real reply follows
            self.headers = []
            self.reason = b""
            return
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"transfer-encoding" and value.lower() != b"chunked":
                raise httpcore.RemoteProtocolError(f"unsupported Transfer-Encoding: {value.decode('latin-1')!r}")
            self.framed = self.framed or lowered in (b"transfer-encoding", b"content-length")
        self.status = status
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        if not self.done:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.head_done and not self.done:
            self.done = True
            self.keep_alive = self.parser.should_keep_alive()

    def feed(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise httpcore.RemoteProtocolError("the upstream switched protocols, which is not supported") from None
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, httpcore.RemoteProtocolError):
                raise exc.__context__ from None
            raise httpcore.RemoteProtocolError(f"malformed reply from the upstream: {exc}") from None
        except httptools.HttpParserError as exc:
            if not self.done:  # bytes after a complete reply only cost the connection its reuse
                raise httpcore.RemoteProtocolError(f"malformed reply from the upstream: {exc}") from None
            self.after = True

    def take_body(self) -> bytes:
        body = self.body
        self.body = []
        return body[0] if len(body) == 1 else b"".join(body)


class Connection(httpcore.AsyncConnectionInterface):
    """One HTTP/1.1 connection to one origin, connected on its first request."""

    def __init__(
        self,
        origin: httpcore.Origin,
        ssl_context: ssl.SSLContext | None,
        keepalive_expiry: float | None,
        network_backend: httpcore.AsyncNetworkBackend,
    ) -> None:
        self._origin = origin
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._backend = network_backend
        self._stream: httpcore.AsyncNetworkStream | None = None
        self._state = _State.NEW
        self._expire_at: float | None = None
        self._requests = 0

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if request.url.origin != self._origin:
            raise RuntimeError(f"a request to {request.url.origin} on a connection to {self._origin}")
        if self._state not in (_State.NEW, _State.IDLE):
            raise httpcore.ConnectionNotAvailable()
        self._state = _State.ACTIVE
        self._expire_at = None
        self._requests += 1
        timeouts = request.extensions.get("timeout", {})
        try:
            if self._stream is None:
                self._stream = await self._connect(request, timeouts.get("connect"))
            unsent = close_asked = False
            try:
                close_asked = await self._send(self._stream, request, timeouts.get("write"))
            except httpcore.WriteError:
                unsent = True  # the upstream may have answered (an error) and closed early: read what it said
            reply = await self._receive_head(self._stream, request, timeouts.get("read"))
            reply.after = reply.after or unsent  # and the connection is not used again
        except BaseException:
            await self.aclose()
            raise
        body = _Body(self, self._stream, reply, request, timeouts.get("read"), close_asked)
        return httpcore.Response(
            status=reply.status,
            headers=reply.headers,
            content=body,
            extensions={
                BODY: body,
                "http_version": b"HTTP/" + reply.parser.get_http_version().encode("ascii"),
                "reason_phrase": reply.reason,
                "network_stream": self._stream,
            },
        )

    async def _connect(self, request: httpcore.Request, timeout: float | None) -> httpcore.AsyncNetworkStream:
        host = self._origin.host.decode("ascii")
        stream = await self._backend.connect_tcp(host, self._origin.port, timeout=timeout)
        if self._origin.scheme in (b"https", b"wss"):
            server_hostname = request.extensions.get("sni_hostname") or host
            context = self._ssl_context if self._ssl_context is not None else ssl.create_default_context()
            stream = await stream.start_tls(context, server_hostname=server_hostname, timeout=timeout)
        return stream

    async def _send(self, stream: httpcore.AsyncNetworkStream, request: httpcore.Request, timeout: float | None) -> bool:
        """The head and the first piece of the body in one write; a chunked body framed here.

        Returns whether the request asked for the connection to close after its reply.
        """
        pending = _head(request)
        chunked = content_length = None
        close_asked = False
        for name, value in request.headers:
            lowered = name.lower()
            if lowered == b"connection":
                close_asked = close_asked or b"close" in value.lower()
            elif lowered == b"transfer-encoding":
                chunked = value.strip().lower() == b"chunked"
            elif lowered == b"content-length":
                if not value.strip().isdigit():
                    raise httpcore.LocalProtocolError(f"an invalid Content-Length: {value!r}")
                content_length = int(value)
        sent = 0
        async for chunk in request.stream:  # type: ignore[union-attr]
            if not chunk:
                continue
            sent += len(chunk)
            if chunked:
                chunk = b"%x\r\n%b\r\n" % (len(chunk), chunk)
            elif content_length is None or sent > content_length:
                raise httpcore.LocalProtocolError("the request body is longer than its Content-Length")
            await stream.write(pending + chunk if pending else chunk, timeout=timeout)
            pending = b""
        if chunked:
            pending += b"0\r\n\r\n"
        elif content_length is not None and sent != content_length:
            raise httpcore.LocalProtocolError(
                f"the request body is {sent} bytes where its Content-Length says {content_length}"
            )
        if pending:
            await stream.write(pending, timeout=timeout)
        return close_asked

    async def _receive_head(
        self, stream: httpcore.AsyncNetworkStream, request: httpcore.Request, timeout: float | None
    ) -> _Reply:
        reply = _Reply()
        received = 0
        while not reply.head_done:
            data = await stream.read(READ_BYTES, timeout=timeout)
            if not data:
                raise httpcore.RemoteProtocolError("Server disconnected without sending a response.")
            received += len(data)
            reply.feed(data)
            if not reply.head_done and received > MAX_HEAD:
                raise httpcore.RemoteProtocolError(f"the upstream's reply head is over {MAX_HEAD // 1024} KiB")
        if request.method == b"HEAD":  # llhttp does not know the request: a reply to HEAD has no body
            if not reply.done:
                reply.done = True
                reply.keep_alive = reply.parser.should_keep_alive()
            reply.after = reply.after or bool(reply.body)  # a body sent anyway: the connection is not clean
            reply.body = []
        return reply

    def _released(self, reusable: bool) -> bool:
        """The reply was closed: keep the connection for the next request if it is clean."""
        if reusable and self._state is _State.ACTIVE:
            self._state = _State.IDLE
            if self._keepalive_expiry is not None:
                self._expire_at = time.monotonic() + self._keepalive_expiry
            return True
        return False

    async def aclose(self) -> None:
        self._state = _State.CLOSED
        if self._stream is not None:
            await self._stream.aclose()

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self._origin

    def is_available(self) -> bool:
        return self._state is _State.IDLE

    def has_expired(self) -> bool:
        if self._expire_at is not None and time.monotonic() > self._expire_at:
            return True
        # an idle connection with something to read is one the server closed (or is closing)
        return (
            self._state is _State.IDLE
            and self._stream is not None
            and bool(self._stream.get_extra_info("is_readable"))
        )

    def is_idle(self) -> bool:
        return self._state is _State.IDLE

    def is_closed(self) -> bool:
        return self._state is _State.CLOSED

    def info(self) -> str:
        return f"{str(self._origin)!r}, HTTP/1.1, {self._state.value}, Request Count: {self._requests}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{self.info()}]>"


class _Body:
    """A reply's body, read straight from the connection: one read, one parse, one chunk out."""

    def __init__(
        self,
        connection: Connection,
        stream: httpcore.AsyncNetworkStream,
        reply: _Reply,
        request: httpcore.Request,
        timeout: float | None,
        close_asked: bool,
    ) -> None:
        self._connection = connection
        self._stream = stream
        self._reply = reply
        self._timeout = timeout
        self._closed = False
        self._until_close = not reply.framed and reply.status not in (204, 304) and request.method != b"HEAD"
        self._close_asked = close_asked

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks(None)

    def chunks(self, request: httpx.Request) -> AsyncIterator[bytes]:
        """The body for a reader above httpx (`router.transport.body.body_chunks`): the same chunks,
        with failures raised as the httpx exceptions httpx's own layers would have made of them."""
        return self._chunks(request)

    async def _chunks(self, request: httpx.Request | None) -> AsyncIterator[bytes]:
        reply, stream, timeout = self._reply, self._stream, self._timeout
        try:
            if reply.body:
                yield reply.take_body()
            while not reply.done:
                data = await stream.read(READ_BYTES, timeout)
                if not data:
                    if self._until_close:
                        reply.done = True
                        break
                    raise httpcore.RemoteProtocolError("the upstream closed the connection before the reply's end")
                reply.feed(data)
                if reply.body:
                    yield reply.take_body()
        except BaseException as exc:
            await self.aclose()
            if request is not None and isinstance(exc, httpcore.NetworkError | httpcore.TimeoutException
                                                  | httpcore.ProtocolError):
                raise getattr(httpx, type(exc).__name__, httpx.TransportError)(str(exc), request=request) from exc
            raise

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        reply = self._reply
        reusable = (
            reply.done
            and not reply.after
            and not self._until_close
            and not self._close_asked
            and reply.keep_alive
        )
        if not self._connection._released(reusable):
            await self._connection.aclose()


def _head(request: httpcore.Request) -> bytes:
    """The request line and headers, refused if any part could split or smuggle a message."""
    method, target = request.method, request.url.target
    if not _TOKEN.fullmatch(method) or not target or _BAD_TARGET.search(target):
        raise httpcore.LocalProtocolError(f"an invalid request line: {method!r} {target!r}")
    lines = [b"%b %b HTTP/1.1\r\n" % (method, target)]
    for name, value in request.headers:
        if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
            raise httpcore.LocalProtocolError(f"an invalid request header: {name!r}")
        lines.append(b"%b: %b\r\n" % (name, value))
    lines.append(b"\r\n")
    return b"".join(lines)


class Pool(httpcore.AsyncConnectionPool):
    """httpcore's connection pool, opening `Connection`s (HTTP/1.1, no proxy, no Unix socket)."""

    def __init__(
        self,
        ssl_context: ssl.SSLContext | None,
        max_connections: int | None,
        max_keepalive_connections: int | None,
        keepalive_expiry: float | None,
        network_backend: httpcore.AsyncNetworkBackend,
    ) -> None:
        super().__init__(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
            network_backend=network_backend,
        )
        self._connection_args: tuple[Any, ...] = (ssl_context, keepalive_expiry, network_backend)

    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        return Connection(origin, *self._connection_args)

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        """httpcore's rules for which connection serves which request, in one pass per request.

        httpcore's own version counts the pool's connections again for each idle connection it
        looks at: with 64 pooled connections, every request and every release made about 4,000
        calls (0.4 ms), so after a burst of concurrent streams each later request paid about
        1 ms for it (docs/performance.md). The rules are unchanged: drop closed connections;
        close expired ones, and idle ones while the pool holds more connections than
        `max_keepalive_connections`; then give each queued request an available connection to
        its origin, else a new one below `max_connections`, else a new one in place of an idle
        one. It returns the connections to close, as httpcore's does.
        """
        closing: list[httpcore.AsyncConnectionInterface] = []
        kept: list[httpcore.AsyncConnectionInterface] = []
        count = len(self._connections)
        for connection in self._connections:
            if connection.is_closed():
                count -= 1
            elif connection.has_expired() or (connection.is_idle() and count > self._max_keepalive_connections):
                count -= 1
                closing.append(connection)
            else:
                kept.append(connection)
        self._connections[:] = kept
        for pool_request in [request for request in self._requests if request.is_queued()]:
            origin = pool_request.request.url.origin
            chosen = next(
                (c for c in self._connections if c.can_handle_request(origin) and c.is_available()), None
            )
            if chosen is None:
                if len(self._connections) >= self._max_connections:
                    idle = next((c for c in self._connections if c.is_idle()), None)
                    if idle is None:
                        continue  # the request waits for a connection to be released
                    self._connections.remove(idle)
                    closing.append(idle)
                chosen = self.create_connection(origin)
                self._connections.append(chosen)
            pool_request.assign_to_connection(chosen)
        return closing
