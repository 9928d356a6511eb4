"""Anthropic Messages SSE replies -> canonical events, for providers whose backend speaks Anthropic.

The other half of `payload`: a provider that sends `payload.request_payload(...)` to an
Anthropic-compatible endpoint (OpenRouter's `/messages`, a proxy, Anthropic itself) reads
the reply with an `AnthropicReplyState`: `feed` each SSE event (its `event:` name and parsed
`data:`), then `finish` at the end of the stream. Blocks map one to one; blocks the canonical
model cannot carry (server tool results, for instance) are skipped with their deltas.

The backend's signatures are its own raw values: they are wrapped as `Signature(provider,
model, raw)` with the provider name the caller gives (the route's by default), so only that
provider and model get them back (unwrapped again before the next payload is built).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import orjson

from router import errors
from router.conversation import Signature, StopReason, Usage
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
from router.toolkit.failures import CONTEXT_TOO_LONG, safe_message, too_long_message

ErrorReader = Callable[[Mapping[str, Any]], errors.ProviderError]
"""Turns the `error` object of an Anthropic `error` event into the router's error."""

_STOP_REASONS: frozenset[str] = frozenset(
    {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"}
)
_USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
_ERROR_TYPES: dict[str, type[errors.ProviderError]] = {
    "invalid_request_error": errors.UpstreamRejected,
    "request_too_large": errors.ContextTooLong,
    "authentication_error": errors.AuthError,
    "permission_error": errors.PermissionDenied,
    "billing_error": errors.PermissionDenied,
    "not_found_error": errors.ModelUnavailable,
    "rate_limit_error": errors.RateLimited,
    "overloaded_error": errors.Overloaded,
    "timeout_error": errors.UpstreamTimeout,
}


def error_from_anthropic(
    error: Mapping[str, Any], *, provider: str = "", backend: str = "the backend", model: str = ""
) -> errors.ProviderError:
    """The router error for an Anthropic error object (`{"type": ..., "message": ...}`), by its type;
    an `invalid_request_error` saying "prompt is too long" is a `ContextTooLong`."""
    kind, message = str(error.get("type") or ""), safe_message(str(error.get("message") or ""))
    cls = _ERROR_TYPES.get(kind, errors.UpstreamUnavailable)
    if cls is errors.ContextTooLong or message.lower().startswith(CONTEXT_TOO_LONG):
        return errors.ContextTooLong(too_long_message(backend, message or kind, model=model), provider=provider)
    said = f"{backend} reported {kind or 'an error'}" + (f": {message}" if message else "")
    return cls(said, provider=provider)


class AnthropicReplyState:
    """Reads one Anthropic SSE reply: `feed` each event, then `finish` at the end of the stream.

    `provider` names the signatures' minter (default: the route's provider); `backend` names
    the backend in messages; `error` turns an `error` event into the router's error (default:
    `error_from_anthropic`). Failures are raised, never returned.
    """

    _HANDLERS: ClassVar[dict[str, Callable[[AnthropicReplyState, Mapping[str, Any]], list[Event]]]]

    def __init__(
        self,
        route: Route,
        *,
        provider: str | None = None,
        backend: str = "the backend",
        error: ErrorReader | None = None,
    ) -> None:
        self.route = route
        self.provider = route.provider if provider is None else provider
        self.backend = backend
        self.read_error = error or (
            lambda raw: error_from_anthropic(raw, provider=self.provider, backend=backend, model=route.model)
        )
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
            raise self.read_error(error if isinstance(error, Mapping) else {})
        handler = self._HANDLERS.get(kind)
        if handler is None or self.finished:
            return []
        return handler(self, data)

    def finish(self) -> list[Event]:
        """Called when the stream ends: one without `message_stop` was cut off."""
        if not self.finished:
            raise errors.UpstreamUnavailable(
                f"the {self.backend} stream ended before message_stop", provider=self.provider
            )
        return []

    def _wrap(self, raw: str) -> Signature:
        return Signature(self.provider, self.route.model, raw)

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
                signed = isinstance(signature, str) and signature
                return events + ([SignatureDelta(self._wrap(str(signature)))] if signed else [])
            case "redacted_thinking":
                data = block.get("data")
                return [ThinkingStart(redacted=True), SignatureDelta(self._wrap(str(data or "")))]
            case "tool_use" | "server_tool_use" as kind:
                start = ToolUseStart(
                    str(block.get("id") or ""), str(block.get("name") or ""), server=kind == "server_tool_use"
                )
                tool_input = block.get("input")
                given = [ToolInputDelta(orjson.dumps(tool_input).decode())] if tool_input else []
                return [start, *given]
            case _:
                return []

    def _block_delta(self, data: Mapping[str, Any]) -> list[Event]:
        delta, index = data.get("delta"), data.get("index")
        if not isinstance(index, int) or not self.blocks.get(index) or not isinstance(delta, Mapping):
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


AnthropicReplyState._HANDLERS = {
    "message_start": AnthropicReplyState._message_start,
    "content_block_start": AnthropicReplyState._block_start,
    "content_block_delta": AnthropicReplyState._block_delta,
    "content_block_stop": AnthropicReplyState._block_stop,
    "message_delta": AnthropicReplyState._message_delta,
    "message_stop": AnthropicReplyState._message_stop,
}
