"""How the streaming response writes: `message_start` at once, bursts coalesced, lone events written as they come."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from router.anthropic.encode import StreamEncoder
from router.server.app import App
from router.errors import Overloaded
from router.events import Event, MessageStop
from router.anthropic.sse import FLUSH_BYTES, SERVER_SEND, EventStreamResponse
from tests.support.scripted import Sleep, Step, text_reply
from tests.support.sse import checked, parse_sse


async def play(steps: Sequence[Step]) -> AsyncIterator[Event]:
    for step in steps:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
        elif isinstance(step, BaseException):
            raise step
        else:
            yield step


async def writes_of(steps: Sequence[Step]) -> list[bytes]:
    bodies: list[bytes] = []
    ends: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            assert not ends, "nothing may be sent after the body's end"
            if message["body"]:
                bodies.append(message["body"])
            if not message.get("more_body"):
                ends.append(message["body"])

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    ended: list[tuple[int, MessageStop | None]] = []
    response = EventStreamResponse(play(steps), StreamEncoder("claude-opus-4-8"), ping_interval=60,
                                   closing=asyncio.Event(), on_end=lambda status, stop: ended.append((status, stop)))
    await response({"type": "http"}, receive, send)  # type: ignore[arg-type]
    assert len(ended) == 1 and len(ends) == 1
    return bodies


async def test_message_start_goes_alone_then_the_rest_of_a_burst_is_one_write() -> None:
    bodies = await writes_of(text_reply(*[f"chunk{i} " for i in range(50)]))
    assert len(bodies) == 2
    assert [name for name, _ in parse_sse(bodies[0].decode())] == ["message_start"]
    events = checked(b"".join(bodies).decode())
    assert events[-1][0] == "message_stop" and len(events) == 55


async def test_the_last_events_go_out_with_the_end_of_the_body() -> None:
    ends: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body"):
            ends.append(message["body"])

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    steps = text_reply("first", "second")
    response = EventStreamResponse(play([*steps[:3], Sleep(0.01), *steps[3:]]), StreamEncoder("claude-opus-4-8"),
                                   ping_interval=60, closing=asyncio.Event(), on_end=lambda status, stop: None)
    await response({"type": "http"}, receive, send)  # type: ignore[arg-type]
    assert len(ends) == 1 and ends[0].rstrip().endswith(b'{"type":"message_stop"}')
    assert b'"second"' in ends[0]


async def test_a_long_burst_is_written_in_pieces_of_bounded_size() -> None:
    chunk = "x" * 1000
    bodies = await writes_of(text_reply(*[chunk] * (3 * FLUSH_BYTES // 1000)))
    assert len(bodies) >= 4
    assert all(len(body) < FLUSH_BYTES + 2000 for body in bodies)
    checked(b"".join(bodies).decode())


async def test_events_that_arrive_apart_are_written_as_they_arrive() -> None:
    steps = text_reply("first", "second")
    bodies = await writes_of([*steps[:3], Sleep(0.01), *steps[3:]])  # a wait before "second"
    assert len(bodies) == 3
    assert b"message_start" in bodies[0] and b'"first"' in bodies[1] and b'"second"' not in bodies[1]
    assert b'"second"' in bodies[2]
    checked(b"".join(bodies).decode())


async def test_pending_events_are_written_before_the_error_event() -> None:
    steps = text_reply("partial")
    bodies = await writes_of([*steps[:3], Overloaded("gone")])
    events = checked(b"".join(bodies).decode())
    assert [name for name, _ in events] == ["message_start", "content_block_start", "content_block_delta", "error"]


async def test_body_messages_go_to_the_servers_own_send_when_the_app_keeps_it() -> None:
    wrapped: list[dict[str, Any]] = []
    server: list[dict[str, Any]] = []

    async def middleware_send(message: dict[str, Any]) -> None:
        wrapped.append(message)

    async def server_send(message: dict[str, Any]) -> None:
        server.append(message)

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    response = EventStreamResponse(play(text_reply("a", "b")), StreamEncoder("claude-opus-4-8"), ping_interval=60,
                                   closing=asyncio.Event(), on_end=lambda status, stop: None)
    scope = {"type": "http", SERVER_SEND: server_send}
    await response(scope, receive, middleware_send)  # type: ignore[arg-type]
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
