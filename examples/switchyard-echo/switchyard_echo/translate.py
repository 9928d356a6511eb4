"""Pure translation for the echo provider: a canonical `Request` in, canonical events out.

Nothing here does I/O or keeps state, so every behaviour is tested by calling these functions
with a request and comparing the events (table-driven), without a server or a backend. A real
provider has two directions here (request -> backend payload, backend chunk -> events); the
echo "backend" is the request itself, so one direction is enough.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, assert_never

from router.conversation import Block, Request, Signature, StopReason, TextBlock, ToolResultBlock, Usage
from router.errors import ContextTooLong, Overloaded, ProviderError, RateLimited
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

PROVIDER = "echo"
"""The provider name: the key in config and routes, and the origin stamped on signatures."""

CHARS_PER_TOKEN = 4
RETRY_AFTER = 7.0

FailWith: TypeAlias = Literal["rate_limit", "overloaded", "context"]
"""The backend failures the echo provider can be told to simulate."""

_TOOL_CALL = re.compile(r"tool:(?P<name>[A-Za-z0-9_-]+) (?P<arguments>.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the user asked to be echoed back, written as `tool:NAME {json}`."""

    name: str
    arguments: Mapping[str, Any]


def last_user_text(request: Request) -> str:
    """The text of the last user turn, tool results included: that is what gets echoed."""
    for message in reversed(request.messages):
        if message.role == "user":
            return "\n".join(_texts(message.content))
    return ""


def _texts(blocks: Sequence[Block]) -> Iterator[str]:
    for block in blocks:
        if isinstance(block, (TextBlock, ToolResultBlock)):
            yield block.text


def rough_tokens(request: Request) -> int:
    """About one token per four characters of text; the echo backend has no tokenizer."""
    chars = len(request.system_text)
    chars += sum(len(text) for message in request.messages for text in _texts(message.content))
    return max(1, -(-chars // CHARS_PER_TOKEN))


def parse_tool_call(text: str) -> ToolCall | None:
    """`tool:NAME {json object}` as a tool call; anything else (bad JSON too) is plain text."""
    match = _TOOL_CALL.match(text)
    if match is None:
        return None
    try:
        arguments = json.loads(match["arguments"])
    except json.JSONDecodeError:
        return None
    return ToolCall(match["name"], arguments) if isinstance(arguments, dict) else None


def chunked(text: str, size: int) -> list[str]:
    """`text` cut into pieces of `size` characters, the way a backend streams it."""
    return [text[start : start + size] for start in range(0, len(text), size)]


def reply_events(
    request: Request, *, model: str, prefix: str, chunk_size: int, call_id: str
) -> tuple[Event, ...]:
    """The whole reply to `request`, in the canonical grammar.

    `MessageStart`, an optional signed thinking block (when the request asks for thinking),
    then either a text block echoing `prefix` + the last user text, or a tool call when that
    text reads `tool:NAME {json}`, then `MessageStop`. Output tokens are the number of chunks.
    """
    text = last_user_text(request)
    input_tokens = rough_tokens(request)
    blocks: list[Event] = []
    if request.thinking is not None and request.thinking.type != "disabled":
        blocks += thinking_block(text, model)
    call = parse_tool_call(text)
    stop_reason: StopReason = "end_turn" if call is None else "tool_use"
    if call is None:
        blocks += text_block(prefix + text, chunk_size)
    else:
        blocks += tool_block(call, call_id, chunk_size)
    usage = Usage(input_tokens=input_tokens, output_tokens=_chunks(blocks))
    return (MessageStart(model, Usage(input_tokens=input_tokens)), *blocks, MessageStop(stop_reason, usage))


def text_block(text: str, chunk_size: int) -> list[Event]:
    """One text block streamed in chunks."""
    return [TextStart(), *(TextDelta(piece) for piece in chunked(text, chunk_size)), BlockStop()]


def tool_block(call: ToolCall, call_id: str, chunk_size: int) -> list[Event]:
    """One tool call whose JSON arguments arrive in fragments, as real backends send them."""
    arguments = json.dumps(call.arguments)
    fragments = (ToolInputDelta(piece) for piece in chunked(arguments, chunk_size))
    return [ToolUseStart(call_id, call.name), *fragments, BlockStop()]


def thinking_block(text: str, model: str) -> list[Event]:
    """A reasoning block with a signature minted by this provider and `model`.

    The core keeps it on later turns routed to exactly `echo/<model>` and drops it elsewhere.
    """
    thought = f"The user wrote {len(text)} characters; I will echo them."
    value = hashlib.sha256(thought.encode()).hexdigest()[:32]
    return [
        ThinkingStart(),
        ThinkingDelta(thought),
        SignatureDelta(Signature(PROVIDER, model, value)),
        BlockStop(),
    ]


def _chunks(events: Sequence[Event]) -> int:
    return sum(isinstance(event, (TextDelta, ThinkingDelta, ToolInputDelta)) for event in events)


def simulated_failure(kind: FailWith) -> ProviderError:
    """The router error a backend failure of `kind` must become (never a library exception)."""
    if kind == "rate_limit":
        return RateLimited(
            "echo: simulated rate limit", retry_after=RETRY_AFTER, provider=PROVIDER, status=429
        )
    if kind == "overloaded":
        return Overloaded("echo: simulated overload", provider=PROVIDER, status=529)
    if kind == "context":
        return ContextTooLong(
            "prompt is too long: echo simulated a full context", provider=PROVIDER, status=400
        )
    assert_never(kind)
