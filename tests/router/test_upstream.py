"""`router.toolkit.upstream` against `httpx.MockTransport`: sending, refusals, the two read loops, closing."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx
import pytest

from router.errors import ProviderError, RateLimited, UpstreamTimeout, UpstreamUnavailable
from router.events import Event, MessageStop, TextDelta
from router.toolkit.upstream import Backend, accept, drain
from router.testing.scripted import ScriptedBody as Body

URL = "https://backend.test/v1/reply?key=sk-secret-in-the-url"
STOP = MessageStop("end_turn")


def backend(*answers: httpx.Response | Exception) -> Backend:
    """A backend whose next requests get `answers`, in order (an exception is raised by the transport)."""
    queue = list(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return Backend(httpx.AsyncClient(transport=httpx.MockTransport(handle)), "the Test backend", "test")


async def opened(*chunks: bytes, fail: Exception | None = None, stall: bool = False,
                 headers: Mapping[str, str] | None = None) -> tuple[Backend, httpx.Response, Body]:
    body = Body(*chunks, fail=fail, stall=stall)
    test = backend(httpx.Response(200, stream=body, headers=headers))
    return test, await test.send("POST", URL, content=b"{}", headers={}), body


def text_feed(name: str, data: dict[str, Any]) -> list[Event]:
    """`{"n": 3}` makes no events; other events one `name:n` delta."""
    return [] if data.get("n") == 3 else [TextDelta(f"{name}:{data['n']}")]


def finish() -> list[Event]:
    return [STOP]


def refusal(status: int, body: bytes, headers: httpx.Headers) -> ProviderError:
    return RateLimited(f"{status} {body.decode()} {headers.get('retry-after')}", provider="test")


# -- sending ------------------------------------------------------------------------------------


async def test_send_builds_the_request_and_returns_any_status_unread() -> None:
    seen: list[httpx.Request] = []
    body = Body(b"refused")

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, stream=body)

    test = Backend(httpx.AsyncClient(transport=httpx.MockTransport(handle)), "the Test backend", "test")
    response = await test.send("POST", URL, content=b'{"a":1}', headers={"x-one": "1"})
    assert response.status_code == 401 and not body.exhausted and not body.closed
    assert seen[0].method == "POST" and str(seen[0].url) == URL
    assert seen[0].content == b'{"a":1}' and seen[0].headers["x-one"] == "1"
    assert await drain(response) == b"refused" and body.closed


@pytest.mark.parametrize(("failure", "kind", "message"), [
    (httpx.ConnectError(f"cannot connect to {URL}"), UpstreamUnavailable,
     "could not reach the Test backend (ConnectError)"),
    (httpx.ConnectTimeout(f"timed out on {URL}"), UpstreamTimeout,
     "the Test backend did not answer in time (ConnectTimeout)"),
    (httpx.RemoteProtocolError("bad"), UpstreamUnavailable,
     "could not reach the Test backend (RemoteProtocolError)"),
])
async def test_transport_failures_become_router_errors_naming_the_backend_not_the_url(
    failure: Exception, kind: type[ProviderError], message: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        await backend(failure).send("POST", URL, content=b"", headers={})
    assert type(caught.value) is kind
    assert caught.value.message == message and caught.value.provider == "test"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


async def test_open_passes_a_200_through_unread() -> None:
    body = Body(b"data: {}\n\n")
    response = await backend(httpx.Response(200, stream=body)).open("POST", URL, content=b"", headers={},
                                                                     error=refusal)
    assert response.status_code == 200 and not body.exhausted and not body.closed


async def test_a_refusal_is_drained_closed_and_mapped_by_the_provider() -> None:
    body = Body(b"slow ", b"down")
    test = backend(httpx.Response(429, stream=body, headers={"retry-after": "7"}))
    with pytest.raises(RateLimited) as caught:
        await test.open("POST", URL, content=b"", headers={}, error=refusal)
    assert caught.value.message == "429 slow down 7"
    assert body.exhausted and body.closed


async def test_a_refusal_whose_body_cannot_be_read_is_mapped_with_an_empty_body() -> None:
    body = Body(b"half", fail=httpx.ReadError("reset"))
    test = backend(httpx.Response(503, stream=body))
    response = await test.send("POST", URL, content=b"", headers={})
    with pytest.raises(RateLimited) as caught:
        await accept(response, refusal)
    assert caught.value.message == "503  None" and body.closed


# -- reading SSE --------------------------------------------------------------------------------


async def test_each_chunk_read_is_one_batch_of_the_sse_events_it_completes() -> None:
    test, response, body = await opened(
        b'event: first\ndata: {"n": 1}\n\n: keep-alive\n\ndata: {"n"',
        b': 2}\n\ndata: {"n": 3}\n\ndata:\n\ndata: {"n": 4}\r\n\r\n',
        b"data: [DONE]\n\n",
        b": the end\n\n",
    )
    batches = [list(batch) async for batch in test.sse_batches(response, text_feed, finish)]
    assert batches == [[TextDelta("first:1")], [TextDelta("message:2"), TextDelta("message:4")], [STOP]]
    assert body.exhausted and body.closed  # read past [DONE], so the connection can be reused


async def test_an_sse_event_the_body_ends_without_a_blank_line_still_counts() -> None:
    test, response, _ = await opened(b'data: {"n": 1}\n\ndata: {"n": 2}')
    batches = [list(batch) async for batch in test.sse_batches(response, text_feed, finish)]
    assert batches == [[TextDelta("message:1")], [TextDelta("message:2"), STOP]]


async def test_the_sse_events_of_a_chunk_before_a_failing_one_go_out_first() -> None:
    def refuse_two(name: str, data: dict[str, Any]) -> list[Event]:
        if data["n"] == 2:
            raise RateLimited("limit reached in the stream", provider="test")
        return text_feed(name, data)

    test, response, body = await opened(b'data: {"n": 1}\n\ndata: {"n": 2}\n\ndata: {"n": 4}\n\n')
    seen: list[list[Event]] = []
    with pytest.raises(RateLimited, match="limit reached in the stream"):  # a router error passes unchanged
        async for batch in test.sse_batches(response, refuse_two, finish):
            seen.append(list(batch))
    assert seen == [[TextDelta("message:1")]] and body.closed


async def test_a_gzipped_sse_body_is_decoded() -> None:
    import gzip

    test, response, _ = await opened(gzip.compress(b'data: {"n": 1}\n\n'), headers={"content-encoding": "gzip"})
    batches = [list(batch) async for batch in test.sse_batches(response, text_feed, finish)]
    assert batches == [[TextDelta("message:1")], [STOP]]


@pytest.mark.parametrize(("data", "message"), [
    (b"data: [1, 2]\n\n", "the Test backend sent an event that is not a JSON object"),
    (b"data: {not json\n\n", "the Test backend sent an event that is not JSON"),
])
async def test_an_event_that_is_not_a_json_object_is_unavailable(data: bytes, message: str) -> None:
    test, response, body = await opened(b'data: {"n": 1}\n\n', data + b'data: {"n": 2}\n\n')
    seen: list[Sequence[Event]] = []
    with pytest.raises(UpstreamUnavailable) as caught:
        async for batch in test.sse_batches(response, text_feed, finish):
            seen.append(batch)
    assert seen == [[TextDelta("message:1")]]
    assert caught.value.message == message and caught.value.provider == "test" and body.closed


@pytest.mark.parametrize(("failure", "kind", "message"), [
    (httpx.ReadTimeout("slow"), UpstreamTimeout, "the Test backend went silent mid-reply"),
    (httpx.RemoteProtocolError("cut"), UpstreamUnavailable,
     "the connection to the Test backend broke (RemoteProtocolError)"),
])
async def test_a_reply_failing_midway_is_a_router_error_and_never_finishes(
    failure: Exception, kind: type[ProviderError], message: str
) -> None:
    finished: list[bool] = []

    def finish_once() -> list[Event]:
        finished.append(True)
        return [STOP]

    for read in ("sse", "chunks"):
        test, response, body = await opened(b'data: {"n": 1}\n\n', fail=failure)
        batches = (test.sse_batches(response, text_feed, finish_once) if read == "sse"
                   else test.chunk_batches(response, lambda chunk: [TextDelta(chunk.decode())], finish_once))
        with pytest.raises(ProviderError) as caught:
            async for _ in batches:
                pass
        assert type(caught.value) is kind and caught.value.message == message, read
        assert caught.value.provider == "test" and body.closed and not finished


async def test_closing_the_reader_closes_the_response_and_skips_finish() -> None:
    for read in ("sse", "chunks"):
        test, response, body = await opened(b'data: {"n": 1}\n\n', b'data: {"n": 2}\n\n', stall=True)
        batches = (test.sse_batches(response, text_feed, finish) if read == "sse"
                   else test.chunk_batches(response, lambda chunk: [TextDelta(chunk.decode())], finish))
        assert await anext(batches)
        await batches.aclose()
        assert body.closed and not body.exhausted, read


# -- reading chunks -----------------------------------------------------------------------------


def letters(chunk: bytes) -> Iterator[Event]:
    return (TextDelta(letter) for letter in chunk.decode() if letter != "-")


async def test_each_chunk_is_one_batch_of_its_events_after_the_first_event() -> None:
    test, response, body = await opened(b"-", b"abc", b"", b"-", b"de", b"f")
    batches = [list(batch) async for batch in test.chunk_batches(response, letters, finish)]
    assert batches == [[TextDelta("a")], [TextDelta("b"), TextDelta("c")], [TextDelta("d"), TextDelta("e")],
                       [TextDelta("f")], [STOP]]
    assert body.exhausted and body.closed


async def test_the_first_event_goes_out_before_the_rest_of_its_chunk_is_translated() -> None:
    translated: list[str] = []

    def tracked(chunk: bytes) -> Iterator[Event]:
        for letter in chunk.decode():
            translated.append(letter)
            yield TextDelta(letter)

    test, response, _ = await opened(b"abcd")
    batches = test.chunk_batches(response, tracked, finish)
    assert list(await anext(batches)) == [TextDelta("a")] and translated == ["a"]
    assert list(await anext(batches)) == [TextDelta("b"), TextDelta("c"), TextDelta("d")]
    await batches.aclose()


async def test_the_events_of_a_chunk_before_a_failure_in_it_go_out_first() -> None:
    def frames(chunk: bytes) -> Iterator[Event]:
        for letter in chunk.decode():
            if letter == "!":
                raise RateLimited("throttled mid-chunk", provider="test")
            yield TextDelta(letter)

    test, response, body = await opened(b"ab", b"cd!ef")
    seen: list[list[Event]] = []
    with pytest.raises(RateLimited):
        async for batch in test.chunk_batches(response, frames, finish):
            seen.append(list(batch))
    assert seen == [[TextDelta("a")], [TextDelta("b")], [TextDelta("c"), TextDelta("d")]]
    assert body.closed


async def test_finish_may_fail_after_the_response_is_closed() -> None:
    def cut_off() -> list[Event]:
        raise UpstreamUnavailable("the reply ended in the middle of a frame", provider="test")

    test, response, body = await opened(b"ab")
    with pytest.raises(UpstreamUnavailable, match="middle of a frame"):
        async for _ in test.chunk_batches(response, lambda chunk: [TextDelta(chunk.decode())], cut_off):
            pass
    assert body.exhausted and body.closed
