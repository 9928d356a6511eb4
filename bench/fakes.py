"""Fast fake upstreams: one process, one 127.0.0.1 listener per built-in provider's wire format.

Unlike the fakes in tests/ (which check every rule the real backend enforces), these do as
little as possible per request: parse the request head, read `content-length` bytes of body,
and write a precomputed reply. No JSON is parsed, nothing is validated. A bare asyncio
`Protocol` (on uvloop when installed) rather than an ASGI app, so the fake's own CPU per
request stays far below the router's.

Modes (set for all listeners at once through the control path):

- `burst`: the whole reply (head and every event) in one `write`;
- `paced`: the head and first event, then one event per `write`, `interval` seconds apart
  (TCP_NODELAY, so each event leaves in its own segment).

Control, on any listener (GET, answered with JSON):

- `/_bench/config?mode=burst|paced&events=N&interval=S`: set the reply for later requests;
- `/_bench/last`: the raw bytes (head + body) of the last request this listener's chat path
  received, which the load generator replays against the fake for the baseline;
- `/_bench/stats`: requests served per listener;
- `/_bench/cuts`: when (`time.monotonic()`, the same clock in every process of the machine)
  each connection closed by the router while a paced reply was still being sent, since the
  last call: the moment the router cancelled the upstream request.

Run: `python -m bench.fakes` prints `{"codex": port, "openrouter": port, "kiro": port, "pid": pid}`
on one line once listening, and exits when its standard input closes (or on SIGTERM/SIGINT).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import orjson

from bench.wire import CHAT_PATHS, CONTENT_TYPES, MODEL_LISTS, PROVIDERS, reply


@dataclass
class Settings:
    """The reply every listener sends next, and its precomputed bytes per provider."""

    mode: str = "burst"
    events: int = 200
    interval: float = 0.002
    heads: dict[str, bytes] = field(default_factory=dict)
    bodies: dict[str, list[bytes]] = field(default_factory=dict)
    whole: dict[str, bytes] = field(default_factory=dict)

    def configure(self, mode: str, events: int, interval: float) -> None:
        """Precompute every provider's reply for these settings."""
        if mode not in ("burst", "paced"):
            raise ValueError(f"unknown mode {mode!r}")
        self.mode, self.events, self.interval = mode, max(0, events), max(0.0, interval)
        for provider in PROVIDERS:
            parts = reply(provider, self.events)
            self.heads[provider] = _head(200, CONTENT_TYPES[provider], sum(map(len, parts)))
            self.bodies[provider] = parts
            self.whole[provider] = self.heads[provider] + b"".join(parts)


@dataclass
class Stats:
    """What one listener has seen."""

    requests: int = 0
    connections: int = 0
    last: bytes = b""
    cuts: list[float] = field(default_factory=list)


def _head(status: int, content_type: bytes, length: int) -> bytes:
    reason = b"OK" if status == 200 else b"Not Found"
    return (b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\nconnection: keep-alive\r\n\r\n"
            % (status, reason, content_type, length))


def _json(status: int, data: object) -> bytes:
    body = orjson.dumps(data)
    return _head(status, b"application/json", len(body)) + body


