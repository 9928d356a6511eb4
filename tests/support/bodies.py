"""A fake upstream response body for `httpx.MockTransport`: served chunk by chunk, records closing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx


class Body(httpx.AsyncByteStream):
    """The chunks, then a failure (`fail`) or silence until cancelled (`stall`) if asked.

    `closed` says the response was closed; `exhausted` that it was read to its end (so the
    connection could go back to the pool).
    """

    def __init__(self, *chunks: bytes, fail: Exception | None = None, stall: bool = False) -> None:
        self.chunks = chunks
        self.fail = fail
        self.stall = stall
        self.closed = False
        self.exhausted = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        if self.stall:
            await asyncio.Event().wait()
        if self.fail is not None:
            raise self.fail
        self.exhausted = True

    async def aclose(self) -> None:
        self.closed = True
