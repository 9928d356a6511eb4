"""The SSE reader providers use for their upstreams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from router.toolkit.eventsource import ServerSentEvent, read_events


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def events(*parts: bytes) -> list[ServerSentEvent]:
    return [event async for event in read_events(chunks(*parts))]


async def test_events_split_across_and_within_chunks() -> None:
    stream = b'event: a\ndata: {"x": 1}\n\nevent: b\ndata: 2\n\n'
    whole = await events(stream)
    assert whole == [ServerSentEvent("a", '{"x": 1}'), ServerSentEvent("b", "2")]
    for size in (1, 3, 7):
        pieces = [stream[i:i + size] for i in range(0, len(stream), size)]
        assert await events(*pieces) == whole


@pytest.mark.parametrize(("raw", "expected"), [
    (b": keep-alive\n\n", []),
    (b"data: one\ndata: two\n\n", [ServerSentEvent("message", "one\ntwo")]),
    (b"event: x\r\ndata: crlf\r\n\r\n", [ServerSentEvent("x", "crlf")]),
    (b"data: no trailing blank line", [ServerSentEvent("message", "no trailing blank line")]),
    (b"data:tight\n\n", [ServerSentEvent("message", "tight")]),
    (b"event: only-a-name\n\n", []),
    (b"event: x\ndata: one\ndata: two\n\n", [ServerSentEvent("x", "one\ntwo")]),
    (b"event: x\ndata: y\nid: 7\n\n", [ServerSentEvent("x", "y")]),
    (b"event: x\n: note\n\n", []),
    (b"data:  two spaces\n\n", [ServerSentEvent("message", " two spaces")]),
    (b"event:tight\ndata: y\n\n", [ServerSentEvent("tight", "y")]),
    (b"data: \n\n", [ServerSentEvent("message", "")]),
    (b"data: a\r\n\r\ndata: b\n\n", [ServerSentEvent("message", "a"), ServerSentEvent("message", "b")]),
    ("data: caf\u00e9 \u2713\n\n".encode(), [ServerSentEvent("message", "caf\u00e9 \u2713")]),
])
async def test_event_edge_cases(raw: bytes, expected: list[ServerSentEvent]) -> None:
    assert await events(raw) == expected
