"""Fold a stream of canonical events (in batches) into one `Reply`, for clients that did not ask to stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import assert_never

import orjson

from router.conversation import Block, Reply, Signature, TextBlock, ThinkingBlock, ToolUseBlock, Usage
from router.errors import UpstreamUnavailable
from router.events import (
    Batch,
    BlockStop,
    Event,
    MessageStart,
    MessageStop,
    SignatureDelta,
    TextDelta,
    TextStart,
    ThinkingDelta,
    ThinkingStart,
    ToolInputDelta,
    ToolUseStart,
)

_DELTA_OWNER: dict[type, type] = {TextDelta: TextStart, ThinkingDelta: ThinkingStart, ToolInputDelta: ToolUseStart}


class Collector:
    """Accumulates events; `reply()` gives the finished message once `MessageStop` arrived."""

    def __init__(self) -> None:
        self.model = ""
        self.started: MessageStart | None = None
        self.blocks: list[Block] = []
        self.start: Event | None = None
        self.parts: list[str] = []
        self.signature: Signature | None = None
        self.stop: MessageStop | None = None
        self.usage = Usage()
        self.broken: str | None = None
        """Why a tool call's arguments could not be read: a failure, unless the reply was cut off."""

    def add(self, event: Event) -> None:
        """Take one event; events out of Anthropic's order are an upstream failure, as when streaming."""
        if self.stop is not None or (self.started is None) != isinstance(event, MessageStart):
            raise UpstreamUnavailable(f"provider sent {type(event).__name__} outside a message")
        match event:
            case TextDelta(text=text) | ThinkingDelta(thinking=text) | ToolInputDelta(partial_json=text):
                self._expect(_DELTA_OWNER[type(event)], event)
                self.parts.append(text)
            case SignatureDelta(signature=signature):
                self._expect(ThinkingStart, event)
                self.signature = signature
            case TextStart() | ThinkingStart() | ToolUseStart():
                self._close()
                self.start = event
            case BlockStop():
                if self.start is None:
                    raise UpstreamUnavailable("provider closed a block that was not open")
                self._close()
            case MessageStart(model=model, usage=usage):
                self.started, self.model, self.usage = event, model, usage
            case MessageStop(stop_reason=reason):
                self._close()
                if self.broken is not None and reason != "max_tokens":
                    raise UpstreamUnavailable(self.broken)
                self.stop = event
            case _:
                assert_never(event)

    def _expect(self, kind: type, event: Event) -> None:
        if not isinstance(self.start, kind):
            raise UpstreamUnavailable(f"provider sent {type(event).__name__} with no matching block open")

    def reply(self) -> Reply:
        """The folded message; a stream that never finished is an upstream failure."""
        if self.stop is None:
            raise UpstreamUnavailable("the upstream reply ended before it was complete")
        return Reply(self.model, tuple(self.blocks), self.stop.stop_reason, self.stop.stop_sequence, self.stop.usage)

    def _close(self) -> None:
        start, text = self.start, "".join(self.parts)
        self.start, self.parts = None, []
        match start:
            case None:
                return
            case TextStart():
                self.blocks.append(TextBlock(text))
            case ThinkingStart(redacted=redacted):
                if not redacted or self.signature is not None:
                    self.blocks.append(ThinkingBlock(text, self.signature, redacted))
                self.signature = None
            case ToolUseStart(id=tool_id, name=name, server=server):
                arguments, problem = _arguments(text)
                self.broken = self.broken or problem
                self.blocks.append(ToolUseBlock(tool_id, name, arguments, server))
            case _:
                raise AssertionError(start)


def _arguments(text: str) -> tuple[dict[str, object], str | None]:
    """A call's arguments, or `{}` and what is wrong with them.

    Whether that is a failure waits for the stop: a reply cut off by the output limit may end in
    the middle of a call (the stream says so with its stop reason, and so does the folded reply).
    """
    if not text.strip():
        return {}, None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}, "the upstream model sent tool arguments that are not valid JSON"
    if not isinstance(value, dict):
        return {}, "the upstream model sent tool arguments that are not a JSON object"
    return value, None


async def collect(batches: AsyncIterator[Batch]) -> Reply:
    """Drain a provider's `batches` into one reply."""
    collector = Collector()
    add = collector.add
    async for batch in batches:
        for event in batch:
            add(event)
    return collector.reply()
