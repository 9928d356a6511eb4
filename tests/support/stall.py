"""A fake upstream that goes silent mid-reply, and notes when its caller hangs up.

`Stalling` wraps any fake's ASGI app: once a streamed reply has sent a body message holding
`marker` (the first text delta, say), its next write waits (bounded) for the client to leave,
the way a slow model thinks between tokens. The wrapped app still listens on `receive` (as
Starlette's streaming response does), so the moment the router closes its upstream request
arrives as `http.disconnect`: `hung_up` keeps when that was, on `time.monotonic`'s clock,
which is shared with the test's thread.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Stalling:
    """`app`, with each reply that sends `marker` held silent from its next write until the caller hangs up."""

    def __init__(self, app: ASGIApp, marker: bytes, *, limit: float = 30.0) -> None:
        self.app = app
        self.marker = marker
        self.limit = limit  # a stall never outlasts this: the reply then goes on as the fake wrote it
        self.stalled: list[float] = []
        """When each stalled reply went silent (its marker written)."""
        self.hung_up: list[float] = []
        """When each stalled reply's caller closed the request."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        stalled = False
        gone = asyncio.Event()

        async def watched_receive() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect" and stalled and not gone.is_set():
                self.hung_up.append(time.monotonic())
                gone.set()
            return message

        async def held_send(message: Message) -> None:
            nonlocal stalled
            if stalled and not gone.is_set():
                with suppress(TimeoutError):
                    async with asyncio.timeout(self.limit):
                        await gone.wait()
            await send(message)
            body: Any = message.get("body", b"")
            if not stalled and message["type"] == "http.response.body" and self.marker in body:
                stalled = True
                self.stalled.append(time.monotonic())

        await self.app(scope, watched_receive, held_send)
