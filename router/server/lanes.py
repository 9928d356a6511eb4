"""Conditional lanes: the shape of a request, and the `when:` conditions a route puts on it.

A route may ask for more than a tier or a model name: `when: {tier: opus, images: true}` sends
only the turns that carry a screenshot to a backend that can see, `when: {background: true}`
sends Claude Code's housekeeping calls to a cheap model, `when: {long_context: true}` sends a
long session to a model with a big window. This module is pure: `Shape.of` reads a decoded
`Request` once, `Conditions.matches` checks a rule against it. Routing runs on every turn, so
both together stay at about 13 µs per 150 KB request for a six-rule table (`python -m bench.routing`).

Token counts here are estimates, never tokenised: about 4 bytes of the JSON body per token,
with base64 payloads (images, PDFs, reasoning signatures) taken out of the body and each image
or binary document counted at a fixed cost instead, as `router.tokens` does. On Claude Code's
requests that reads 6-10% above `router.tokens.estimate_input_tokens` (the JSON framing counts
too), at a sixth of its cost: that one serialises every tool schema and tool input again,
about 75 µs per 150 KB request. It assumes compact JSON, as Claude Code and the SDKs send; an
indented body reads high by its indentation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from router.conversation import (
    DocumentBlock,
    ImageBlock,
    Message,
    Request,
    ServerTool,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from router.errors import ConfigError
from router.settings import join_path, show_value
from router.tokens import CHARS_PER_TOKEN, DOCUMENT_TOKENS, IMAGE_TOKENS, estimate_input_tokens

WEB_SEARCH = "web_search"
"""The name of Anthropic's web search server tool, and the prefix of its versioned types."""


