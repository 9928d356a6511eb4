"""Canonical events -> Chat Completions SSE chunks, and a folded `Reply` -> a `chat.completion`.

Chat Completions has no blocks, only one choice whose delta grows: text becomes `content`
deltas, each client tool call one entry of `tool_calls` (numbered by `index` in the order the
calls open; `id`, `type` and `function.name` in its first delta, `arguments` streamed after).
A call whose backend streamed no arguments at all (a tool without parameters) gets `{}` before it
closes, as the non-streamed completion has it: OpenAI always sends valid JSON there.
Reasoning text goes out as `reasoning_content` deltas (and field), the name DeepSeek, vLLM and
most OpenAI-compatible servers use, which clients that do not know it ignore. Signatures and
redacted reasoning have no place here and are dropped; so are calls of tools the backend ran
itself (`server`), which the client could not answer.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, assert_never

import orjson

from router.conversation import Reply, StopReason, TextBlock, ThinkingBlock, ToolUseBlock, Usage
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

DONE = b"data: [DONE]\n\n"
_FINISH: dict[StopReason, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def new_completion_id() -> str:
    """An id shaped like OpenAI's: `chatcmpl-` and 29 random characters."""
    return "chatcmpl-" + secrets.token_urlsafe(22)[:29]


def finish_reason(stop_reason: StopReason | None, called_tools: bool) -> str:
    """OpenAI's finish reason; `tool_calls` only when the client has calls to answer."""
    reason = _FINISH.get(stop_reason, "stop") if stop_reason is not None else "stop"
    if reason == "tool_calls" and not called_tools:
        return "stop"
    return reason


def prompt_tokens(usage: Usage) -> int:
    """The input as OpenAI counts it: cached and cache-written tokens included."""
    return usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens


def usage_json(usage: Usage) -> dict[str, Any]:
    """OpenAI's usage: prompt tokens include cached ones (Anthropic's `input_tokens` does not)."""
    prompt = prompt_tokens(usage)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_input_tokens},
    }


class EventOrder:
    """The order canonical events must come in, checked alike by both OpenAI encoders: one message,
    blocks inside it, each delta inside its own block. A provider breaking it is an upstream failure."""

    __slots__ = ("finished", "open", "skip", "started")

    def __init__(self) -> None:
        self.open: type[Event] | None = None
        self.skip = False  # the open block is not shown (a server tool call, hidden or redacted reasoning)
        self.started = False
        self.finished = False

    def encode(self, event: Event) -> bytes:
        raise NotImplementedError

    def encode_batch(self, batch: Batch) -> bytes:
        """The SSE bytes for one batch of events."""
        return b"".join(self.encode(event) for event in batch)

    def _expect(self, kind: type[Event], event: Event) -> None:
        if self.open is not kind:
            opened = self.open.__name__ if self.open else "no block"
            raise UpstreamUnavailable(f"provider sent {type(event).__name__} while {opened} was open")

    def _check_start(self) -> None:
        if self.started:
            raise UpstreamUnavailable("provider started the message twice")

    def _check_block(self, event: Event) -> None:
        if not self.started or self.finished:
            raise UpstreamUnavailable(f"provider sent {type(event).__name__} outside a message")

    def _check_close(self) -> None:
        if self.open is None:
            raise UpstreamUnavailable("provider closed a block that was not open")

    def _check_stop(self) -> None:
        if not self.started or self.finished:
            raise UpstreamUnavailable("provider ended a message that was not open")


