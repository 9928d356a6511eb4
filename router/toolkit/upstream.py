"""Sending a provider's request and reading its streamed reply: the I/O every HTTP provider needs.

A provider's shell builds a body (in its `translate` module) and hands it here: `Backend.send`
posts it with the reply streamed, turning transport failures into router errors that name the
backend (never a URL or a token); `accept` lets a 200 through and turns any other reply into
the provider's own error; a provider that handles a status first (a refresh on 401, then a
replay) looks at `send`'s response itself and `drain`s it. The reply is then read in batches,
one per body chunk read (what the backend sent together goes to the client together; the
reply's first event goes alone, so the client's first byte never waits for a whole burst):
`sse_batches` for Server-Sent Events carrying JSON, `chunk_batches` for a binary body that the
provider decodes itself. Either closes the response however the reading ends, the consumer
closing the generator included, and reads the body to its end so the connection goes back to
the pool.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from router.errors import ProviderError, UpstreamTimeout, UpstreamUnavailable
from router.events import Batch, Event
from router.toolkit.eventsource import BlockSplitter, parse_block
from router.transport.body import body_chunks

ErrorMapping = Callable[[int, bytes, httpx.Headers], ProviderError]
"""Turns a refused request (status, body, headers) into the router error to raise: the provider's
`error_from_http`, with the request's details bound (`functools.partial`)."""

EventFeed = Callable[[str, dict[str, Any]], Sequence[Event]]
"""Translates one SSE event (its `event:` name, its parsed JSON object) into canonical events."""

ChunkFeed = Callable[[bytes], Iterable[Event]]
"""Translates one chunk of a binary body (fed in order) into canonical events. It may be a
generator (frame by frame): when it fails part-way, the events it gave first still go out, as
a batch of their own, before the error."""

Finish = Callable[[], Sequence[Event]]
"""The events that end the reply once the body is over (or a router error if it ended too soon)."""


@dataclass(frozen=True, slots=True)
class Backend:
    """One upstream service as a provider reaches it.

    `http` is the shared client (`ProviderContext.http`); `name` is the backend as error messages
    say it, in the middle of a sentence ("the Codex backend", "OpenRouter"); `provider` is the
    provider's key, set on every error raised here.
    """

    http: httpx.AsyncClient
    name: str
    provider: str

    async def send(self, method: str, url: str, *, content: bytes, headers: Mapping[str, str]) -> httpx.Response:
        """The response, whatever its status, with its body still to be read (close it, or `drain` it)."""
        request = self.http.build_request(method, url, content=content, headers=headers)
        try:
            return await self.http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(f"{self.name} did not answer in time ({type(exc).__name__})",
                                  provider=self.provider) from None
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"could not reach {self.name} ({type(exc).__name__})",
                                      provider=self.provider) from None

    async def open(
        self, method: str, url: str, *, content: bytes, headers: Mapping[str, str], error: ErrorMapping
    ) -> httpx.Response:
        """`send`, then `accept`: a 200 response ready to be read, or `error`'s exception."""
        return await accept(await self.send(method, url, content=content, headers=headers), error)

    def sse_batches(self, response: httpx.Response, feed: EventFeed, finish: Finish) -> AsyncGenerator[Batch, None]:
        """The reply's SSE events through `feed`, then `finish`'s events, as `chunk_batches` does.

        One batch per body chunk read: the events of every SSE event the chunk completed (a paced
        backend sends one per read, a burst many). Events without data and the `[DONE]` marker are
        skipped; the body is read to its end all the same.
        """
        blocks = BlockSplitter()

        def translate(chunk: bytes) -> Iterator[Event]:
            for block in blocks.complete(chunk):
                yield from self._translate(block, feed)

        def end() -> list[Event]:  # an event the body ended without its blank line, then the reply's end
            return [*self._translate(blocks.rest(), feed), *finish()]

        return self.chunk_batches(response, translate, end)

    def _translate(self, block: bytes, feed: EventFeed) -> Sequence[Event]:
        message = parse_block(block)
        if message is None or not message.data or message.data == "[DONE]":
            return ()
        try:
            data = orjson.loads(message.data)
        except orjson.JSONDecodeError:
            raise UpstreamUnavailable(f"{self.name} sent an event that is not JSON", provider=self.provider) from None
        if not isinstance(data, dict):
            raise UpstreamUnavailable(f"{self.name} sent an event that is not a JSON object", provider=self.provider)
        return feed(message.event, data)

    async def chunk_batches(
        self, response: httpx.Response, feed: ChunkFeed, finish: Finish
    ) -> AsyncGenerator[Batch, None]:
        """The reply's body chunks through `feed`, one batch per chunk that yields any, then `finish`'s.

        The reply's very first event is a batch of its own: a backend that bursts its whole reply
        in one read would otherwise hold the client's first byte until every event of that read
        was translated and encoded (a millisecond for a few hundred events).
        """
        started = False
        try:
            async for chunk in body_chunks(response):
                batch: list[Event] = []
                try:
                    events = iter(feed(chunk))
                    if not started:
                        for event in events:
                            started = True
                            yield [event]
                            break
                    batch.extend(events)
                except Exception:
                    if batch:  # what came before the failure (the frames ahead of an error frame)
                        yield batch
                    raise
                if batch:
                    yield batch
        except httpx.HTTPError as exc:
            raise self._broken(exc) from None
        finally:
            await response.aclose()
        last = finish()
        if last:
            yield last

    def _broken(self, exc: httpx.HTTPError) -> ProviderError:
        """The error for a reply that failed after it began: the backend fell silent, or the connection broke."""
        if isinstance(exc, httpx.TimeoutException):
            return UpstreamTimeout(f"{self.name} went silent mid-reply", provider=self.provider)
        return UpstreamUnavailable(f"the connection to {self.name} broke ({type(exc).__name__})",
                                   provider=self.provider)


async def accept(response: httpx.Response, error: ErrorMapping) -> httpx.Response:
    """`response` if it is a 200; otherwise its body is drained and `error(status, body, headers)` raised."""
    if response.status_code == 200:
        return response
    raise error(response.status_code, await drain(response), response.headers)


async def drain(response: httpx.Response) -> bytes:
    """A refused reply's body (empty if even that cannot be read), the response closed either way."""
    try:
        return await response.aread()
    except httpx.HTTPError:
        return b""
    finally:
        await response.aclose()
