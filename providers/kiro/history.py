"""Canonical messages -> Kiro's `history` and `currentMessage`, repaired the way Kiro's validator wants.

Kiro answers a conversation it does not like with a bare 400 "Improperly formed request",
so the rules the gateways learnt (protocol sheet A4) are applied here, in this order:

1. each message becomes a `Turn`; `system` messages mid-conversation become user text, so
   step 2 folds them into the adjacent user turn (or makes them the user turn between two
   assistant turns);
2. consecutive turns of the same role merge (Claude Code can leave two assistant turns);
3. tool uses and results are paired: a result survives only if the assistant turn right
   before it made that call, a call only if the user turn right after it answers it; the
   rest are dropped (both directions) with a note. Without any client tools all tool
   traffic is flattened into text, because Kiro refuses tool uses without a tool config;
4. the history starts with a user turn and the conversation ends with one (placeholders
   are inserted), and no turn or tool result is left with empty content.

Thinking from earlier turns is not sent (rule 11), except signed native reasoning this
provider minted for this model, which goes back as `reasoningContent` when asked to.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from providers.kiro.tools import NameTable, safe_id
from router import conversation as canon
from router.route import Route
from router.toolkit.documents import document_heading, document_text

EMPTY = "(empty)"
"""Content of a history turn that has none (C2C's placeholder; Kiro itself uses it too)."""
CONTINUE = "Continue"
"""Content of a current message that has none."""
EMPTY_RESULT = "(empty result)"
"""Content of a tool result that has none."""
ORIGIN = "AI_EDITOR"

IMAGE_FORMATS = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/gif": "gif",
    "image/webp": "webp",
}
"""The image types Kiro takes (base64 bytes only, no URLs)."""


@dataclass(slots=True)
class ToolResult:
    """One tool result, in Kiro's terms."""

    tool_use_id: str
    text: str
    error: bool


@dataclass(slots=True)
class ToolUse:
    """One tool call an assistant turn made; `name` is already the name Kiro sees."""

    tool_use_id: str
    name: str
    input: dict[str, Any]


@dataclass(slots=True)
class Turn:
    """One user or assistant turn on its way to Kiro."""

    role: Literal["user", "assistant"]
    texts: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    uses: list[ToolUse] = field(default_factory=list)
    reasoning: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        """The turn's texts joined by a blank line (empty parts left out)."""
        return "\n\n".join(text for text in self.texts if text.strip())

    def absorb(self, other: Turn) -> None:
        """Merge the next turn of the same role into this one."""
        self.texts += other.texts
        self.images += other.images
        self.results += other.results
        self.uses += other.uses
        self.reasoning = self.reasoning or other.reasoning


@dataclass(frozen=True, slots=True)
class Conversation:
    """The repaired conversation: history turns and the current user turn, plus what was dropped."""

    history: tuple[Turn, ...]
    current: Turn
    notes: tuple[str, ...] = ()

    def used_tool_names(self) -> set[str]:
        """Names (as Kiro sees them) of every tool the history calls."""
        return {use.name for turn in self.history for use in turn.uses}


