"""Codex's Responses SSE events -> canonical events, through one explicit state object per reply.

Codex streams output items (reasoning, message, function_call) addressed by `output_index`,
and parallel tool calls may interleave their argument deltas. Canonical blocks must not
interleave, so each item is a block of a `BlockQueue` keyed by its output index: only the
oldest unfinished item streams live; later items buffer their events until every item before
them is done, then flush in order.

A reasoning item becomes one thinking block: summary text as thinking deltas (parts joined
by a blank line), then its final `encrypted_content` as the block's signature. A reasoning
item without summary text still becomes a block (a redacted one, carrying only the
signature), so the encrypted reasoning survives the round trip through the client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from providers.codex.failures import PROVIDER, error_from_event
from providers.codex.tools import ToolNames
from router import events as ev
from router.conversation import Signature, StopReason, Usage
from router.errors import UpstreamUnavailable
from router.route import Route
from router.toolkit.blocks import BlockQueue

_KINDS = frozenset({"message", "reasoning", "function_call"})
_PART_BREAK = "\n\n"


@dataclass(slots=True)
class _Item:
    """One output item: its kind, whether deltas streamed, and the summary part they belong to."""

    kind: str
    streamed: bool = False
    part: object = None


def usage_from(raw: Any) -> Usage:
    """Codex usage in Anthropic's terms: cached input is reported apart from `input_tokens`."""
    if not isinstance(raw, Mapping):
        return Usage()
    details = raw.get("input_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, Mapping) else 0
    total = _count(raw.get("input_tokens"))
    return Usage(
        input_tokens=max(0, total - cached),
        output_tokens=_count(raw.get("output_tokens")),
        cache_read_input_tokens=cached,
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class ReplyState:
    """Reads one Codex reply: `feed` each SSE event as it arrives, then `finish` at end of stream.

    `names` maps shortened tool names and call ids back to the client's; `show_reasoning`
    says whether thinking blocks are wanted at all; `context_window` (tokens, if known)
    goes into the "prompt is too long" message. Failures are raised, never returned.
    """

    _HANDLERS: ClassVar[dict[str, Callable[[ReplyState, Mapping[str, Any]], list[ev.Event]]]]

    def __init__(
        self,
        route: Route,
        names: ToolNames | None = None,
        *,
        show_reasoning: bool = True,
        context_window: int | None = None,
    ) -> None:
        self.route = route
        self.names = names or ToolNames()
        self.show_reasoning = show_reasoning
        self.context_window = context_window
        self.items: dict[int, _Item] = {}
        self.blocks: BlockQueue[int] = BlockQueue()
        self.ids: dict[str, int] = {}
        self.started = False
        self.finished = False
        self.called_tool = False
        self.refused = False

    def feed(self, event_type: str, data: Mapping[str, Any]) -> list[ev.Event]:
        """The canonical events one Codex event yields (often none); raises on a failure event.

        The JSON `type` decides, as in Codex's own client; `event_type` (the SSE `event:` line)
        is only the fallback for data without one.
        """
        kind = str(data.get("type") or event_type)
        if self.finished:
            return []
        if kind in ("response.failed", "error"):
            raise error_from_event(data, model=self.route.model, context_window=self.context_window)
        handler = self._HANDLERS.get(kind)
        if handler is None:
            return []
        return self._start(data) + handler(self, data)

    def finish(self) -> list[ev.Event]:
        """Called when the stream ends: a reply without `response.completed` was cut off."""
        if not self.finished:
            raise UpstreamUnavailable("Codex stream closed before response.completed", provider=PROVIDER)
        return []

    # -- plumbing ------------------------------------------------------------------------------------

    def _start(self, data: Mapping[str, Any]) -> list[ev.Event]:
        if self.started:
            return []
        self.started = True
        response = data.get("response")
        model = response.get("model") if isinstance(response, Mapping) else None
        return [ev.MessageStart(model if isinstance(model, str) and model else self.route.model)]

    def _lookup(self, data: Mapping[str, Any]) -> int | None:
        """The output_index an event belongs to, by index or else by item id."""
        index = data.get("output_index")
        if isinstance(index, int) and index in self.items:
            return index
        item_id = data.get("item_id")
        if not isinstance(item_id, str):
            item = data.get("item")
            item_id = item.get("id") if isinstance(item, Mapping) else None
        return self.ids.get(item_id) if isinstance(item_id, str) else None

    def _live(self, index: int, kind: str) -> _Item | None:
        item = self.items.get(index)
        return item if item is not None and item.kind == kind and not self.blocks.closed(index) else None

    def _delta(self, index: int, start: ev.Event, delta: ev.Event) -> list[ev.Event]:
        """One delta of an item (its block started first if need be), and what may go out now."""
        self.blocks.start(index, start)
        self.blocks.push(index, delta)
        return self.blocks.ready()

    # -- items ----------------------------------------------------------------------------------------

    def _added(self, data: Mapping[str, Any]) -> list[ev.Event]:
        raw = data.get("item")
        if not isinstance(raw, Mapping) or raw.get("type") not in _KINDS:
            return []
        index = data.get("output_index")
        index = index if isinstance(index, int) else max(self.items, default=-1) + 1
        if index in self.items:
            return []
        item = self.items[index] = _Item(str(raw["type"]))
        self.blocks.add(index)
        if isinstance(raw.get("id"), str):
            self.ids[raw["id"]] = index
        if item.kind != "function_call":
            return []
        self.blocks.start(index, self._tool_start(raw))
        return self.blocks.ready()

    def _tool_start(self, raw: Mapping[str, Any]) -> ev.ToolUseStart:
        self.called_tool = True
        call_id = str(raw.get("call_id") or raw.get("id") or "")
        return ev.ToolUseStart(self.names.call_id(call_id), self.names.tool_name(str(raw.get("name") or "")))

    def _done(self, data: Mapping[str, Any]) -> list[ev.Event]:
        raw = data.get("item")
        if not isinstance(raw, Mapping) or raw.get("type") not in _KINDS:
            return []
        index = self._lookup(data)
        out: list[ev.Event] = []
        if index is None:
            out += self._added(data)
            index = self._lookup(data)
        item = self.items.get(index) if index is not None else None
        if index is None or item is None or self.blocks.closed(index):
            return out
        closing = {
            "message": self._close_text,
            "reasoning": self._close_reasoning,
            "function_call": self._close_call,
        }
        closing[item.kind](index, item, raw)
        return out + self.blocks.ready()

    def _close_text(self, index: int, item: _Item, raw: Mapping[str, Any]) -> None:
        if not item.streamed:
            text = "".join(_part_texts(raw.get("content"), ("output_text", "refusal")))
            if text:
                self.blocks.start(index, ev.TextStart())
                self.blocks.push(index, ev.TextDelta(text))
        self._close(index)

    def _close_reasoning(self, index: int, item: _Item, raw: Mapping[str, Any]) -> None:
        """The block's remaining text if none streamed, its signature, and its stop."""
        if not self.show_reasoning:
            self.blocks.close(index)
            return
        encrypted = raw.get("encrypted_content")
        encrypted = encrypted if isinstance(encrypted, str) and encrypted else None
        if not item.streamed:
            text = _PART_BREAK.join(_part_texts(raw.get("summary"), ("summary_text",)))
            if text:
                self.blocks.start(index, ev.ThinkingStart())
                self.blocks.push(index, ev.ThinkingDelta(text))
            elif encrypted is not None:
                self.blocks.start(index, ev.ThinkingStart(redacted=True))
        if encrypted is not None and self.blocks.started(index):
            self.blocks.push(index, ev.SignatureDelta(Signature(self.route.provider, self.route.model, encrypted)))
        self._close(index)

    def _close_call(self, index: int, item: _Item, raw: Mapping[str, Any]) -> None:
        self.blocks.start(index, self._tool_start(raw))
        arguments = raw.get("arguments")
        if not item.streamed and isinstance(arguments, str) and arguments:
            self.blocks.push(index, ev.ToolInputDelta(arguments))
        self._close(index)

    def _close(self, index: int) -> None:
        """Close the item's block, with a stop when it started (an item that said nothing has none)."""
        if self.blocks.started(index):
            self.blocks.close(index, ev.BlockStop())
        else:
            self.blocks.close(index)

    # -- deltas -----------------------------------------------------------------------------------------

    def _text_delta(self, data: Mapping[str, Any], *, refusal: bool = False) -> list[ev.Event]:
        index, delta = self._lookup(data), data.get("delta")
        item = self._live(index, "message") if index is not None else None
        if index is None or item is None or not isinstance(delta, str) or not delta:
            return []
        item.streamed = True
        self.refused = self.refused or refusal
        return self._delta(index, ev.TextStart(), ev.TextDelta(delta))

    def _refusal_delta(self, data: Mapping[str, Any]) -> list[ev.Event]:
        return self._text_delta(data, refusal=True)

    def _text_done(self, data: Mapping[str, Any]) -> list[ev.Event]:
        """Text that arrived only whole (no deltas) still reaches the client."""
        index = self._lookup(data)
        item = self._live(index, "message") if index is not None else None
        if item is None or item.streamed:
            return []
        return self._text_delta({**data, "delta": data.get("text")})

    def _summary_delta(self, data: Mapping[str, Any]) -> list[ev.Event]:
        return self._thinking_delta(data, ("summary", data.get("summary_index", 0)))

    def _reasoning_text_delta(self, data: Mapping[str, Any]) -> list[ev.Event]:
        return self._thinking_delta(data, ("text", data.get("content_index", 0)))

    def _thinking_delta(self, data: Mapping[str, Any], part: object) -> list[ev.Event]:
        index, delta = self._lookup(data), data.get("delta")
        item = self._live(index, "reasoning") if index is not None else None
        if (
            index is None
            or item is None
            or not self.show_reasoning
            or not isinstance(delta, str)
            or not delta
        ):
            return []
        prefix = _PART_BREAK if item.streamed and part != item.part else ""
        item.part, item.streamed = part, True
        return self._delta(index, ev.ThinkingStart(), ev.ThinkingDelta(prefix + delta))

    def _arguments_delta(self, data: Mapping[str, Any]) -> list[ev.Event]:
        index, delta = self._lookup(data), data.get("delta")
        item = self._live(index, "function_call") if index is not None else None
        if index is None or item is None or not isinstance(delta, str) or not delta:
            return []
        item.streamed = True
        self.blocks.push(index, ev.ToolInputDelta(delta))
        return self.blocks.ready()

    def _arguments_done(self, data: Mapping[str, Any]) -> list[ev.Event]:
        index = self._lookup(data)
        item = self._live(index, "function_call") if index is not None else None
        if item is None or item.streamed:
            return []
        return self._arguments_delta({**data, "delta": data.get("arguments")})

    # -- the end ---------------------------------------------------------------------------------------

    def _completed(self, data: Mapping[str, Any]) -> list[ev.Event]:
        """Close what is still open (in order) and stop; `output` is read only if no item streamed."""
        response = data.get("response")
        response = response if isinstance(response, Mapping) else {}
        out = self._replay(response.get("output")) if not self.items else []
        for index in self.blocks.open_keys():
            self._close(index)
        self.finished = True
        out += self.blocks.ready()
        return out + [ev.MessageStop(self._stop_reason(response), usage_from(response.get("usage")))]

    def _replay(self, output: Any) -> list[ev.Event]:
        """Items given only in the final response (Codex sometimes skips the item events)."""
        out: list[ev.Event] = []
        for index, raw in enumerate(output if isinstance(output, list) else ()):
            out += self._done({"output_index": index, "item": raw})
        return out

    def _stop_reason(self, response: Mapping[str, Any]) -> StopReason:
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, Mapping) else None
        if reason == "max_output_tokens":
            return "max_tokens"
        if reason == "content_filter" or (self.refused and not self.called_tool):
            return "refusal"
        return "tool_use" if self.called_tool else "end_turn"


def _part_texts(parts: Any, kinds: tuple[str, ...]) -> list[str]:
    if not isinstance(parts, list):
        return []
    return [
        str(p.get("text") or "")
        for p in parts
        if isinstance(p, Mapping) and p.get("type") in kinds and p.get("text")
    ]


ReplyState._HANDLERS = {
    "response.created": lambda state, data: [],
    "response.in_progress": lambda state, data: [],
    "response.output_item.added": ReplyState._added,
    "response.output_item.done": ReplyState._done,
    "response.output_text.delta": ReplyState._text_delta,
    "response.output_text.done": ReplyState._text_done,
    "response.refusal.delta": ReplyState._refusal_delta,
    "response.reasoning_summary_text.delta": ReplyState._summary_delta,
    "response.reasoning_text.delta": ReplyState._reasoning_text_delta,
    "response.function_call_arguments.delta": ReplyState._arguments_delta,
    "response.function_call_arguments.done": ReplyState._arguments_done,
    "response.completed": ReplyState._completed,
    "response.incomplete": ReplyState._completed,
}
