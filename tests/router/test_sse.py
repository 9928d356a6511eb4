"""How the streaming response writes: one write per batch, big batches in pieces, the last with the body's end."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from router.anthropic.encode import StreamEncoder
from router.server.sse import FLUSH_BYTES, SERVER_SEND, EventStreamResponse
from router.errors import Overloaded
from router.events import Batch, BlockStop, MessageStart, MessageStop, TextDelta, TextStart, ThinkingDelta
from router.server.app import App
from tests.support.scripted import Sleep, Step, play, text_reply
from tests.support.sse import checked, parse_sse


async def never_disconnects() -> dict[str, Any]:
    await asyncio.sleep(3600)
    return {"type": "http.disconnect"}


async def write(batches: AsyncIterator[Batch]) -> tuple[list[bytes], bytes]:
    """The non-empty body messages written before the end, and the end's own body."""
    bodies: list[bytes] = []
    ends: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            assert not ends, "nothing may be sent after the body's end"
            if not message.get("more_body"):
                ends.append(message["body"])
            elif message["body"]:
                bodies.append(message["body"])

    ended: list[tuple[int, MessageStop | None]] = []
    response = EventStreamResponse(batches, StreamEncoder("claude-opus-4-8"), ping_interval=60,
                                   closing=asyncio.Event(), on_end=lambda status, stop: ended.append((status, stop)))
    await response({"type": "http"}, never_disconnects, send)  # type: ignore[arg-type]
    assert len(ended) == 1 and len(ends) == 1
    return bodies, ends[0]


async def writes_of(steps: Sequence[Step]) -> list[bytes]:
    """Every non-empty body message, the end's included (the scripted provider's batching: runs between pauses)."""
    bodies, end = await write(play(steps))
    return bodies + [end] if end else bodies


async def test_a_burst_arriving_as_one_batch_is_one_write() -> None:
    bodies, end = await write(play(text_reply(*[f"chunk{i} " for i in range(50)])))
    assert len(bodies) == 1 and end == b""  # the first batch goes at once, even when it is the whole reply
    events = checked(bodies[0].decode())
    assert events[0][0] == "message_start" and events[-1][0] == "message_stop" and len(events) == 55


async def test_each_batch_is_written_before_the_next_is_awaited() -> None:
    written = asyncio.Event()
    bodies: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            bodies.append(message["body"])
            if b'"first"' in message["body"]:
                written.set()

    async def batches() -> AsyncIterator[Batch]:
        yield [MessageStart("m")]
        yield [TextStart(), TextDelta("first")]
        async with asyncio.timeout(5):
            await written.wait()  # the writer holding "first" back until more comes would stall here
        yield [TextDelta("second")]
        yield [BlockStop(), MessageStop("end_turn")]

    response = EventStreamResponse(batches(), StreamEncoder("claude-opus-4-8"), ping_interval=60,
                                   closing=asyncio.Event(), on_end=lambda status, stop: None)
    await response({"type": "http"}, never_disconnects, send)  # type: ignore[arg-type]
    assert [b'"second"' in body for body in bodies] == [False, False, True, False]
    checked(b"".join(bodies).decode())


async def test_the_last_events_go_out_with_the_end_of_the_body() -> None:
    steps = text_reply("first", "second")
    bodies, end = await write(play([*steps[:3], Sleep(0.01), *steps[3:]]))
    assert len(bodies) == 1 and b'"first"' in bodies[0]
    assert end.rstrip().endswith(b'{"type":"message_stop"}') and b'"second"' in end
    checked((bodies[0] + end).decode())


