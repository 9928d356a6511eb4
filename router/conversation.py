"""The canonical conversation: what a client asked for, independent of any wire format.

Every request is decoded once into these frozen value types; providers translate from them
and never see the client's JSON. Opaque values that must survive a round trip through the
client (reasoning signatures, cache marks) ride on the block they belong to.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

Role: TypeAlias = Literal["user", "assistant", "system"]
StopReason: TypeAlias = Literal[
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"
]


@dataclass(frozen=True, slots=True)
class CacheControl:
    """A prompt-caching mark (`{"type": "ephemeral", "ttl": "1h"}`) carried for providers that cache."""

    type: str = "ephemeral"
    ttl: str | None = None


@dataclass(frozen=True, slots=True)
class Signature:
    """An opaque reasoning token, tagged with the provider and model that minted it.

    A signature may only go back to the backend that issued it; `provider == ""` marks one
    of unknown origin (for instance minted by Anthropic itself), which no provider accepts.
    `router` marks a stand-in the router minted for a block its backend left unsigned
    (Anthropic clients expect every thinking block signed): it names where the thinking came
    from, but no backend issued it, so no backend accepts it either (`minted_by` is False).
    """

    provider: str
    model: str
    value: str
    router: bool = False

    def minted_by(self, provider: str, model: str) -> bool:
        """True when this provider and upstream model issued this signature (never for a router stand-in)."""
        return not self.router and self.provider == provider and self.model == model


@dataclass(frozen=True, slots=True)
class TextBlock:
    """Plain text."""

    text: str
    cache_control: CacheControl | None = None


@dataclass(frozen=True, slots=True)
class ImageBlock:
    """An image given inline (`data`, base64) or by `url`; exactly one of them is set."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    cache_control: CacheControl | None = None


@dataclass(frozen=True, slots=True)
class DocumentBlock:
    """A document: base64 `data` (e.g. a PDF), plain `text`, or a `url`; exactly one is set."""

    media_type: str | None = None
    data: str | None = None
    text: str | None = None
    url: str | None = None
    title: str | None = None
    context: str | None = None
    cache_control: CacheControl | None = None


@dataclass(frozen=True, slots=True)
class ThinkingBlock:
    """Reasoning the model showed; `redacted` blocks carry only their signature."""

    thinking: str
    signature: Signature | None = None
    redacted: bool = False


@dataclass(frozen=True, slots=True)
class ToolUseBlock:
    """A call the assistant made; `server` calls were run by the backend, not the client."""

    id: str
    name: str
    input: Mapping[str, Any]
    server: bool = False
    cache_control: CacheControl | None = None


ResultContent: TypeAlias = TextBlock | ImageBlock | DocumentBlock


@dataclass(frozen=True, slots=True)
class ToolResultBlock:
    """What the client's tool returned for the call `tool_use_id`."""

    tool_use_id: str
    content: tuple[ResultContent, ...] = ()
    is_error: bool = False
    cache_control: CacheControl | None = None

    @property
    def text(self) -> str:
        """The text parts joined, for backends that take tool output as one string."""
        return "\n".join(part.text for part in self.content if isinstance(part, TextBlock))


Block: TypeAlias = TextBlock | ImageBlock | DocumentBlock | ThinkingBlock | ToolUseBlock | ToolResultBlock


@dataclass(frozen=True, slots=True)
class Message:
    """One turn. `system` turns are instructions the client placed mid-conversation."""

    role: Role
    content: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Tool:
    """A client-side tool the model may call, described by a JSON Schema."""

    name: str
    description: str = ""
    input_schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "object"})
    cache_control: CacheControl | None = None


@dataclass(frozen=True, slots=True)
class ServerTool:
    """A tool the backend runs itself (`web_search_20250305` and kin), with its settings."""

    type: str
    name: str
    config: Mapping[str, Any] = field(default_factory=dict)


ToolSpec: TypeAlias = Tool | ServerTool


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """How the model must use tools: `tool` names one in `name`."""

    type: Literal["auto", "any", "tool", "none"] = "auto"
    name: str | None = None
    disable_parallel_tool_use: bool = False


@dataclass(frozen=True, slots=True)
class Thinking:
    """Whether and how much the model should reason before answering."""

    type: Literal["enabled", "adaptive", "disabled"]
    budget_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """A complete request for one assistant turn."""

    model: str
    messages: tuple[Message, ...]
    max_tokens: int
    system: tuple[TextBlock, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice | None = None
    stop_sequences: tuple[str, ...] = ()
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    thinking: Thinking | None = None
    effort: str | None = None
    output_schema: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    stream: bool = False
    session_id: str | None = None
    betas: tuple[str, ...] = ()

    @property
    def system_text(self) -> str:
        """The top-level system prompt as one string."""
        return "\n\n".join(block.text for block in self.system)

    def evolve(self, **changes: Any) -> Request:
        """A copy with some fields replaced."""
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token accounting, in Anthropic's terms: `input_tokens` excludes cached input.

    `cost` is what the backend said the reply cost (OpenRouter: credits, i.e. USD), None when it
    says nothing; the usage ledger keeps it, clients never see it.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost: float | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """One finished assistant turn, folded from a stream of events."""

    model: str
    content: tuple[Block, ...]
    stop_reason: StopReason | None
    stop_sequence: str | None
    usage: Usage


def drop_foreign_signatures(request: Request, provider: str, model: str) -> Request:
    """Strip reasoning signatures that `provider`/`model` did not mint, router stand-ins included.

    Foreign thinking keeps its text (unsigned) so a provider may pass it on as plain context;
    a redacted block has nothing but its signature and is dropped whole. Thinking the router
    signed in its backend's stead arrives unsigned, as its backend produced it, even there.
    """
    messages = tuple(_without_foreign(m, provider, model) for m in request.messages)
    if all(new is old for new, old in zip(messages, request.messages)):
        return request
    return request.evolve(messages=messages)


def _without_foreign(message: Message, provider: str, model: str) -> Message:
    if message.role != "assistant":
        return message
    changed = False
    kept: list[Block] = []
    for block in message.content:
        if isinstance(block, ThinkingBlock) and block.signature is not None:
            if not block.signature.minted_by(provider, model):
                changed = True
                if block.redacted or not block.thinking:
                    continue
                block = ThinkingBlock(block.thinking)
        kept.append(block)
    return Message(message.role, tuple(kept)) if changed else message