@dataclass(frozen=True, slots=True)
class Shape:
    """What a request needs from a backend, read once per request for every rule to check.

    `background` marks Claude Code's housekeeping calls (title generation and kin): a request
    that declares no tools and does not ask for thinking. Basis, the captures in
    tests/fixtures/claude-code (Claude Code 2.1.197): every main-loop turn, on opus, sonnet and
    haiku alike, first turn and tool-result turn, declares 24-25 tools and sends thinking
    `adaptive` or `enabled`; the title generation call sends `tools: []` and thinking `disabled`.
    The model is no signal (with `--model haiku` the main loop runs on haiku too), and neither
    are system prompt markers (the placeholders hide them, and they change between releases).
    A tool-less summary of a long session counts as background too: pair `background: true`
    with `long_context: false` when the background lane has a small window.

    `text_size` and `fixed_tokens` are the inputs of `estimated_tokens`, kept so the estimate
    costs nothing until a rule asks for it.
    """

    thinking: bool
    images: bool
    web_search: bool
    tools: bool
    background: bool
    text_size: int = 0
    """Bytes of the body that are text, JSON or schema: the body less its base64 payloads."""
    fixed_tokens: int = 0
    """Tokens counted per attachment (images, binary documents) rather than per byte."""

    @classmethod
    def of(cls, request: Request, body_size: int) -> Shape:
        """The shape of `request`, whose JSON body was `body_size` bytes (as decoded, uncompressed).

        A `body_size` of 0 means there was no body (a request built in code): the estimate then
        comes from `router.tokens.estimate_input_tokens`, here and now, which costs about 75 µs
        at 150 KB; the router always has the real size, so routing never takes that path.
        """
        thinking = request.thinking is not None and request.thinking.type != "disabled"
        tools = bool(request.tools)
        web_search = any(_is_web_search(tool) for tool in request.tools if isinstance(tool, ServerTool))
        images, binary, fixed = _attachments(request.messages)
        if body_size <= 0:
            text_size, fixed = 0, estimate_input_tokens(request)
        else:
            text_size = max(0, body_size - binary)
        background = not tools and not thinking
        return cls(thinking, images, web_search, tools, background, text_size, fixed)

    @property
    def estimated_tokens(self) -> int:
        """Approximate input tokens: text at 4 bytes per token plus the attachments' fixed costs."""
        return self.fixed_tokens + -(-self.text_size // CHARS_PER_TOKEN)


def _is_web_search(tool: ServerTool) -> bool:
    """Anthropic's web search server tool (`web_search_20250305` and later versions).

    Only server tools count: a backend needs search of its own only when the request carries
    the server tool. Claude Code's `WebSearch`, in every captured main turn, is a client tool.
    """
    return tool.type.startswith(WEB_SEARCH) or tool.name == WEB_SEARCH


def _attachments(messages: tuple[Message, ...]) -> tuple[bool, int, int]:
    """(any image, base64 characters of payloads, their fixed token cost), tool results included.

    Text and tool calls, nearly every block of a long session, are passed over first.
    """
    images, binary, fixed = False, 0, 0
    for message in messages:
        for block in message.content:
            if isinstance(block, (TextBlock, ToolUseBlock)):
                continue
            for part in block.content if isinstance(block, ToolResultBlock) else (block,):
                if isinstance(part, TextBlock):
                    continue
                if isinstance(part, ImageBlock):
                    images, fixed = True, fixed + IMAGE_TOKENS
                    binary += len(part.data) if part.data else 0
                elif isinstance(part, DocumentBlock) and part.data is not None:
                    binary, fixed = binary + len(part.data), fixed + DOCUMENT_TOKENS
                elif isinstance(part, ThinkingBlock) and part.signature is not None:
                    binary += len(part.signature.value)  # opaque to the model: not input text
    return images, binary, fixed


@dataclass(frozen=True, slots=True)
class Conditions:
    """The shape keys of one rule's `when:`; None means the rule does not care about that key."""

    tokens_over: int | None = None
    long_context: bool | None = None
    thinking: bool | None = None
    images: bool | None = None
    web_search: bool | None = None
    tools: bool | None = None
    background: bool | None = None

    @property
    def empty(self) -> bool:
        """True when the rule puts no condition on the request's shape."""
        return self == NO_CONDITIONS

    def matches(self, shape: Shape, long_context_tokens: int) -> bool:
        """Whether every given condition holds for `shape`.

        `long_context: true` means more estimated tokens than `long_context_tokens`, which the
        caller picks (the target model's context window when known). The estimate is only
        looked at when a token condition is present.
        """
        if not (
            (self.thinking is None or shape.thinking == self.thinking)
            and (self.images is None or shape.images == self.images)
            and (self.web_search is None or shape.web_search == self.web_search)
            and (self.tools is None or shape.tools == self.tools)
            and (self.background is None or shape.background == self.background)
        ):
            return False
        if self.tokens_over is None and self.long_context is None:
            return True
        tokens = shape.estimated_tokens
        if self.tokens_over is not None and tokens <= self.tokens_over:
            return False
        return self.long_context is None or (tokens > long_context_tokens) == self.long_context

    def describe(self) -> str:
        """The conditions for the routing table: 'thinking, images, tokens > 60000, not tools'."""
        flags = [(name.replace("_", " "), wanted) for name, wanted in self._flags() if wanted is not None]
        if self.long_context is not None:
            flags.insert(0, ("long context", self.long_context))
        words = [name for name, wanted in flags if wanted]
        if self.tokens_over is not None:
            words.append(f"tokens > {self.tokens_over}")
        return ", ".join(words + [f"not {name}" for name, wanted in flags if not wanted])

    def _flags(self) -> tuple[tuple[str, bool | None], ...]:
        return (
            ("thinking", self.thinking),
            ("images", self.images),
            ("web_search", self.web_search),
            ("tools", self.tools),
            ("background", self.background),
        )


NO_CONDITIONS = Conditions()
"""A rule without shape conditions: it matches every request."""
SHAPE_KEYS: frozenset[str] = frozenset(field.name for field in fields(Conditions))
"""The `when:` keys this module validates; `tier` and `model` belong to the config parser."""


def parse_conditions(section: Mapping[str, object], path: str) -> Conditions:
    """The shape conditions of a `when:` mapping at `path`; other keys are left to the caller.

    A key that is present must have a value (`thinking:` with nothing after it is an error, not
    "don't care"). Errors name the key: `routes[2].when.thinking: expected true or false, got 'yes'`.
    """
    return Conditions(
        tokens_over=_tokens(section, "tokens_over", path),
        long_context=_flag(section, "long_context", path),
        thinking=_flag(section, "thinking", path),
        images=_flag(section, "images", path),
        web_search=_flag(section, "web_search", path),
        tools=_flag(section, "tools", path),
        background=_flag(section, "background", path),
    )


def _flag(section: Mapping[str, object], key: str, path: str) -> bool | None:
    if key not in section:
        return None
    value = section[key]
    if not isinstance(value, bool):
        raise ConfigError(join_path(path, key), f"expected true or false, got {show_value(value)}")
    return value


def _tokens(section: Mapping[str, object], key: str, path: str) -> int | None:
    if key not in section:
        return None
    value = section[key]
    if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
        problem = f"expected a positive whole number of tokens such as 60000, got {show_value(value)}"
        raise ConfigError(join_path(path, key), problem)
    return value
