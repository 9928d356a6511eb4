"""Canonical messages -> Codex input items, in place and in order, replayed whole every turn.

Codex keeps nothing between turns (`store: false`) and cannot look items up by id, so the
whole conversation goes out each time: user content as `input_*` parts, assistant text as
`output_text`, tool calls and results as `function_call` / `function_call_output` items,
and reasoning this provider signed as `reasoning` items carrying their `encrypted_content`.
"""

from __future__ import annotations

from typing import Any

import orjson

from providers.codex.tools import NameTable
from router import conversation as canon
from router.route import Route
from router.toolkit.documents import document_heading, document_text
from router.toolkit.turns import split_user_turn


def message_item(role: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    """A `message` input item (roles `user`, `assistant`, `developer`: Codex refuses `system`)."""
    return {"type": "message", "role": role, "content": content}


def input_text(text: str) -> dict[str, Any]:
    """A text part of a user or developer message."""
    return {"type": "input_text", "text": text}


class InputBuilder:
    """Turns the messages into Codex input items, in place and in order.

    It remembers which call ids were replayed as `function_call`s, because Codex rejects a
    `function_call_output` whose call is not in the same input: such orphans become text.
    """

    def __init__(
        self, route: Route, names: NameTable, *, replay_reasoning: bool, images_in_tool_output: bool
    ) -> None:
        self.route = route
        self.names = names
        self.replay_reasoning = replay_reasoning
        self.images_in_tool_output = images_in_tool_output
        self.calls: set[str] = set()

    def items(self, messages: tuple[canon.Message, ...]) -> list[dict[str, Any]]:
        """Every message as input items; `system` turns become developer messages in place."""
        out: list[dict[str, Any]] = []
        for message in messages:
            if message.role == "assistant":
                out += self.assistant(message.content)
            elif message.role == "system":
                texts = [input_text(b.text) for b in message.content if isinstance(b, canon.TextBlock)]
                out.append(message_item("developer", texts))
            else:
                out += self.user(message.content)
        return out

    # -- user turns: tool outputs first, then one message with everything else --

    def user(self, blocks: tuple[canon.Block, ...]) -> list[dict[str, Any]]:
        """Tool outputs right after their calls, then one user message with the rest, images included."""
        outputs, parts = split_user_turn(blocks, self.tool_output, content_parts)
        return outputs + ([message_item("user", parts)] if parts else [])

    def tool_output(self, block: canon.ToolResultBlock) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The `function_call_output` item, and the parts that must travel in a user message."""
        parts = [part for content in block.content for part in content_parts(content)]
        call_id = self.names.call_id(block.tool_use_id)
        if call_id not in self.calls:
            header = f"Result of tool call {block.tool_use_id}{' (error)' if block.is_error else ''}:"
            return [], [input_text(header), *parts]
        inline = {"input_text", "input_image"} if self.images_in_tool_output else {"input_text"}
        kept = [part for part in parts if part["type"] in inline]
        moved = [part for part in parts if part["type"] not in inline]
        if moved:
            kept.append(input_text("[attachments follow in the next user message]"))
            moved.insert(0, input_text(f"Attachments returned by tool call {block.tool_use_id}:"))
        output = _output_value(kept, block.is_error)
        return [{"type": "function_call_output", "call_id": call_id, "output": output}], moved

    # -- assistant turns --

    def assistant(self, blocks: tuple[canon.Block, ...]) -> list[dict[str, Any]]:
        """Reasoning, text and calls in their original order; adjacent texts share one message."""
        out: list[dict[str, Any]] = []
        texts: list[str] = []
        for block in blocks:
            text = _assistant_text(block)
            if text is not None:
                texts.append(text)
                continue
            item = self.assistant_item(block)
            if item is not None:
                out += _assistant_message(texts) + [item]
                texts = []
        return out + _assistant_message(texts)

    def assistant_item(self, block: canon.Block) -> dict[str, Any] | None:
        """A client tool call as `function_call`, signed thinking as `reasoning`, else nothing."""
        if isinstance(block, canon.ToolUseBlock):
            call_id = self.names.call_id(block.id)
            self.calls.add(call_id)
            arguments = orjson.dumps(dict(block.input)).decode()
            return {
                "type": "function_call",
                "call_id": call_id,
                "name": self.names.name(block.name),
                "arguments": arguments,
            }
        if isinstance(block, canon.ThinkingBlock):
            return self.reasoning(block)
        return None

    def reasoning(self, block: canon.ThinkingBlock) -> dict[str, Any] | None:
        """A thinking block Codex signed becomes its reasoning item again; any other is dropped.

        Unsigned thinking came from another model: replaying it as assistant text would teach
        Codex to think aloud in its answers, and its conclusions are in the turn's text anyway.
        """
        signature = block.signature
        if signature is None or not self.replay_reasoning:
            return None
        if not signature.minted_by(self.route.provider, self.route.model) or not signature.value:
            return None
        return {"type": "reasoning", "summary": [], "content": None, "encrypted_content": signature.value}


def _assistant_message(texts: list[str]) -> list[dict[str, Any]]:
    """Adjacent assistant texts as one message (none at all when there is no text)."""
    if not texts:
        return []
    return [message_item("assistant", [{"type": "output_text", "text": "\n\n".join(texts)}])]


def _assistant_text(block: canon.Block) -> str | None:
    """Text an assistant turn carries as `output_text`, including server tool traffic as context."""
    if isinstance(block, canon.TextBlock):
        return block.text
    if isinstance(block, canon.ToolUseBlock) and block.server:
        return f"[{block.name} {orjson.dumps(dict(block.input)).decode()}]"
    if isinstance(block, canon.ToolResultBlock):
        return f"[server tool result]\n{block.text}"
    return None


def _output_value(parts: list[dict[str, Any]], is_error: bool) -> str | list[dict[str, Any]]:
    """A plain string when the output is text only, else the array form (text and images)."""
    prefix = "Tool error: " if is_error else ""
    if all(part["type"] == "input_text" for part in parts):
        return prefix + "\n".join(part["text"] for part in parts)
    return ([input_text(prefix.strip())] if prefix else []) + parts


def content_parts(block: canon.ResultContent) -> list[dict[str, Any]]:
    """User content as Codex parts: text, images as data: or https URLs, documents as text or files."""
    if isinstance(block, canon.TextBlock):
        return [input_text(block.text)] if block.text else []
    if isinstance(block, canon.ImageBlock):
        url = block.url or f"data:{block.media_type};base64,{block.data}"
        return [{"type": "input_image", "image_url": url}]
    return _document_parts(block)


def _document_parts(block: canon.DocumentBlock) -> list[dict[str, Any]]:
    """Text documents as text; base64 files (PDFs) as `input_file`; URL documents as a reference."""
    text = document_text(block)
    if text is not None:
        return [input_text(text)]
    if block.data is not None:
        media = block.media_type or "application/octet-stream"
        name = block.title or ("document.pdf" if media == "application/pdf" else "document")
        file = {"type": "input_file", "filename": name, "file_data": f"data:{media};base64,{block.data}"}
        return ([input_text(block.context)] if block.context else []) + [file]
    heading = document_heading(block)
    return [input_text(f"[document at {block.url}]{' ' + heading if heading else ''}")]