class ChatStreamEncoder(EventOrder):
    """Turns one reply's canonical events into `chat.completion.chunk` SSE bytes, ending with `[DONE]`.

    Driven like `router.anthropic.encode.StreamEncoder`: one `encode` per event (or `encode_batch`).
    """

    __slots__ = ("_head", "argued", "completion_id", "created", "include_usage", "model", "tools")

    def __init__(
        self, model: str, include_usage: bool = False, *, completion_id: str | None = None, created: int | None = None
    ) -> None:
        self.model = model
        self.include_usage = include_usage
        self.completion_id = completion_id or new_completion_id()
        self.created = int(time.time()) if created is None else created
        super().__init__()
        self.tools = 0  # client tool calls opened so far; the next one's index
        self.argued = False  # the open client call has streamed some non-blank arguments
        self._head = orjson.dumps(
            {"id": self.completion_id, "object": "chat.completion.chunk", "created": self.created, "model": self.model}
        )[:-1]

    def encode(self, event: Event) -> bytes:
        """The SSE bytes for one event (often empty: block boundaries have no chunk of their own)."""
        match event:
            case TextDelta(text=text):
                self._expect(TextStart, event)
                return self._delta({"content": text}) if text else b""
            case ThinkingDelta(thinking=text):
                self._expect(ThinkingStart, event)
                return self._delta({"reasoning_content": text}) if text and not self.skip else b""
            case ToolInputDelta(partial_json=fragment):
                self._expect(ToolUseStart, event)
                if self.skip or not fragment:
                    return b""
                self.argued = self.argued or not fragment.isspace()
                return self._delta({"tool_calls": [{"index": self.tools - 1, "function": {"arguments": fragment}}]})
            case SignatureDelta():
                self._expect(ThinkingStart, event)
                return b""
            case TextStart():
                return self._open(event, skip=False)
            case ThinkingStart(redacted=redacted):
                return self._open(event, skip=redacted)
            case ToolUseStart(id=tool_id, name=name, server=server):
                out = self._open(event, skip=server)
                if server:
                    return out
                self.tools += 1
                call = {"index": self.tools - 1, "id": tool_id, "type": "function",
                        "function": {"name": name, "arguments": ""}}
                return out + self._delta({"tool_calls": [call]})
            case BlockStop():
                self._check_close()
                return self._close()
            case MessageStart():
                self._check_start()
                self.started = True
                return self._delta({"role": "assistant", "content": ""})
            case MessageStop():
                return self._stop(event)
            case _:
                assert_never(event)

    def _open(self, event: Event, *, skip: bool) -> bytes:
        self._check_block(event)
        out = self._close()  # an unclosed block before it is closed leniently
        self.open, self.skip = type(event), skip
        return out

    def _close(self) -> bytes:
        """Close the open block; a client call that streamed no arguments gets `{}` first."""
        empty_call = self.open is ToolUseStart and not self.skip and not self.argued
        self.open, self.skip, self.argued = None, False, False
        if not empty_call:
            return b""
        return self._delta({"tool_calls": [{"index": self.tools - 1, "function": {"arguments": "{}"}}]})

    def _chunk(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        fields: dict[str, Any] = {"choices": choices}
        if self.include_usage:
            fields["usage"] = usage  # null on every chunk but the last, as OpenAI sends it
        return b"data: " + self._head + b"," + orjson.dumps(fields)[1:] + b"\n\n"

    def _delta(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return self._chunk([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])

    def _stop(self, event: MessageStop) -> bytes:
        self._check_stop()
        out = self._close()  # a block left open ends with the message
        self.finished = True
        out += self._delta({}, finish_reason(event.stop_reason, self.tools > 0))
        if self.include_usage:
            out += self._chunk([], usage_json(event.usage))
        return out + DONE


def chat_completion_json(
    reply: Reply, model: str, *, completion_id: str | None = None, created: int | None = None
) -> bytes:
    """The non-streaming `chat.completion` for a folded reply."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in reply.content:
        match block:
            case TextBlock(text=text):
                texts.append(text)
            case ThinkingBlock(thinking=text, redacted=False) if text:
                reasoning.append(text)
            case ToolUseBlock(id=tool_id, name=name, input=tool_input, server=False):
                arguments = orjson.dumps(tool_input).decode()
                calls.append({"id": tool_id, "type": "function", "function": {"name": name, "arguments": arguments}})
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None,
                               "refusal": None}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    reason = finish_reason(reply.stop_reason, bool(calls))
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": reason}
    return orjson.dumps(
        {
            "id": completion_id or new_completion_id(),
            "object": "chat.completion",
            "created": int(time.time()) if created is None else created,
            "model": model,
            "choices": [choice],
            "usage": usage_json(reply.usage),
        }
    )
