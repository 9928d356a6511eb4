"""Canonical events -> Anthropic SSE bytes, and a folded `Reply` -> Anthropic JSON.

The stream encoder numbers blocks as they open, enforces Anthropic's event order (a
provider that breaks it fails loudly instead of confusing the client) and writes each event
as soon as it is translated. Hot-path events are assembled from byte templates.

Anthropic signs every thinking block; one its backend left unsigned (Kiro's `<thinking>`
tags, reasoning without an encrypted payload) gets a router stand-in (`mint_signature`)
just before it closes, here and not in the providers, because "always signed" is a promise
of this dialect, not of the canonical model: a provider says truthfully "no signature" and
every provider, a third party's too, is covered at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from typing import Any, assert_never

import orjson

from router.anthropic.signatures import encode_signature, mint_signature
from router.conversation import Block, Reply, Signature, TextBlock, ThinkingBlock, ToolUseBlock, Usage
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

PING = b'event: ping\ndata: {"type":"ping"}\n\n'
_ALPHABET = string.ascii_letters + string.digits
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")
_CLIENT_ID_PREFIXES = ("toolu_", "srvtoolu_")


def new_id(prefix: str) -> str:
    """An id shaped like Anthropic's (`msg_01…`, `toolu_01…`): 22 random base-62 characters (131 bits)."""
    number = int.from_bytes(secrets.token_bytes(17), "big")
    digits = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        digits.append(_ALPHABET[digit])
    return prefix + "01" + "".join(digits)


def client_tool_id(upstream_id: str) -> str:
    """The tool-call id a client sees: `toolu_…`, derived from the provider's id.

    Deterministic, so the same call keeps its id, and injective: an id with characters Anthropic
    does not allow gets a short hash of the original, so two calls never share an id.
    """
    if not _UNSAFE_ID.search(upstream_id):
        return upstream_id if upstream_id.startswith(_CLIENT_ID_PREFIXES) else "toolu_" + upstream_id
    digest = hashlib.sha256(upstream_id.encode()).hexdigest()[:10]
    return f"toolu_{_UNSAFE_ID.sub('_', upstream_id)}_{digest}"


def usage_json(usage: Usage) -> dict[str, int]:
    """Anthropic's usage object."""
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "output_tokens": usage.output_tokens,
    }


def _sse(name: bytes, payload: dict[str, Any]) -> bytes:
    return b"event: " + name + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


