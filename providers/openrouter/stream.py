"""Chat-completions chunks -> canonical events, through one explicit state object per reply.

A reply is a run of segments: reasoning, text, tool calls. Reasoning and text arrive in
order, so a new kind of delta closes the segment before it. Tool calls are addressed by
`index` and several may interleave their argument fragments (the id and name only in the
first), so a call is complete only when the choice finishes. Canonical blocks must not
interleave, so each segment is a block of a `BlockQueue`: the oldest unfinished segment
streams live, later ones hold their events back until everything before them is done, then
flush in order.

Reasoning: `delta.reasoning` text becomes thinking deltas, and the `delta.reasoning_details`
fragments are merged by `index` into the list OpenRouter's non-streaming reply would give.
When the reasoning segment closes, that list (compact JSON) becomes the block's signature,
so the next turn can send it back unchanged. Details without any text (encrypted reasoning
only) make a redacted block; text without details makes a block with no signature.

Usage arrives in a last chunk with no choices, after `finish_reason`, so `ev.MessageStop` waits
for `finish()` at `[DONE]` or the end of the stream; a stream that never gave a
`finish_reason` was cut off and raises, never ends as a silent truncation.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from providers.openrouter.failures import PROVIDER, error_from_stream
from providers.openrouter.tools import ToolNames
from router import events as ev
from router.conversation import Signature, StopReason, Usage
from router.errors import UpstreamUnavailable
from router.route import Route
from router.toolkit.blocks import BlockQueue

_STOP_REASONS: dict[str, StopReason] = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}
_CONCATENATED = ("text", "summary")


@dataclass(slots=True, eq=False)
class _Segment:
    """One future block (its key in the queue) and what it collected so far."""

    kind: Literal["thinking", "text", "tool"]
    details: list[dict[str, Any]] = field(default_factory=list)
    call_id: str = ""
    name: str = ""
    early_arguments: list[str] = field(default_factory=list)


def usage_from(raw: Any) -> tuple[Usage, float | None]:
    """OpenRouter usage in Anthropic's terms, and the cost in credits when reported (also in the usage,
    for the router's usage ledger).

    `prompt_tokens` includes cached reads and cache writes; Anthropic counts them apart.
    """
    if not isinstance(raw, Mapping):
        return Usage(), None
    details = raw.get("prompt_tokens_details")
    details = details if isinstance(details, Mapping) else {}
    cached, written = _count(details.get("cached_tokens")), _count(details.get("cache_write_tokens"))
    reported = raw.get("cost")
    cost = float(reported) if isinstance(reported, (int, float)) and not isinstance(reported, bool) else None
    usage = Usage(
        input_tokens=max(0, _count(raw.get("prompt_tokens")) - cached - written),
        output_tokens=_count(raw.get("completion_tokens")),
        cache_read_input_tokens=cached,
        cache_creation_input_tokens=written,
        cost=cost,
    )
    return usage, cost


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def merge_detail(details: list[dict[str, Any]], fragment: Mapping[str, Any]) -> None:
    """Fold one streamed `reasoning_details` fragment into the list, by `index` and `type`.

    Text and summary pieces are concatenated; any other field (signature, data, id, format)
    takes the latest non-empty value.
    """
    index = fragment.get("index")
    target = next(
        (item for item in details if isinstance(index, int) and item.get("index") == index
         and item.get("type") == fragment.get("type")),
        None,
    )
    if target is None:
        details.append(dict(fragment))
        return
    for key, value in fragment.items():
        if key in _CONCATENATED and isinstance(value, str):
            target[key] = str(target.get(key) or "") + value
        elif value is not None and value != "":
            target[key] = value


def _detail_text(fragment: Mapping[str, Any]) -> str:
    for key in _CONCATENATED:
        value = fragment.get(key)
        if isinstance(value, str):
            return value
    return ""


class ReplyState:
    """Reads one reply: `feed` each chunk (parsed JSON) as it arrives, then `finish` at the end.

    `names` maps shortened tool names back; `show_thinking` says whether reasoning text is
    wanted (when not, signed reasoning still comes back, as a redacted block, so that tool
    rounds keep their chain). `cost` holds the credits the reply cost, once reported.
    """

    def __init__(self, route: Route, names: ToolNames | None = None, *, show_thinking: bool = True) -> None:
        self.route = route
        self.names = names or ToolNames()
        self.show_thinking = show_thinking
        self.blocks: BlockQueue[_Segment] = BlockQueue()
        self.current: _Segment | None = None
        self.calls: dict[int, _Segment] = {}
        self.call_ids: dict[str, int] = {}
        self.started = False
        self.finish_reason: str | None = None
        self.refused = False
        self.usage = Usage()
        self.cost: float | None = None
        self.model: str | None = None

    def feed(self, chunk: Mapping[str, Any]) -> list[ev.Event]:
        """The canonical events one chunk yields (often none); raises on an error chunk.

        Chunks come from `orjson.loads`, so JSON objects are checked with `isinstance(x, dict)`:
        a check against `Mapping` runs the ABC machinery in Python, several times per event.
        """
        error = chunk.get("error")
        if isinstance(error, dict):
            raise error_from_stream(error, model=self.route.model)
        out = self._start(chunk)
        if chunk.get("usage") is not None:
            self.usage, self.cost = usage_from(chunk["usage"])
        choices = chunk.get("choices")
        for choice in choices[:1] if isinstance(choices, list) else ():
            if isinstance(choice, dict) and self.finish_reason is None:
                self._choice(choice)
        return out + self.blocks.ready()

    def finish(self) -> list[ev.Event]:
        """At `[DONE]` or end of stream: the final `ev.MessageStop`, or a failure if the reply was cut off."""
        if self.finish_reason is None:
            raise UpstreamUnavailable("the OpenRouter stream ended before the reply finished", provider=PROVIDER)
        return [ev.MessageStop(self._stop_reason(), self.usage)]

    # -- plumbing --------------------------------------------------------------------------------------

    def _start(self, chunk: Mapping[str, Any]) -> list[ev.Event]:
        if self.started:
            return []
        self.started = True
        model = chunk.get("model")
        self.model = model if isinstance(model, str) and model else None
        return [ev.MessageStart(self.model or self.route.model)]

    def _segment(self, kind: Literal["thinking", "text"]) -> _Segment:
        """The open reasoning or text segment, or a new one (closing the one before)."""
        if self.current is not None and self.current.kind == kind:
            return self.current
        self._close_current()
        self.current = _Segment(kind)
        self.blocks.add(self.current)
        return self.current

    def _close_current(self) -> None:
        if self.current is not None:
            self._close(self.current)
            self.current = None

    # -- deltas ----------------------------------------------------------------------------------------

    def _choice(self, choice: Mapping[str, Any]) -> None:
        delta = choice.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        details = delta.get("reasoning_details")
        self._reasoning(delta.get("reasoning"), details if isinstance(details, list) else [])
        for key in ("content", "refusal"):
            text = delta.get(key)
            if isinstance(text, str) and text:
                self.refused = self.refused or key == "refusal"
                self._text(text)
        calls = delta.get("tool_calls")
        for raw in calls if isinstance(calls, list) else ():
            if isinstance(raw, dict):
                self._call(raw)
        reason = choice.get("finish_reason")
        if isinstance(reason, str) and reason:
            self._finish(reason)

    def _reasoning(self, text: Any, details: list[Any]) -> None:
        fragments = [item for item in details if isinstance(item, dict)]
        if not isinstance(text, str) or not text:
            text = "".join(_detail_text(item) for item in fragments)
        if not text and not fragments:
            return
        segment = self._segment("thinking")
        for fragment in fragments:
            merge_detail(segment.details, fragment)
        if text and self.show_thinking:
            self.blocks.start(segment, ev.ThinkingStart())
            self.blocks.push(segment, ev.ThinkingDelta(text))

    def _text(self, text: str) -> None:
        segment = self._segment("text")
        self.blocks.start(segment, ev.TextStart())
        self.blocks.push(segment, ev.TextDelta(text))

    def _call(self, raw: Mapping[str, Any]) -> None:
        """One tool-call fragment, found by `index` (or by id when a provider leaves index out)."""
        call_id = raw["id"] if isinstance(raw.get("id"), str) else ""
        index = raw.get("index")
        if not isinstance(index, int):
            index = self.call_ids.get(call_id, max(self.calls, default=-1) + (1 if call_id else 0))
        segment = self.calls.get(index)
        if segment is None:
            self._close_current()
            segment = self.calls[index] = _Segment("tool")
            self.blocks.add(segment)
        if call_id and not segment.call_id:
            segment.call_id = call_id
            self.call_ids[call_id] = index
        function = raw.get("function")
        function = function if isinstance(function, dict) else {}
        name, arguments = function.get("name"), function.get("arguments")
        if isinstance(name, str) and name and not segment.name:
            segment.name = name
        if isinstance(arguments, str) and arguments:
            segment.early_arguments.append(arguments)
        if segment.name:
            self._flush_call(segment)

    def _flush_call(self, segment: _Segment) -> None:
        """Open the call once its name is known, then pass on the arguments gathered so far."""
        if not self.blocks.started(segment):
            segment.call_id = segment.call_id or f"call_{uuid.uuid4().hex[:24]}"
            self.blocks.start(segment, ev.ToolUseStart(segment.call_id, self.names.tool_name(segment.name)))
        if segment.early_arguments:
            self.blocks.push(segment, ev.ToolInputDelta("".join(segment.early_arguments)))
            segment.early_arguments = []

    # -- the end ----------------------------------------------------------------------------------------

    def _finish(self, reason: str) -> None:
        """Close every segment, in order; `error` without an error object still fails the reply."""
        if reason == "error":
            raise UpstreamUnavailable("OpenRouter reported an error during the reply", provider=PROVIDER)
        for segment in self.blocks.open_keys():
            self._close(segment)
        self.current = None
        self.finish_reason = reason

    def _close(self, segment: _Segment) -> None:
        if self.blocks.closed(segment):
            return
        match segment.kind:
            case "thinking":
                self._close_reasoning(segment)
            case "text":
                self.blocks.close(segment, ev.BlockStop())
            case "tool":
                if not segment.name:
                    raise UpstreamUnavailable("OpenRouter sent a tool call without a name", provider=PROVIDER)
                self._flush_call(segment)
                self.blocks.close(segment, ev.BlockStop())

    def _close_reasoning(self, segment: _Segment) -> None:
        """Close with the signature; signed reasoning whose text was not shown is a redacted block."""
        signature = self._signature(segment.details) if segment.details else None
        if signature is None:
            self.blocks.close(segment, *([ev.BlockStop()] if self.blocks.started(segment) else []))
            return
        self.blocks.start(segment, ev.ThinkingStart(redacted=True))
        self.blocks.close(segment, ev.SignatureDelta(signature), ev.BlockStop())

    def _signature(self, details: list[dict[str, Any]]) -> Signature:
        return Signature(self.route.provider, self.route.model, orjson.dumps(details).decode())

    def _stop_reason(self) -> StopReason:
        """Tool calls decide over a plain `stop` (some upstreams say `stop` after calling); a
        `tool_calls` finish without any call is just the end of the turn."""
        reason = self.finish_reason or "stop"
        if reason in ("stop", "tool_calls"):
            if self.calls:
                return "tool_use"
            return "refusal" if self.refused else "end_turn"
        return _STOP_REASONS.get(reason, "end_turn")
