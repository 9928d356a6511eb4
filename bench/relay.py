"""A bare relay: starlette + httpx passing the upstream's bytes through unchanged.

This is the comparison point the CPU-per-event target is set against: the least a Python
service in front of a streaming backend can do. It receives the upstream request exactly as
the router would send it (the baseline's bytes), forwards it to the host its `Host` header
names with one pooled `httpx.AsyncClient` (httpx's default transport), and streams the
reply back with Starlette's `StreamingResponse`, chunk for chunk, translating nothing. It
runs on uvicorn with the same uvloop and httptools as `router serve`, with access logging
off (the router writes one access line per request, so the comparison slightly favours
the relay).

`python -m bench.relay --port P` serves it on 127.0.0.1 until SIGINT; `GET /health` says it is up.
"""

from __future__ import annotations

import argparse
import sys

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

HOP_BY_HOP = {b"host", b"content-length", b"connection", b"keep-alive", b"transfer-encoding"}


def create_app() -> Starlette:
    client = httpx.AsyncClient(
        timeout=httpx.Timeout(connect=15.0, read=600.0, write=60.0, pool=30.0),
        limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
    )

    async def relay(request: Request) -> Response:
        url = f"http://{request.headers['host']}{request.url.path}"
        if request.url.query:
            url += f"?{request.url.query}"
        headers = [(name, value) for name, value in request.headers.raw if name not in HOP_BY_HOP]
        outgoing = client.build_request(request.method, url, headers=headers, content=await request.body())
        upstream = await client.send(outgoing, stream=True)
        return StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            media_type=upstream.headers.get("content-type"),
            background=BackgroundTask(upstream.aclose),
        )

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/health", health), Route("/{path:path}", relay, methods=["POST"])])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(create_app(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                server_header=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
