"""Precomputed upstream replies in each built-in provider's wire format, as lists of byte events.

Each reply is `n` text deltas plus the few framing events the format needs, shaped like the real
backend's (and like the test fakes in tests/providers/*): the bench fake writes these bytes
as they are, so serving a request costs the fake almost nothing.

- codex: Responses API SSE (`response.created` ... `response.output_text.delta` x n ... `response.completed`)
- openrouter: OpenAI chat-completions SSE (`data: {chunk}` x n, a finish chunk, a usage chunk, `[DONE]`)
- kiro: AWS binary event stream (`assistantResponseEvent` x n between metadata and metering frames)
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import Any

import orjson

PROVIDERS: tuple[str, ...] = ("codex", "openrouter", "kiro")

CHAT_PATHS: dict[str, bytes] = {
    "codex": b"/responses",
    "openrouter": b"/chat/completions",
    "kiro": b"/generateAssistantResponse",
}
"""The path of each provider's streaming endpoint on its base URL."""

CONTENT_TYPES: dict[str, bytes] = {
    "codex": b"text/event-stream",
    "openrouter": b"text/event-stream",
    "kiro": b"application/vnd.amazon.eventstream",
}

END_MARKERS: dict[str, bytes] = {
    "codex": b"response.completed",
    "openrouter": b"data: [DONE]",
    "kiro": b"meteringEvent",
}
"""A substring only a complete reply of that provider contains (the load generator checks it)."""

_TOKENS = ("Sure", ",", " here", " is", " the", " answer", ":", " the", " router", " streams", " each",
           " delta", " as", " it", " arrives", ".", "\n\n", "It", " keeps", " going", " \"quoted\"", " text")


def token(i: int) -> str:
    """The i-th text delta: a short, token-like piece of text."""
    return _TOKENS[i % len(_TOKENS)]


# -- codex ------------------------------------------------------------------------------------


def codex_events(n: int, model: str = "gpt-5.5") -> list[bytes]:
    """A Codex Responses SSE reply with `n` text deltas."""
    seq = iter(range(1_000_000))

    def sse(kind: str, **data: Any) -> bytes:
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(
            {"type": kind, "sequence_number": next(seq), **data}) + b"\n\n"

    response = {"id": "resp_bench", "object": "response", "created_at": 1_760_000_000, "status": "in_progress",
                "model": model, "output": []}
    item_id = "msg_bench0"
    text = "".join(token(i) for i in range(n))
    events = [
        sse("response.created", response=response),
        sse("response.in_progress", response=response),
        sse("response.output_item.added", output_index=0,
            item={"id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}),
        sse("response.content_part.added", item_id=item_id, output_index=0, content_index=0,
            part={"type": "output_text", "annotations": [], "text": ""}),
    ]
    events += [sse("response.output_text.delta", item_id=item_id, output_index=0, content_index=0, delta=token(i))
               for i in range(n)]
    part = {"type": "output_text", "annotations": [], "text": text}
    item = {"id": item_id, "type": "message", "status": "completed", "role": "assistant", "content": [part]}
    usage = {"input_tokens": 1200, "input_tokens_details": {"cached_tokens": 1024}, "output_tokens": n,
             "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 1200 + n}
    events += [
        sse("response.output_text.done", item_id=item_id, output_index=0, content_index=0, text=text),
        sse("response.content_part.done", item_id=item_id, output_index=0, content_index=0, part=part),
        sse("response.output_item.done", output_index=0, item=item),
        sse("response.completed", response={**response, "status": "completed", "output": [item], "usage": usage}),
    ]
    return events


# -- openrouter -------------------------------------------------------------------------------


def openrouter_events(n: int, model: str = "anthropic/claude-sonnet-4.5") -> list[bytes]:
    """An OpenRouter chat-completions SSE reply with `n` content deltas."""
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data = {"id": "gen-1760000000-bench", "provider": "Anthropic", "model": model,
                "object": "chat.completion.chunk", "created": 1_760_000_000,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "native_finish_reason": finish,
                             "logprobs": None}]}
        return b"data: " + orjson.dumps(data) + b"\n\n"

    usage = {"id": "gen-1760000000-bench", "provider": "Anthropic", "model": model,
             "object": "chat.completion.chunk", "created": 1_760_000_000, "choices": [],
             "usage": {"prompt_tokens": 1200, "completion_tokens": n, "total_tokens": 1200 + n, "cost": 0.0042,
                       "prompt_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 0},
                       "completion_tokens_details": {"reasoning_tokens": 0}}}
    return [
        b": OPENROUTER PROCESSING\n\n",
        chunk({"role": "assistant", "content": ""}),
        *(chunk({"role": "assistant", "content": token(i)}) for i in range(n)),
        chunk({"role": "assistant", "content": ""}, "stop"),
        b"data: " + orjson.dumps(usage) + b"\n\n",
        b"data: [DONE]\n\n",
    ]


# -- kiro ---------------------------------------------------------------------------------------


def _headers(headers: dict[str, str]) -> bytes:
    out = b""
    for name, value in headers.items():
        raw = value.encode()
        out += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw
    return out


def frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude (lengths + CRC), string headers, payload, message CRC."""
    head = _headers(headers)
    prelude = struct.pack(">II", 12 + len(head) + len(payload) + 4, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + head + payload
    return message + struct.pack(">I", zlib.crc32(message))


def kiro_event(event_type: str, **payload: Any) -> bytes:
    """An `event` frame with a JSON payload."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, orjson.dumps(payload))


def kiro_events(n: int) -> list[bytes]:
    """A Kiro event-stream reply with `n` text events."""
    return [
        kiro_event("messageMetadataEvent", conversationId="bench-conversation", utteranceId="bench-utterance"),
        *(kiro_event("assistantResponseEvent", content=token(i)) for i in range(n)),
        kiro_event("contextUsageEvent", contextUsagePercentage=1.5),
        kiro_event("meteringEvent", usage=0.05, unit="credit", unitPlural="credits"),
    ]


REPLIES: dict[str, Callable[[int], list[bytes]]] = {
    "codex": codex_events,
    "openrouter": openrouter_events,
    "kiro": kiro_events,
}


def reply(provider: str, n: int) -> list[bytes]:
    """The reply events of `provider` with `n` text deltas."""
    return REPLIES[provider](n)


# -- model lists (GET), so catalogue fetches succeed at once -----------------------------------

MODEL_LISTS: dict[str, tuple[bytes, bytes]] = {
    "codex": (b"/models", orjson.dumps({"models": [{
        "slug": "gpt-5.5", "display_name": "GPT-5.5", "context_window": 272000, "visibility": "list",
        "supported_reasoning_levels": [{"effort": e} for e in ("low", "medium", "high", "xhigh")],
        "default_reasoning_level": "medium", "supported_in_api": True}]})),
    "openrouter": (b"/models", orjson.dumps({"data": [{
        "id": "anthropic/claude-sonnet-4.5", "name": "Anthropic: Claude Sonnet 4.5", "context_length": 1000000,
        "supported_parameters": ["tools", "reasoning", "include_reasoning", "max_tokens"]}]})),
    "kiro": (b"/ListAvailableModels", orjson.dumps({"models": [{
        "modelId": "claude-sonnet-4.5", "modelName": "Claude Sonnet 4.5", "description": "Claude Sonnet 4.5",
        "tokenLimits": {"maxInputTokens": 200000, "maxOutputTokens": 64000},
        "supportedInputTypes": ["TEXT", "IMAGE"]}], "defaultModel": {"modelId": "claude-sonnet-4.5"}})),
}
