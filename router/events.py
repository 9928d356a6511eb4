"""Canonical stream events: what every provider yields, whatever its backend speaks.

A reply is `MessageStart`, then content blocks one after another (a start event, deltas
of its own kind, `BlockStop`), then `MessageStop`. Blocks never interleave, so events carry
no index: the Anthropic encoder numbers blocks as they open. Failures are exceptions from
`router.errors`, never events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeAlias

from router.conversation import Signature, StopReason, Usage


@dataclass(frozen=True, slots=True)
class MessageStart:
    """The backend accepted the request; `usage` holds what is known of input tokens so far."""

    model: str
    usage: Usage = Usage()


@dataclass(frozen=True, slots=True)
class TextStart:
    """A text block opens."""


@dataclass(frozen=True, slots=True)
class TextDelta:
    """More text for the open text block."""

    text: str


@dataclass(frozen=True, slots=True)
class ThinkingStart:
    """A reasoning block opens; `redacted` ones carry only a signature."""

    redacted: bool = False


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    """More reasoning text for the open thinking block."""

    thinking: str


@dataclass(frozen=True, slots=True)
class SignatureDelta:
    """The opaque signature of the open thinking block (sent once, before its stop).

    Left out when the backend gave none; the Anthropic encoder then signs the block with a
    router stand-in (`router.anthropic.signatures.mint_signature`), so a provider never invents one.
    """

    signature: Signature


@dataclass(frozen=True, slots=True)
class ToolUseStart:
    """A tool call opens; its arguments follow as JSON fragments."""

    id: str
    name: str
    server: bool = False


@dataclass(frozen=True, slots=True)
class ToolInputDelta:
    """A fragment of the open tool call's JSON arguments."""

    partial_json: str


@dataclass(frozen=True, slots=True)
class BlockStop:
    """The open block is complete."""


@dataclass(frozen=True, slots=True)
class MessageStop:
    """The reply is complete; `usage` holds the final counts."""

    stop_reason: StopReason
    usage: Usage = Usage()
    stop_sequence: str | None = None


Event: TypeAlias = (
    MessageStart
    | TextStart
    | TextDelta
    | ThinkingStart
    | ThinkingDelta
    | SignatureDelta
    | ToolUseStart
    | ToolInputDelta
    | BlockStop
    | MessageStop
)
BlockStart: TypeAlias = TextStart | ThinkingStart | ToolUseStart

Batch: TypeAlias = Sequence[Event]
"""What `Provider.stream` yields: the events translated from one upstream read (one SSE event,
one chunk of frames), never empty. The SSE writer sends one batch in one socket write, so a
burst costs one write, not one per event."""
