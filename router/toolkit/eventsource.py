"""Reading Server-Sent Events from a backend: a helper for providers whose upstream streams SSE.

SSE is the transport, not a backend's wire format, so one careful parser serves every
provider (built-in or third-party): it splits on blank lines as bytes arrive, joins
multi-line `data:`, skips comments (keep-alive lines), and never waits for more than the
event at hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One event: its `event:` name ("message" when absent) and its `data:` text."""

    event: str
    data: str


async def read_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Events from a byte stream, yielded as soon as each is complete."""
    buffer = b""
    async for chunk in chunks:
        buffer = buffer + chunk if buffer else chunk
        if b"\r" in buffer:
            if b"\r\n\r\n" not in buffer and b"\n\n" not in buffer:
                continue
            buffer = buffer.replace(b"\r\n", b"\n")
        elif b"\n\n" not in buffer:
            continue
        *complete, buffer = buffer.split(b"\n\n")
        for block in complete:
            event = parse_block(block)
            if event is not None:
                yield event
    event = parse_block(buffer.replace(b"\r\n", b"\n"))
    if event is not None:
        yield event


def parse_block(block: bytes) -> ServerSentEvent | None:
    """One event from the lines between two blank lines; None for comments and empty blocks."""
    if b"\n" not in block:  # the common shapes first: `data: …`, and `event: …` + `data: …`
        if block.startswith(b"data: "):
            return ServerSentEvent("message", block[6:].decode("utf-8", "replace"))
    elif block.startswith(b"event: "):
        head, _, rest = block.partition(b"\n")
        if rest.startswith(b"data: ") and b"\n" not in rest:
            return ServerSentEvent(head[7:].decode("utf-8", "replace"), rest[6:].decode("utf-8", "replace"))
    name, data = "message", []
    for line in block.decode("utf-8", "replace").split("\n"):
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return ServerSentEvent(name, "\n".join(data)) if data else None