class TurnBuilder:
    """Turns canonical messages into repaired `Turn`s (steps 1-4 of the module docstring)."""

    def __init__(
        self,
        route: Route,
        names: NameTable,
        *,
        tools_offered: bool,
        replay_reasoning: bool = False,
        send_images: bool = True,
    ) -> None:
        self.route = route
        self.names = names
        self.tools_offered = tools_offered
        self.replay_reasoning = replay_reasoning
        self.send_images = send_images
        self.notes: list[str] = []

    def conversation(self, messages: Iterable[canon.Message]) -> Conversation:
        """Steps 1-4: convert, merge, pair, and make it start and end with a user turn."""
        turns = merge([self.turn(message) for message in messages])
        if self.tools_offered:
            self.notes += pair_tools(turns)
        else:
            flatten_tools(turns)
        if not turns or turns[0].role != "user":
            turns.insert(0, Turn("user", [EMPTY]))
        if turns[-1].role != "user":
            turns.append(Turn("user"))  # a trailing assistant turn (prefill) moves into the history
        return Conversation(tuple(turns[:-1]), turns[-1], tuple(self.notes))

    def turn(self, message: canon.Message) -> Turn:
        """One message as a turn; `system` turns become user text in place."""
        if message.role == "assistant":
            return self._assistant(message.content)
        return self._user(message.content)

    def _user(self, blocks: tuple[canon.Block, ...]) -> Turn:
        turn = Turn("user")
        for block in blocks:
            if isinstance(block, canon.ToolResultBlock):
                turn.results.append(self._result(block, turn))
            elif isinstance(block, canon.ResultContent):
                self._content(block, turn)
        return turn

    def _content(self, block: canon.ResultContent, turn: Turn) -> None:
        if isinstance(block, canon.TextBlock):
            turn.texts.append(block.text)
        elif isinstance(block, canon.ImageBlock):
            image = self._image(block)
            if isinstance(image, str):
                turn.texts.append(image)
            else:
                turn.images.append(image)
        else:
            turn.texts.append(_document(block))

    def _image(self, block: canon.ImageBlock) -> dict[str, Any] | str:
        """Kiro's image object, or a text stand-in for what Kiro cannot take."""
        image_format = IMAGE_FORMATS.get((block.media_type or "").lower())
        if block.data is None:
            return f"[image at {block.url} not included: Kiro accepts only inline images]"
        if image_format is None or not self.send_images:
            return f"[image ({block.media_type or 'unknown type'}) not included]"
        return {"format": image_format, "source": {"bytes": block.data}}

    def _result(self, block: canon.ToolResultBlock, turn: Turn) -> ToolResult:
        """A tool result; its images travel with the user message (Kiro results hold text only)."""
        parts: list[str] = []
        for part in block.content:
            if isinstance(part, canon.TextBlock):
                parts.append(part.text)
            elif isinstance(part, canon.DocumentBlock):
                parts.append(_document(part))
            elif isinstance(image := self._image(part), str):
                parts.append(image)
            else:
                turn.images.append(image)
                parts.append("[image attached to the message]")
        text = "\n".join(part for part in parts if part)
        return ToolResult(safe_id(block.tool_use_id), text or EMPTY_RESULT, block.is_error)

    def _assistant(self, blocks: tuple[canon.Block, ...]) -> Turn:
        turn = Turn("assistant")
        for block in blocks:
            if isinstance(block, canon.TextBlock):
                turn.texts.append(block.text)
            elif isinstance(block, canon.ToolUseBlock) and not block.server:
                turn.uses.append(ToolUse(safe_id(block.id), self.names.name(block.name), dict(block.input)))
            elif isinstance(block, canon.ToolUseBlock):
                turn.texts.append(f"[{block.name} {_json(block.input)}]")
            elif isinstance(block, canon.ToolResultBlock):
                turn.texts.append(f"[server tool result]\n{block.text}")
            elif isinstance(block, canon.ThinkingBlock) and turn.reasoning is None:
                turn.reasoning = self._reasoning(block)
        return turn

    def _reasoning(self, block: canon.ThinkingBlock) -> dict[str, Any] | None:
        """Signed native reasoning this provider and model minted, as `reasoningContent`; else nothing."""
        signature = block.signature
        if not self.replay_reasoning or signature is None or not signature.value:
            return None
        if not signature.minted_by(self.route.provider, self.route.model):
            return None
        if block.redacted:
            return {"redactedContent": signature.value}
        return {"reasoningText": {"text": block.thinking, "signature": signature.value}}


def merge(turns: list[Turn]) -> list[Turn]:
    """Consecutive turns of one role become one (Kiro wants strict alternation)."""
    merged: list[Turn] = []
    for turn in turns:
        if merged and merged[-1].role == turn.role:
            merged[-1].absorb(turn)
        else:
            merged.append(turn)
    return merged


