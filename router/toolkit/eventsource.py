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


class BlockSplitter:
    """An SSE body cut into its events' blocks (the lines between two blank lines) as chunks arrive.

    Line endings are normalised to `\n`; a `\r\n` split across two chunks is joined first,
    since the unfinished tail of a chunk is kept for the next one.
    """

    __slots__ = ("buffer",)

    def __init__(self) -> None:
        self.buffer = b""

    def complete(self, chunk: bytes) -> list[bytes]:
        """The blocks `chunk` completes; the start of the next one is kept."""
        buffer = self.buffer + chunk if self.buffer else chunk
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
        if b"\n\n" not in buffer:
            self.buffer = buffer
            return []
        *blocks, self.buffer = buffer.split(b"\n\n")
        return blocks

    def rest(self) -> bytes:
        """What followed the last blank line (an event, when the body ended without one)."""
        rest, self.buffer = self.buffer, b""
        return rest


async def read_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[ServerSentEvent]:
    """Events from a byte stream, yielded as soon as each is complete."""
    blocks = BlockSplitter()
    async for chunk in chunks:
        for block in blocks.complete(chunk):
            event = parse_block(block)
            if event is not None:
                yield event
    event = parse_block(blocks.rest())
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
