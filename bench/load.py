"""The load generator: its own process, raw asyncio sockets, precomputed request bytes.

It runs one *cell*: `concurrency` workers, each on its own keep-alive connection, send the
same request until `requests` have been sent or `seconds` have passed (whichever first),
and time each response:

- TTFB: from the first byte of the request written to the first byte of the response body
  (after the status line and headers; for a streamed reply, the first SSE event);
- TTLB: to the last byte of the response body.

A response counts as an error when its status is not 200, it lacks `expect` (a marker only
a complete reply contains), it holds `reject` (an error event), the connection breaks, or
it takes longer than `timeout`. Responses are parsed just enough to find their end
(content-length or chunked), so the generator's CPU stays small next to the router's.

Protocol with the orchestrator (one JSON object per line): the job arrives on stdin; the
generator connects every worker and prints `{"ready": true}`; it waits for any line on
stdin, runs, and prints the result.
"""

from __future__ import annotations

import asyncio
import base64
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson


@dataclass
class Job:
    """One cell's load: where to send what, how hard, for how long."""

    host: str
    port: int
    request_b64: str
    concurrency: int
    requests: int
    seconds: float
    timeout: float = 60.0
    expect: str = ""
    reject: str = ""


@dataclass
class Result:
    """What one cell measured (times in seconds)."""

    sent: int = 0
    ok: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    ttlb: list[float] = field(default_factory=list)
    response_bytes: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    """The load generator's own CPU seconds during the run."""

    def fail(self, kind: str, detail: str = "") -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1
        if len(self.error_samples) < 5:
            self.error_samples.append(f"{kind}: {detail[:300]}")


class Broken(Exception):
    """The connection closed or the response could not be parsed."""


class Conn:
    """One keep-alive HTTP/1.1 connection that can send a request and read one response."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Conn:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        return cls(reader, writer)

    def close(self) -> None:
        self.writer.close()

    async def exchange(self, request: bytes) -> tuple[int, float, float, bytes, bool]:
        """(status, ttfb, ttlb, body, keep_alive) for one request."""
        start = time.perf_counter()
        self.writer.write(request)
        reader = self.reader
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, keep_alive = -1, False, True
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                keep_alive = b"close" not in value.lower()
        body = bytearray()
        ttfb = 0.0
        if chunked:
            while True:
                size_line = await reader.readuntil(b"\r\n")
                if not ttfb:
                    ttfb = time.perf_counter() - start
                size = int(size_line.split(b";", 1)[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")  # no trailers expected
                    break
                body += await reader.readexactly(size + 2)
                del body[-2:]
        elif length >= 0:
            if length:
                first = await reader.read(length)
                if not first:
                    raise Broken("connection closed in the body")
                ttfb = time.perf_counter() - start
                body += first
                if len(body) < length:
                    body += await reader.readexactly(length - len(body))
        else:
            keep_alive = False
            while chunk := await reader.read(1 << 16):
                if not ttfb:
                    ttfb = time.perf_counter() - start
                body += chunk
        ttlb = time.perf_counter() - start
        return status, ttfb or ttlb, ttlb, bytes(body), keep_alive


async def run(job: Job, go: asyncio.Future[None] | None = None) -> Result:
    """Run one cell; connections are opened before `go` resolves and the clock starts."""
    request = base64.b64decode(job.request_b64)
    expect, reject = job.expect.encode(), job.reject.encode()
    result = Result()
    conns: list[Conn | None] = list(await asyncio.gather(*(Conn.open(job.host, job.port)
                                                           for _ in range(job.concurrency))))
    if go is not None:
        print(orjson.dumps({"ready": True}).decode(), flush=True)
        await go
    cpu0 = _cpu()
    started = time.perf_counter()
    deadline = started + job.seconds

    async def worker(slot: int) -> None:
        while result.sent < job.requests and time.perf_counter() < deadline:
            result.sent += 1
            conn = conns[slot]
            try:
                if conn is None:
                    conn = conns[slot] = await Conn.open(job.host, job.port)
                status, ttfb, ttlb, body, keep_alive = await asyncio.wait_for(conn.exchange(request), job.timeout)
            except TimeoutError:
                result.fail("timeout", f"no complete response in {job.timeout}s")
                _drop(conns, slot)
                continue
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, Broken) as exc:
                result.fail("connection", f"{type(exc).__name__}: {exc}")
                _drop(conns, slot)
                continue
            result.response_bytes += len(body)
            if not keep_alive:
                _drop(conns, slot)
            if status != 200:
                result.fail(f"http_{status}", body.decode("utf-8", "replace"))
            elif reject and reject in body:
                result.fail("error_event", body[body.find(reject):].decode("utf-8", "replace"))
            elif expect and expect not in body:
                result.fail("incomplete", body[-300:].decode("utf-8", "replace"))
            else:
                result.ok += 1
                result.ttfb.append(ttfb)
                result.ttlb.append(ttlb)

    await asyncio.gather(*(worker(i) for i in range(job.concurrency)))
    result.wall = time.perf_counter() - started
    result.cpu = _cpu() - cpu0
    for conn in conns:
        if conn is not None:
            conn.close()
    return result


def encode_request(raw: bytes) -> str:
    """The job field for a raw request."""
    return base64.b64encode(raw).decode()


def job_json(job: Job) -> bytes:
    """The job as the one JSON line the generator reads."""
    data: dict[str, Any] = asdict(job)
    return orjson.dumps(data) + b"\n"


def _drop(conns: list[Conn | None], slot: int) -> None:
    conn = conns[slot]
    if conn is not None:
        conn.close()
        conns[slot] = None


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    job = Job(**orjson.loads(await reader.readline()))
    go: asyncio.Future[None] = loop.create_future()

    async def wait_go() -> None:
        await reader.readline()
        go.set_result(None)

    waiting = loop.create_task(wait_go())
    try:
        result = await run(job, go)
    except Exception as exc:  # noqa: BLE001  # could not even connect: the failure is the cell's result
        result = Result()
        result.fail("connect", f"{type(exc).__name__}: {exc}")
    waiting.cancel()
    sys.stdout.write(orjson.dumps(asdict(result)).decode() + "\n")
    sys.stdout.flush()


def main() -> None:
    """Entry point: `python -m bench.load` (speaks JSON lines on stdin/stdout)."""
    from bench.fakes import run as run_loop

    run_loop(_main())
    os._exit(0)  # skip interpreter teardown: the orchestrator is waiting


if __name__ == "__main__":
    main()
