"""Kiro's decoded event-stream frames -> canonical events, through one explicit state object per reply.

Kiro streams a reply as `assistantResponseEvent`s (text pieces), `reasoningContentEvent`s
(native reasoning), `toolUseEvent`s (a call's JSON arguments in string fragments, the
last one flagged `stop`) and usage events, with no explicit end event (protocol sheet A5).

- Text goes through a `ThinkingSplitter` when thinking was requested in-band, so
  `<thinking>` sections become thinking blocks even when a tag is split across events.
- Native reasoning becomes a thinking block carrying Kiro's signature, tagged with this
  provider and model; `redactedContent` becomes a redacted block.
- Tool calls are assembled and emitted whole at their `stop` (start, one input delta with
  the complete JSON, stop): fragments of two calls may interleave, canonical blocks may not,
  and arguments that do not parse are caught before the client sees them (they become `{}`
  and the stop reason `max_tokens`, as the reply was evidently cut off).
- Usage: token counts from `metadataEvent.tokenUsage` (SDK), `metadataEvent.usage`
  (Bedrock-style) or `metricsEvent`; failing those, input tokens are estimated from
  `contextUsageEvent`'s percentage of the model's context window and output tokens as
  one per four characters produced. `meteringEvent` credits are kept in `credits`.
- Stop reason: `tool_use` when a call was made, `max_tokens` when the reply was cut off (or
  a bare `stop` arrived with no call, C2C's heuristic, or the metadata says so), else `end_turn`.
- Exception and error frames raise router errors (`failures.error_from_exception`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import orjson

from providers.kiro.eventstream import Frame
from providers.kiro.failures import PROVIDER, error_from_exception
from providers.kiro.models import DEFAULT_CONTEXT_WINDOW
from providers.kiro.tags import Piece, ThinkingSplitter
from providers.kiro.tools import ToolNames
from router import events as ev
from router.conversation import Signature, StopReason, Usage
from router.errors import UpstreamRejected, UpstreamUnavailable
from router.route import Route

EMPTY_SENTINEL = "(empty)"
"""What Kiro sends as text when the model wrote none before a tool call; never shown."""

_Open = Literal["text", "thinking", "reasoning"]
_STOP_REASONS: dict[str, StopReason] = {
    "END_TURN": "end_turn",
    "TOOL_USE": "tool_use",
    "MAX_TOKENS": "max_tokens",
    "STOP_SEQUENCE": "stop_sequence",
}
_CHARS_PER_TOKEN = 4


@dataclass(slots=True)
class _Call:
    """A tool call being assembled from its fragments."""

    id: str
    name: str
    fragments: list[str] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Counts:
    """Token counts as reported; None where Kiro said nothing."""

    input: int | None = None
    output: int | None = None
    cache_read: int = 0
    cache_write: int = 0
    context_percent: float | None = None


class ReplyState:
    """Reads one Kiro reply: `feed` each `Frame` as it is decoded, then `finish` at end of body.

    `names` maps shortened tool names back; `parse_thinking_tags` splits `<thinking>`
    sections out of the text; `show_thinking=False` drops reasoning (the client did not ask);
    `context_window` turns a context percentage into tokens; `large_request` reads a bare
    "Improperly formed request" exception as a context overflow. Failures are raised.
    """

    _HANDLERS: ClassVar[dict[str, Callable[[ReplyState, Mapping[str, Any]], list[ev.Event]]]]

    def __init__(
        self,
        route: Route,
        names: ToolNames | None = None,
        *,
        parse_thinking_tags: bool = False,
        show_thinking: bool = True,
        context_window: int = DEFAULT_CONTEXT_WINDOW,
        large_request: bool = False,
        drop_repeated_content: bool = False,
    ) -> None:
        self.route = route
        self.names = names or ToolNames()
        self.show_thinking = show_thinking
        self.context_window = context_window
        self.large_request = large_request
        self.drop_repeated_content = drop_repeated_content
        self.splitter = ThinkingSplitter(enabled=parse_thinking_tags)
        self.counts = _Counts()
        self.credits: float | None = None
        self.notes: list[str] = []
        self.started = self.finished = False
        self._open: _Open | None = None
        self._signature: str | None = None
        self._calls: dict[str, _Call] = {}
        self._done_calls: set[str] = set()
        self._called = self._truncated = False
        self._stop_hint: StopReason | None = None
        self._last_content: str | None = None
        self._chars = 0

    # -- the interface -----------------------------------------------------------------------

    def feed(self, frame: Frame) -> list[ev.Event]:
        """The canonical events one frame yields (often none); raises on exception/error frames."""
        if frame.message_type in ("exception", "error"):
            raise error_from_exception(
                frame.event_type, frame.payload, model=self.route.model, large_request=self.large_request
            )
        return self.feed_event(frame.event_type, frame.payload)

    def feed_event(self, event_type: str, payload: Mapping[str, Any]) -> list[ev.Event]:
        """The canonical events of one event by name; unknown event types are ignored."""
        if self.finished:
            return []
        start = self._start()
        handler = self._HANDLERS.get(event_type)
        return start + (handler(self, payload) if handler is not None else [])

    def finish(self) -> list[ev.Event]:
        """The body ended: flush held text, emit unfinished calls, close, and stop."""
        if self.finished:
            return []
        if not self.started:
            raise UpstreamUnavailable("Kiro ended the reply without sending any event", provider=PROVIDER)
        events = self._pieces(self.splitter.flush())
        for call in list(self._calls.values()):
            events += self._emit_call(call)
        events += self._close()
        self.finished = True
        return events + [ev.MessageStop(self._stop_reason(), self._usage())]

    # -- blocks ------------------------------------------------------------------------------

    def _start(self) -> list[ev.Event]:
        if self.started:
            return []
        self.started = True
        return [ev.MessageStart(self.route.model)]

    def _open_block(self, kind: _Open) -> list[ev.Event]:
        if self._open == kind:
            return []
        events = self._close()
        self._open = kind
        return events + [ev.TextStart() if kind == "text" else ev.ThinkingStart()]

    def _close(self) -> list[ev.Event]:
        """Close the open block; a native reasoning block gets its signature first."""
        if self._open is None:
            return []
        events: list[ev.Event] = []
        if self._open == "reasoning" and self._signature:
            events.append(ev.SignatureDelta(Signature(self.route.provider, self.route.model, self._signature)))
        self._open, self._signature = None, None
        return events + [ev.BlockStop()]

    def _pieces(self, pieces: list[Piece]) -> list[ev.Event]:
        events: list[ev.Event] = []
        for kind, text in pieces:
            if kind == "text" and text:
                self._chars += len(text)
                events += self._open_block("text") + [ev.TextDelta(text)]
            elif kind == "thinking" and text and self.show_thinking:
                self._chars += len(text)
                events += self._open_block("thinking") + [ev.ThinkingDelta(text)]
            elif kind == "end" and self._open == "thinking":
                events += self._close()
        return events

    # -- events ------------------------------------------------------------------------------

    def _text(self, payload: Mapping[str, Any]) -> list[ev.Event]:
        content = payload.get("content")
        if not isinstance(content, str) or not content or content == EMPTY_SENTINEL:
            return []
        if self.drop_repeated_content and content == self._last_content:
            return []
        self._last_content = content
        return self._pieces(self.splitter.feed(content))

    def _reasoning(self, payload: Mapping[str, Any]) -> list[ev.Event]:
        """Native reasoning: text deltas, then the signature, which closes the block when it ends."""
        if not self.show_thinking:
            return []
        text, signature, redacted = (
            payload.get("text"),
            payload.get("signature"),
            payload.get("redactedContent"),
        )
        events: list[ev.Event] = []
        if redacted:
            events += self._close() + [ev.ThinkingStart(redacted=True)]
            value = redacted if isinstance(redacted, str) else orjson.dumps(redacted).decode()
            events.append(ev.SignatureDelta(Signature(self.route.provider, self.route.model, value)))
            return events + [ev.BlockStop()]
        if isinstance(text, str) and text:
            if self._open == "reasoning" and self._signature:
                events += self._close()  # a signed block is complete: this is the next one
            self._chars += len(text)
            events += self._open_block("reasoning") + [ev.ThinkingDelta(text)]
        if isinstance(signature, str) and signature:
            events += self._open_block("reasoning")
            self._signature = signature
        return events

    def _tool(self, payload: Mapping[str, Any]) -> list[ev.Event]:
        """Assemble a call's fragments; emit it whole when its `stop` arrives."""
        call = self._call_for(payload)
        stop = payload.get("stop") is True
        if call is None:
            if stop and not self._called:
                self._truncated = True  # a bare stop without any call: the reply was cut off
            return []
        fragment = payload.get("input")
        if isinstance(fragment, str):
            call.fragments.append(fragment)
        elif isinstance(fragment, Mapping):
            call.fields.update(fragment)
        return self._emit_call(call) if stop else []

    def _call_for(self, payload: Mapping[str, Any]) -> _Call | None:
        tool_id, name = payload.get("toolUseId"), payload.get("name")
        if not isinstance(tool_id, str) or not tool_id:
            return next(reversed(self._calls.values()), None)
        if tool_id in self._done_calls:
            return None
        call = self._calls.setdefault(tool_id, _Call(tool_id, ""))
        if isinstance(name, str) and name and not call.name:
            call.name = name
        return call

    def _emit_call(self, call: _Call) -> list[ev.Event]:
        del self._calls[call.id]
        self._done_calls.add(call.id)
        arguments = self._arguments(call)
        self._called = True
        self._chars += len(arguments)
        events = self._pieces(self.splitter.flush()) + self._close()
        self.splitter.new_segment()
        name = self.names.tool_name(call.name)
        return events + [ev.ToolUseStart(call.id, name), ev.ToolInputDelta(arguments), ev.BlockStop()]

    def _arguments(self, call: _Call) -> str:
        """The call's complete JSON object; `{}` (and a note) when the fragments do not parse."""
        text = "".join(call.fragments).strip()
        try:
            parsed = orjson.loads(text) if text else {}
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            self._truncated = True
            self.notes.append(
                f"tool call {call.id} ({call.name}) had arguments that are not a JSON object; sent {{}}"
            )
            return "{}"
        if call.fields:
            return orjson.dumps({**parsed, **call.fields}).decode()
        return text or "{}"

    def _metadata(self, payload: Mapping[str, Any]) -> list[ev.Event]:
        """`tokenUsage` (SDK shape) or `usage` (Bedrock shape), and `stopReason` when present."""
        token_usage = payload.get("tokenUsage")
        if isinstance(token_usage, Mapping):
            self._take_counts(token_usage, "uncachedInputTokens")
        usage = payload.get("usage")
        if isinstance(usage, Mapping):
            self._take_counts(usage, "inputTokens")
        reason = payload.get("stopReason")
        if isinstance(reason, str):
            self._stop_hint = _STOP_REASONS.get(reason.upper(), self._stop_hint)
        return []

    def _metrics(self, payload: Mapping[str, Any]) -> list[ev.Event]:
        inner = payload.get("metrics")
        self._take_counts(inner if isinstance(inner, Mapping) else payload, "inputTokens")
        return []

    def _take_counts(self, usage: Mapping[str, Any], input_key: str) -> None:
        counts = self.counts
        counts.input = _count(usage.get(input_key), counts.input)
        counts.output = _count(usage.get("outputTokens"), counts.output)
        counts.cache_read = _count(usage.get("cacheReadInputTokens"), counts.cache_read) or 0
        counts.cache_write = _count(usage.get("cacheWriteInputTokens"), counts.cache_write) or 0
        self._context_percent(usage)

    def _context_percent(self, payload: Mapping[str, Any]) -> list[ev.Event]:
        value = payload.get("contextUsagePercentage")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.counts.context_percent = float(value)
        return []

    def _metering(self, payload: Mapping[str, Any]) -> list[ev.Event]:
        value = payload.get("usage")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self.credits = (self.credits or 0.0) + float(value)
        return []

    def _invalid_state(self, payload: Mapping[str, Any]) -> list[ev.Event]:
        reason, message = payload.get("reason") or "unknown", payload.get("message") or ""
        raise UpstreamRejected(f"Kiro reported an invalid state ({reason}): {message}", provider=PROVIDER)

    def _error_event(self, payload: Mapping[str, Any]) -> list[ev.Event]:
        kind = str(payload.get("__type") or payload.get("code") or "InternalServerException")
        raise error_from_exception(kind, payload, model=self.route.model, large_request=self.large_request)

    # -- the end -----------------------------------------------------------------------------

    def _stop_reason(self) -> StopReason:
        if self._truncated:
            return "max_tokens"
        if self._called:
            return "tool_use"
        return self._stop_hint or "end_turn"

    def _usage(self) -> Usage:
        """Reported counts, else estimates (context percentage for input, characters for output)."""
        counts = self.counts
        input_tokens = counts.input
        if input_tokens is None:
            percent = counts.context_percent or 0.0
            input_tokens = round(percent / 100 * self.context_window)
        output = counts.output if counts.output is not None else math.ceil(self._chars / _CHARS_PER_TOKEN)
        return Usage(input_tokens, output, counts.cache_read, counts.cache_write)


def _count(value: Any, default: int | None) -> int | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    return default


ReplyState._HANDLERS = {
    "assistantResponseEvent": ReplyState._text,
    "codeEvent": ReplyState._text,
    "reasoningContentEvent": ReplyState._reasoning,
    "toolUseEvent": ReplyState._tool,
    "metadataEvent": ReplyState._metadata,
    "metricsEvent": ReplyState._metrics,
    "contextUsageEvent": ReplyState._context_percent,
    "meteringEvent": ReplyState._metering,
    "invalidStateEvent": ReplyState._invalid_state,
    "error": ReplyState._error_event,
}