def pair_tools(turns: list[Turn]) -> list[str]:
    """Keep a call only if the next turn answers it, a result only if the previous turn made the call.

    Both sets are taken before anything is dropped, so a pair survives exactly when both
    halves exist; duplicate results for one call keep the first. Returns notes on drops.
    """
    notes: list[str] = []
    for index, turn in enumerate(turns):
        following = turns[index + 1] if index + 1 < len(turns) else None
        preceding = turns[index - 1] if index > 0 else None
        if turn.role == "assistant":
            answered = {r.tool_use_id for r in following.results} if following else set()
            kept = [use for use in turn.uses if use.tool_use_id in answered]
            dropped_uses = [use for use in turn.uses if use.tool_use_id not in answered]
            notes += [
                f"dropped tool call {u.tool_use_id} ({u.name}): no result follows it" for u in dropped_uses
            ]
            turn.uses = kept
        else:
            made = (
                {u.tool_use_id for u in preceding.uses}
                if preceding and preceding.role == "assistant"
                else set()
            )
            turn.results, dropped = _matching(turn.results, made)
            notes += [
                f"dropped tool result {r.tool_use_id}: no matching call right before it" for r in dropped
            ]
    return notes


def _matching(results: list[ToolResult], made: set[str]) -> tuple[list[ToolResult], list[ToolResult]]:
    kept: list[ToolResult] = []
    dropped: list[ToolResult] = []
    seen: set[str] = set()
    for result in results:
        if result.tool_use_id in made and result.tool_use_id not in seen:
            kept.append(result)
            seen.add(result.tool_use_id)
        else:
            dropped.append(result)
    return kept, dropped


def flatten_tools(turns: list[Turn]) -> None:
    """Tool calls and results as plain text, for requests that offer no tools (C2C's rule)."""
    for turn in turns:
        turn.texts += [f"[tool call {use.name} ({use.tool_use_id}): {_json(use.input)}]" for use in turn.uses]
        turn.texts += [
            f"[tool result for {r.tool_use_id}{' (error)' if r.error else ''}]\n{r.text}"
            for r in turn.results
        ]
        turn.uses, turn.results = [], []


def _document(block: canon.DocumentBlock) -> str:
    """A document as text: plain or base64 text documents inline, anything else as a note."""
    text = document_text(block)
    if text is not None:
        return text
    where = f" at {block.url}" if block.url else ""
    note = f"[document{where} ({block.media_type or 'unknown type'}) not included: Kiro cannot read it here]"
    heading = document_heading(block)
    return f"{heading}\n\n{note}" if heading else note


def _json(value: Any) -> str:
    return orjson.dumps(dict(value)).decode()


# -- turns -> Kiro JSON ----------------------------------------------------------------------------


def user_message(
    turn: Turn, content: str, model_id: str, tools: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A `userInputMessage` object: content, model, origin, images and the message context."""
    message: dict[str, Any] = {"content": content, "modelId": model_id, "origin": ORIGIN}
    if turn.images:
        message["images"] = turn.images
    context: dict[str, Any] = {}
    if tools:
        context["tools"] = tools
    if turn.results:
        context["toolResults"] = [_result_json(result) for result in turn.results]
    if context:
        message["userInputMessageContext"] = context
    return message


def _result_json(result: ToolResult) -> dict[str, Any]:
    status = "error" if result.error else "success"
    return {"toolUseId": result.tool_use_id, "content": [{"text": result.text}], "status": status}


def assistant_message(turn: Turn) -> dict[str, Any]:
    """An `assistantResponseMessage` object; content is never empty."""
    message: dict[str, Any] = {"content": turn.text or EMPTY}
    if turn.uses:
        message["toolUses"] = [
            {"toolUseId": u.tool_use_id, "name": u.name, "input": u.input} for u in turn.uses
        ]
    if turn.reasoning is not None:
        message["reasoningContent"] = turn.reasoning
    return message


def history_json(history: Iterable[Turn], model_id: str, first_user_prefix: str = "") -> list[dict[str, Any]]:
    """The `history` array; `first_user_prefix` (the system prompt) opens the first user turn."""
    out: list[dict[str, Any]] = []
    prefix = first_user_prefix
    for turn in history:
        if turn.role == "assistant":
            out.append({"assistantResponseMessage": assistant_message(turn)})
            continue
        content = join(prefix, turn.text or EMPTY)
        prefix = ""
        out.append({"userInputMessage": user_message(turn, content, model_id)})
    return out


def join(*parts: str) -> str:
    """Non-empty parts separated by a blank line."""
    return "\n\n".join(part for part in parts if part)