class StreamEncoder:
    """Turns one reply's canonical events into Anthropic SSE bytes, checking their order.

    `route` (the route serving the reply) is named in the stand-in signatures of unsigned thinking.
    """

    __slots__ = ("_redacted", "_signed", "finished", "index", "message_id", "model", "open", "route", "started")

    def __init__(self, model: str, message_id: str | None = None, *, route: Route | None = None) -> None:
        self.message_id = message_id or new_id("msg_")
        self.model = model
        self.route = route
        self.index = -1
        self.open: type[Event] | None = None
        self.started = False
        self.finished = False
        self._redacted = False
        self._signed = False

    def encode(self, event: Event) -> bytes:
        """The SSE bytes for one event (possibly empty, possibly several SSE events)."""
        match event:
            case TextDelta(text=text):
                self._expect(TextStart, event)
                return self._delta(b'"text_delta","text":', text)
            case ThinkingDelta(thinking=text):
                self._expect(ThinkingStart, event)
                if self._redacted:
                    raise UpstreamUnavailable("provider sent thinking text inside a redacted block")
                return self._delta(b'"thinking_delta","thinking":', text)
            case ToolInputDelta(partial_json=fragment):
                self._expect(ToolUseStart, event)
                return self._delta(b'"input_json_delta","partial_json":', fragment)
            case SignatureDelta(signature=signature):
                self._expect(ThinkingStart, event)
                self._signed = True
                return self._signature(encode_signature(signature))
            case TextStart():
                return self._start(event, {"type": "text", "text": ""})
            case ThinkingStart(redacted=True):
                prefix = self._open_block(event)
                self._redacted, self._signed = True, False  # its start waits for the signature, all it holds
                return prefix
            case ThinkingStart():
                self._signed = False
                return self._start(event, {"type": "thinking", "thinking": "", "signature": ""})
            case ToolUseStart(id=tool_id, name=name, server=server):
                kind = "server_tool_use" if server else "tool_use"
                return self._start(event, {"type": kind, "id": client_tool_id(tool_id), "name": name, "input": {}})
            case BlockStop():
                return self._stop()
            case MessageStart():
                return self._message_start(event)
            case MessageStop():
                return self._message_stop(event)
            case _:
                assert_never(event)

    # -- pieces ------------------------------------------------------------------------------

    def _expect(self, kind: type[Event], event: Event) -> None:
        if self.open is not kind:
            opened = self.open.__name__ if self.open else "no block"
            raise UpstreamUnavailable(f"provider sent {type(event).__name__} while {opened} was open")

    def _delta(self, head: bytes, text: str) -> bytes:
        return (
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,"delta":{"type":%s%s}}\n\n'
            % (self.index, head, orjson.dumps(text))
        )

    def _open_block(self, event: Event) -> bytes:
        """Close any block still open (leniently), then number the new one."""
        if not self.started or self.finished:
            raise UpstreamUnavailable(f"provider sent {type(event).__name__} outside a message")
        prefix = self._stop() if self.open is not None else b""
        self.index += 1
        self.open = type(event)
        return prefix

    def _start(self, event: Event, block: dict[str, Any]) -> bytes:
        prefix = self._open_block(event)
        return prefix + _sse(b"content_block_start", {"type": "content_block_start", "index": self.index, "content_block": block})

    def _signature(self, signature: str) -> bytes:
        if self._redacted:
            self._redacted = False
            block = {"type": "redacted_thinking", "data": signature}
            return _sse(b"content_block_start", {"type": "content_block_start", "index": self.index, "content_block": block})
        return self._delta(b'"signature_delta","signature":', signature)

    def _stop(self) -> bytes:
        if self.open is None:
            raise UpstreamUnavailable("provider closed a block that was not open")
        unsigned = self.open is ThinkingStart and not self._signed
        self.open = None
        if self._redacted:  # a redacted block that never got its signature is not shown at all
            self._redacted = False
            self.index -= 1
            return b""
        stop = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":%d}\n\n' % self.index
        if unsigned:
            return self._signature(encode_signature(_stand_in(self.route))) + stop
        return stop

    def _message_start(self, event: MessageStart) -> bytes:
        if self.started:
            raise UpstreamUnavailable("provider started the message twice")
        self.started = True
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_json(event.usage),
        }
        return _sse(b"message_start", {"type": "message_start", "message": message})

    def _message_stop(self, event: MessageStop) -> bytes:
        if not self.started or self.finished:
            raise UpstreamUnavailable("provider ended a message that was not open")
        prefix = self._stop() if self.open is not None else b""
        self.finished = True
        delta = {"stop_reason": event.stop_reason, "stop_sequence": event.stop_sequence}
        body = _sse(b"message_delta", {"type": "message_delta", "delta": delta, "usage": usage_json(event.usage)})
        return prefix + body + b'event: message_stop\ndata: {"type":"message_stop"}\n\n'


def reply_json(reply: Reply, model: str, message_id: str | None = None, *, route: Route | None = None) -> bytes:
    """The non-streaming Anthropic message for a folded reply; `route` as for `StreamEncoder`."""
    return orjson.dumps(
        {
            "id": message_id or new_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [_block_json(block, route) for block in reply.content],
            "stop_reason": reply.stop_reason,
            "stop_sequence": reply.stop_sequence,
            "usage": usage_json(reply.usage),
        }
    )


def _block_json(block: Block, route: Route | None) -> dict[str, Any]:
    match block:
        case TextBlock(text=text):
            return {"type": "text", "text": text}
        case ThinkingBlock(redacted=True, signature=signature) if signature is not None:
            return {"type": "redacted_thinking", "data": encode_signature(signature)}
        case ThinkingBlock(thinking=text, signature=signature):
            signature = signature or _stand_in(route)
            return {"type": "thinking", "thinking": text, "signature": encode_signature(signature)}
        case ToolUseBlock(id=tool_id, name=name, input=tool_input, server=server):
            kind = "server_tool_use" if server else "tool_use"
            return {"type": kind, "id": client_tool_id(tool_id), "name": name, "input": tool_input}
    raise TypeError(f"a reply cannot hold {type(block).__name__}")


def _stand_in(route: Route | None) -> Signature:
    """The router's signature for a thinking block its backend did not sign."""
    return mint_signature(route.provider, route.model) if route else mint_signature("", "")