async def test_a_batch_larger_than_the_flush_size_is_written_in_pieces() -> None:
    chunk = "x" * 1000
    bodies = await writes_of(text_reply(*[chunk] * (3 * FLUSH_BYTES // 1000)))
    assert len(bodies) >= 3
    assert all(len(body) <= FLUSH_BYTES for body in bodies)
    checked(b"".join(bodies).decode())


async def test_a_large_last_batch_is_cut_too_and_its_last_piece_ends_the_body() -> None:
    chunk = "y" * 1000
    steps = text_reply(*[chunk] * (2 * FLUSH_BYTES // 1000))
    bodies, end = await write(play([steps[0], Sleep(0), *steps[1:]]))
    assert len(bodies) >= 3 and parse_sse(bodies[0].decode())[0][0] == "message_start"
    assert all(len(body) <= FLUSH_BYTES for body in [*bodies, end])
    assert end.rstrip().endswith(b'{"type":"message_stop"}')
    checked(b"".join([*bodies, end]).decode())


async def test_pending_events_are_written_before_the_error_event() -> None:
    steps = text_reply("partial")
    bodies = await writes_of([*steps[:3], Overloaded("gone")])
    events = checked(b"".join(bodies).decode())
    assert [name for name, _ in events] == ["message_start", "content_block_start", "content_block_delta", "error"]


async def test_the_events_of_a_batch_before_one_out_of_order_go_out_before_the_error() -> None:
    bodies = await writes_of([MessageStart("m"), Sleep(0), TextStart(), TextDelta("kept"), ThinkingDelta("bad")])
    events = checked(b"".join(bodies).decode())
    assert [name for name, _ in events] == ["message_start", "content_block_start", "content_block_delta", "error"]
    assert events[2][1]["delta"]["text"] == "kept"


async def test_body_messages_go_to_the_servers_own_send_when_the_app_keeps_it() -> None:
    wrapped: list[dict[str, Any]] = []
    server: list[dict[str, Any]] = []

    async def middleware_send(message: dict[str, Any]) -> None:
        wrapped.append(message)

    async def server_send(message: dict[str, Any]) -> None:
        server.append(message)

    response = EventStreamResponse(play(text_reply("a", "b")), StreamEncoder("claude-opus-4-8"), ping_interval=60,
                                   closing=asyncio.Event(), on_end=lambda status, stop: None)
    scope = {"type": "http", SERVER_SEND: server_send}
    await response(scope, never_disconnects, middleware_send)  # type: ignore[arg-type]
    assert [m["type"] for m in wrapped] == ["http.response.start"]  # the middleware learns the response started
    assert server and all(m["type"] == "http.response.body" for m in server)
    assert not server[-1]["more_body"]
    checked(b"".join(m["body"] for m in server).decode())


def test_the_app_puts_the_servers_send_in_the_scope_past_starlettes_wrappers() -> None:
    seen: list[Any] = []

    async def endpoint(request: Request) -> Response:
        seen.append(request.scope.get(SERVER_SEND))
        return Response("ok")

    async def server_send(message: dict[str, Any]) -> None:
        sent.append(message)

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    app = App(routes=[Route("/", endpoint)])
    scope = {"type": "http", "method": "GET", "path": "/", "raw_path": b"/", "root_path": "", "scheme": "http",
             "query_string": b"", "headers": [], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
             "http_version": "1.1", "asgi": {"version": "3.0"}}
    asyncio.run(app(scope, receive, server_send))  # type: ignore[arg-type]
    assert seen == [server_send]
    assert sent[0]["status"] == 200


async def test_a_failure_after_the_reply_completed_ends_the_stream_normally() -> None:
    """A provider can fail while it reads the upstream's last bytes, after the message's stop: the
    client already has the whole reply, so it gets no error event and the request counts as served."""
    async def batches() -> AsyncIterator[Batch]:
        async for batch in play(text_reply("all", " there")):
            yield batch
        raise Overloaded("connection reset after the end")

    sent: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sent.append(message["body"])

    ended: list[tuple[int, MessageStop | None]] = []
    response = EventStreamResponse(batches(), StreamEncoder("claude-opus-4-8"), ping_interval=60,
                                   closing=asyncio.Event(), on_end=lambda status, stop: ended.append((status, stop)))
    await response({"type": "http"}, never_disconnects, send)  # type: ignore[arg-type]
    events = checked(b"".join(sent).decode())
    assert events[-1][0] == "message_stop" and not any(name == "error" for name, _ in events)
    ((status, stop),) = ended
    assert status == 200 and stop is not None