class Upstream(asyncio.Protocol):
    """One keep-alive connection to a fake upstream."""

    def __init__(self, provider: str, settings: Settings, stats: Stats) -> None:
        self.provider = provider
        self.settings = settings
        self.stats = stats
        self.chat_path = CHAT_PATHS[provider]
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.pacing: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio's classes
        self.stats.connections += 1
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.pacing is not None:
            self.stats.cuts.append(time.monotonic())
            self.pacing.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and self.pacing is None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end])
            length = _content_length(head)
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            request = bytes(self.buffer[:total])
            del self.buffer[:total]
            self._answer(head, request)

    def _answer(self, head: bytes, request: bytes) -> None:
        assert self.transport is not None
        method, _, rest = head.partition(b" ")
        target = rest.split(b" ", 1)[0]
        path, _, query = target.partition(b"?")
        if method == b"POST" and path == self.chat_path:
            self.stats.requests += 1
            self.stats.last = request
            settings = self.settings
            if settings.mode == "burst":
                self.transport.write(settings.whole[self.provider])
            else:
                self.pacing = asyncio.get_running_loop().create_task(self._paced())
            return
        if path.startswith(b"/_bench/"):
            self.transport.write(self._control(path, query))
            return
        models_path, models = MODEL_LISTS[self.provider]
        if method == b"GET" and path == models_path:
            self.transport.write(_head(200, b"application/json", len(models)) + models)
            return
        self.transport.write(_json(404, {"error": {"message": f"bench fake: no {path.decode()}"}}))

    async def _paced(self) -> None:
        settings, transport = self.settings, self.transport
        events = settings.bodies[self.provider]
        try:
            assert transport is not None
            transport.write(settings.heads[self.provider] + (events[0] if events else b""))
            for event in events[1:]:
                await asyncio.sleep(settings.interval)
                if transport.is_closing():
                    return
                transport.write(event)
        finally:
            self.pacing = None
        if self.buffer:  # a pipelined request arrived meanwhile
            self.data_received(b"")

    def _control(self, path: bytes, query: bytes) -> bytes:
        settings = self.settings
        if path == b"/_bench/config":
            params = {k: v[-1] for k, v in parse_qs(query.decode()).items()}
            try:
                settings.configure(params.get("mode", settings.mode), int(params.get("events", settings.events)),
                                   float(params.get("interval", settings.interval)))
            except ValueError as exc:
                return _json(400, {"error": str(exc)})
            return _json(200, {"mode": settings.mode, "events": settings.events, "interval": settings.interval})
        if path == b"/_bench/last":
            last = self.stats.last
            return _head(200, b"application/octet-stream", len(last)) + last
        if path == b"/_bench/cuts":
            cuts, self.stats.cuts[:] = list(self.stats.cuts), []
            return _json(200, {"cuts": cuts})
        if path == b"/_bench/stats":
            return _json(200, {"provider": self.provider, "requests": self.stats.requests,
                               "connections": self.stats.connections})
        return _json(404, {"error": "unknown control path"})


def _content_length(head: bytes) -> int:
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    end = lower.find(b"\r\n", at + 2)
    return int(lower[at + 17: end if end >= 0 else None].strip())


async def serve(ports: dict[str, int], settings: Settings) -> None:
    """Listen on every provider's port until stdin closes or a signal arrives."""
    loop = asyncio.get_running_loop()
    servers, bound = [], {}
    for provider in PROVIDERS:
        stats = Stats()
        server = await loop.create_server(lambda p=provider, s=stats: Upstream(p, settings, s),  # type: ignore[misc]
                                          "127.0.0.1", ports.get(provider, 0), backlog=1024)
        servers.append(server)
        bound[provider] = server.sockets[0].getsockname()[1]
    print(orjson.dumps({**bound, "pid": os.getpid()}).decode(), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not os.read(sys.stdin.fileno(), 4096) else None)
    await stop.wait()
    for server in servers:
        server.close()


def main() -> None:
    """Entry point: `python -m bench.fakes [--events N] [--mode burst|paced] [--interval S]`."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default="burst", choices=("burst", "paced"))
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.002)
    for provider in PROVIDERS:
        parser.add_argument(f"--{provider}-port", type=int, default=0)
    args = parser.parse_args()
    settings = Settings()
    settings.configure(args.mode, args.events, args.interval)
    ports = {provider: getattr(args, f"{provider}_port") for provider in PROVIDERS}
    run(serve(ports, settings))


def run(coroutine: object) -> None:
    """`asyncio.run`, on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)  # type: ignore[arg-type]
    else:
        uvloop.run(coroutine)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
