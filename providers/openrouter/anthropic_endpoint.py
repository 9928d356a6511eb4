"""OpenRouter's Anthropic-compatible endpoint (`POST {base_url}/messages`), for `anthropic/*` models.

When to use which mode:

- Chat completions (the default) serve every model on OpenRouter. Claude models work there
  too, but through OpenRouter's translation: thinking comes back as `reasoning_details`,
  cache marks only on text parts, and server tools (web search) are dropped.
- The Anthropic endpoint (`anthropic_endpoint: true` in the settings or on a route) speaks
  Claude's own dialect, so a Claude model keeps full fidelity: native thinking blocks and
  signatures, `cache_control` wherever Claude allows it, server tools, `output_config`. It is
  used only for models whose id starts with `anthropic/`; other models on a route with the
  option still go through chat completions.

The body is `router.anthropic.payload.request_payload` with the upstream model and
`stream: true`. Signatures travel raw: the router's tagged signatures (see
`router.anthropic.signatures`) are unwrapped before the payload is built, and signatures in
the reply are wrapped as `Signature("openrouter", model, raw)`. Reasoning signed in
chat-completions mode is converted back into Claude blocks (`reasoning.py`), so a
conversation may switch modes; thinking this provider did not sign cannot be verified by
Claude and is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import orjson

from providers.openrouter.failures import PROVIDER, error_from_stream
from providers.openrouter.reasoning import native_blocks
from router.anthropic.payload import request_payload
from router.conversation import Block, Message, Request, Signature, StopReason, ThinkingBlock, Usage
from router.errors import UpstreamUnavailable
from router.events import (
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
from router.route import Route

ANTHROPIC_VERSION = "2023-06-01"
_EFFORTS = {"none": "low", "minimal": "low", "low": "low", "medium": "medium", "high": "high",
            "xhigh": "high", "max": "max"}
"""Route efforts -> Claude's `output_config.effort` words (Claude has no none/minimal/xhigh)."""
_STOP_REASONS: frozenset[str] = frozenset(
    {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"}
)
_USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def uses_endpoint(model: str, enabled: bool) -> bool:
    """Whether a request for `model` goes to `/messages`: only Claude models, only when enabled."""
    return enabled and model.startswith("anthropic/")


def native_payload(request: Request, route: Route, *, provider: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The `/messages` body: Anthropic JSON with raw signatures, the upstream model, streaming on."""
    body = request_payload(unwrap_signatures(request, route))
    body["model"] = route.model
    body["stream"] = True
    if route.effort is not None:
        body.setdefault("output_config", {})["effort"] = _EFFORTS.get(route.effort, "high")
    if provider:
        body["provider"] = dict(provider)
    return body


def native_headers(request: Request) -> dict[str, str]:
    """Anthropic's version header, and the client's beta flags passed on."""
    headers = {"anthropic-version": ANTHROPIC_VERSION}
    if request.betas:
        headers["anthropic-beta"] = ",".join(request.betas)
    return headers


def unwrap_signatures(request: Request, route: Route) -> Request:
    """The request with signatures this provider minted turned back into Anthropic's raw values.

    A signature with an empty origin is written verbatim by the payload encoder, which is
    exactly the raw value Anthropic issued. Thinking without such a signature is dropped.
    """
    return request.evolve(messages=tuple(_unwrapped(message, route) for message in request.messages))


def _unwrapped(message: Message, route: Route) -> Message:
    if message.role != "assistant":
        return message
    kept: list[Block] = []
    for block in message.content:
        if isinstance(block, ThinkingBlock):
            kept += native_blocks(block, route)
        else:
            kept.append(block)
    return Message(message.role, tuple(kept))


class NativeReplyState:
    """Reads one Anthropic SSE reply: `feed` each event, then `finish` at the end of the stream.

    Blocks the canonical model cannot carry (server tool results, for instance) are skipped
    with their deltas; everything else maps one to one.
    """

    _HANDLERS: ClassVar[dict[str, Callable[[NativeReplyState, Mapping[str, Any]], list[Event]]]]

    def __init__(self, route: Route) -> None:
        self.route = route
        self.blocks: dict[int, bool] = {}
        self.started = False
        self.finished = False
        self.stop_reason: StopReason = "end_turn"
        self.stop_sequence: str | None = None
        self.usage: dict[str, int] = {}

    def feed(self, event_type: str, data: Mapping[str, Any]) -> list[Event]:
        """The canonical events one Anthropic event yields; raises on an `error` event."""
        kind = str(data.get("type") or event_type)
        if kind == "error" or isinstance(data.get("error"), Mapping):
            error = data.get("error")
            raise error_from_stream(error if isinstance(error, Mapping) else {}, model=self.route.model)
        handler = self._HANDLERS.get(kind)
        if handler is None or self.finished:
            return []
        return handler(self, data)

    def finish(self) -> list[Event]:
        """Called when the stream ends: one without `message_stop` was cut off."""
        if not self.finished:
            raise UpstreamUnavailable("the OpenRouter stream ended before message_stop", provider=PROVIDER)
        return []

    def _wrap(self, raw: str) -> Signature:
        return Signature(self.route.provider, self.route.model, raw)

    def _ensure_started(self, model: Any = None) -> list[Event]:
        if self.started:
            return []
        self.started = True
        name = model if isinstance(model, str) and model else self.route.model
        return [MessageStart(name, self._usage())]

    def _usage(self) -> Usage:
        return Usage(**{name: self.usage.get(name, 0) for name in _USAGE_FIELDS})

    def _take_usage(self, raw: Any) -> None:
        for name in _USAGE_FIELDS:
            value = raw.get(name) if isinstance(raw, Mapping) else None
            if isinstance(value, int) and not isinstance(value, bool):
                self.usage[name] = value

    # -- handlers -----------------------------------------------------------------------------------

    def _message_start(self, data: Mapping[str, Any]) -> list[Event]:
        message = data.get("message")
        message = message if isinstance(message, Mapping) else {}
        self._take_usage(message.get("usage"))
        return self._ensure_started(message.get("model"))

    def _block_start(self, data: Mapping[str, Any]) -> list[Event]:
        out = self._ensure_started()
        index, block = data.get("index"), data.get("content_block")
        if not isinstance(index, int) or not isinstance(block, Mapping):
            return out
        events = self._open(block)
        self.blocks[index] = bool(events)
        return out + events

    def _open(self, block: Mapping[str, Any]) -> list[Event]:
        match block.get("type"):
            case "text":
                text = block.get("text")
                opening: list[Event] = [TextStart()]
                return opening + ([TextDelta(text)] if isinstance(text, str) and text else [])
            case "thinking":
                text, signature = block.get("thinking"), block.get("signature")
                events: list[Event] = [ThinkingStart()]
                events += [ThinkingDelta(text)] if isinstance(text, str) and text else []
                return events + ([SignatureDelta(self._wrap(signature))] if isinstance(signature, str)
                                 and signature else [])
            case "redacted_thinking":
                data = block.get("data")
                return [ThinkingStart(redacted=True), SignatureDelta(self._wrap(str(data or "")))]
            case "tool_use" | "server_tool_use" as kind:
                start = ToolUseStart(str(block.get("id") or ""), str(block.get("name") or ""),
                                     server=kind == "server_tool_use")
                tool_input = block.get("input")
                given = [ToolInputDelta(orjson.dumps(tool_input).decode())] if tool_input else []
                return [start, *given]
            case _:
                return []

    def _block_delta(self, data: Mapping[str, Any]) -> list[Event]:
        delta = data.get("delta")
        if not self.blocks.get(data.get("index")) or not isinstance(delta, Mapping):  # type: ignore[arg-type]
            return []
        match delta.get("type"), delta:
            case "text_delta", {"text": str(text)} if text:
                return [TextDelta(text)]
            case "thinking_delta", {"thinking": str(text)} if text:
                return [ThinkingDelta(text)]
            case "signature_delta", {"signature": str(signature)} if signature:
                return [SignatureDelta(self._wrap(signature))]
            case "input_json_delta", {"partial_json": str(fragment)} if fragment:
                return [ToolInputDelta(fragment)]
            case _:
                return []

    def _block_stop(self, data: Mapping[str, Any]) -> list[Event]:
        index = data.get("index")
        return [BlockStop()] if isinstance(index, int) and self.blocks.pop(index, False) else []

    def _message_delta(self, data: Mapping[str, Any]) -> list[Event]:
        delta = data.get("delta")
        delta = delta if isinstance(delta, Mapping) else {}
        reason = delta.get("stop_reason")
        if isinstance(reason, str):
            self.stop_reason = _stop_reason(reason)
        sequence = delta.get("stop_sequence")
        self.stop_sequence = sequence if isinstance(sequence, str) else self.stop_sequence
        self._take_usage(data.get("usage"))
        return []

    def _message_stop(self, data: Mapping[str, Any]) -> list[Event]:
        out = self._ensure_started()
        out += [BlockStop() for index, shown in sorted(self.blocks.items()) if shown]
        self.blocks.clear()
        self.finished = True
        return out + [MessageStop(self.stop_reason, self._usage(), self.stop_sequence)]


def _stop_reason(reason: str) -> StopReason:
    if reason in _STOP_REASONS:
        return reason  # type: ignore[return-value]
    return "max_tokens" if reason == "model_context_window_exceeded" else "end_turn"


NativeReplyState._HANDLERS = {
    "message_start": NativeReplyState._message_start,
    "content_block_start": NativeReplyState._block_start,
    "content_block_delta": NativeReplyState._block_delta,
    "content_block_stop": NativeReplyState._block_stop,
    "message_delta": NativeReplyState._message_delta,
    "message_stop": NativeReplyState._message_stop,
}
