"""Canonical messages -> chat-completions messages, in place and in order.

The whole conversation is sent every turn. What needs care:

- Tool results become `role: "tool"` messages answering the assistant's `tool_calls` by id.
  Tool messages carry text only, so images and files a tool returned move into a user
  message right after; a result whose call is not in the conversation becomes user text.
- Reasoning this provider signed goes back on the assistant message as `reasoning_details`,
  exactly as received (the signature's value is their JSON; see `reasoning.py`), with the
  thinking text as `reasoning`: Claude, Gemini and OpenAI reasoning models need that chain
  across tool rounds.
  Unsigned thinking came from another backend and is left out, as the Codex provider does.
- Cache marks are copied onto text parts only when `cache` is set (explicit-caching models);
  a single unmarked text stays a plain string, which every upstream accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from providers.openrouter.reasoning import details_for
from providers.openrouter.tools import NameTable
from router import conversation as canon
from router.route import Route
from router.toolkit.documents import document_text
from router.toolkit.turns import split_user_turn

Part = dict[str, Any]
ChatMessage = dict[str, Any]

EMPTY_RESULT = "(no output)"


def cache_json(mark: canon.CacheControl) -> dict[str, str]:
    """A cache mark as OpenRouter takes it (Anthropic's own shape)."""
    return {"type": mark.type, **({"ttl": mark.ttl} if mark.ttl else {})}


class MessageBuilder:
    """Turns a request's system prompt and messages into chat messages.

    It remembers which tool-call ids the assistant messages carried, because a `tool` message
    must answer a call made earlier in the same conversation.
    """

    def __init__(self, route: Route, names: NameTable, *, cache: bool) -> None:
        self.route = route
        self.names = names
        self.cache = cache
        self.calls: set[str] = set()

    def messages(self, system: tuple[canon.TextBlock, ...], messages: tuple[canon.Message, ...]) -> list[ChatMessage]:
        """The system prompt first, then every message in order (`system` turns stay in place)."""
        out = self.system(system)
        for message in messages:
            if message.role == "assistant":
                out += self.assistant(message.content)
            elif message.role == "system":
                out += self.system(tuple(b for b in message.content if isinstance(b, canon.TextBlock)))
            else:
                out += self.user(message.content)
        return out

    def system(self, blocks: tuple[canon.TextBlock, ...]) -> list[ChatMessage]:
        """One system message with every non-blank block as a part."""
        parts = [self.text(b.text, b.cache_control) for b in blocks if b.text.strip()]
        return [{"role": "system", "content": _content(parts)}] if parts else []

    # -- parts --

    def text(self, text: str, mark: canon.CacheControl | None = None) -> Part:
        """A text part, with its cache mark when this model caches explicitly."""
        part: Part = {"type": "text", "text": text}
        if mark is not None and self.cache:
            part["cache_control"] = cache_json(mark)
        return part

    def parts(self, block: canon.ResultContent) -> list[Part]:
        """User content as parts: text, images as `image_url` (data: or https), documents as text or files."""
        if isinstance(block, canon.TextBlock):
            return [self.text(block.text, block.cache_control)] if block.text else []
        if isinstance(block, canon.ImageBlock):
            url = block.url or f"data:{block.media_type};base64,{block.data}"
            return [{"type": "image_url", "image_url": {"url": url}}]
        return self.document(block)

    def document(self, block: canon.DocumentBlock) -> list[Part]:
        """Text documents as text; PDFs and other files as OpenRouter's `file` part (base64 or URL).

        OpenRouter parses a file itself when the model cannot read it natively, so a PDF works
        on every model.
        """
        text = document_text(block)
        if text is not None:
            return [self.text(text, block.cache_control)]
        media = block.media_type or ("application/pdf" if block.url is None else "")
        name = block.title or ("document.pdf" if media in ("application/pdf", "") else "document")
        data = block.url or f"data:{media};base64,{block.data}"
        file: Part = {"type": "file", "file": {"filename": name, "file_data": data}}
        return ([self.text(block.context)] if block.context else []) + [file]

    # -- user turns: tool messages first, then one user message with everything else --

    def user(self, blocks: tuple[canon.Block, ...]) -> list[ChatMessage]:
        """Tool messages right after their calls, then a user message with the rest (moved images too)."""
        answers, parts = split_user_turn(blocks, self.tool_result, self.parts)
        return answers + ([{"role": "user", "content": _content(parts)}] if parts else [])

    def tool_result(self, block: canon.ToolResultBlock) -> tuple[list[ChatMessage], list[Part]]:
        """The `tool` message, and the parts that must travel in the following user message."""
        parts = [part for content in block.content for part in self.parts(content)]
        if block.tool_use_id not in self.calls:
            header = f"Result of tool call {block.tool_use_id}{' (error)' if block.is_error else ''}:"
            return [], [self.text(header), *parts]
        texts = [part for part in parts if part["type"] == "text"]
        moved = [part for part in parts if part["type"] != "text"]
        if moved:
            texts.append(self.text("[attachments follow in the next user message]"))
            moved.insert(0, self.text(f"Attachments returned by tool call {block.tool_use_id}:"))
        texts = texts or [self.text(EMPTY_RESULT)]
        if block.is_error:
            texts[0]["text"] = f"Tool error: {texts[0]['text']}"
        if block.cache_control is not None and self.cache:
            texts[-1]["cache_control"] = cache_json(block.cache_control)
        return [{"role": "tool", "tool_call_id": block.tool_use_id, "content": _content(texts)}], moved

    # -- assistant turns --

    def assistant(self, blocks: tuple[canon.Block, ...]) -> list[ChatMessage]:
        """Text, tool calls and signed reasoning as one assistant message (none when it says nothing)."""
        texts: list[Part] = []
        calls: list[dict[str, Any]] = []
        reasoning: list[str] = []
        details: list[dict[str, Any]] = []
        for block in blocks:
            if isinstance(block, canon.ToolUseBlock) and not block.server:
                calls.append(self.call(block))
            elif isinstance(block, canon.ThinkingBlock):
                found = details_for(block, self.route)
                if found is not None:
                    details += found
                    reasoning += [block.thinking] if block.thinking and not block.redacted else []
            else:
                text = _assistant_text(block)
                if text:
                    mark = block.cache_control if isinstance(block, canon.TextBlock) else None
                    texts.append(self.text(text, mark))
        if not texts and not calls:
            return []
        message: ChatMessage = {"role": "assistant", "content": _joined(texts)}
        if calls:
            message["tool_calls"] = calls
        if reasoning:
            message["reasoning"] = "\n\n".join(reasoning)
        if details:
            message["reasoning_details"] = details
        return [message]

    def call(self, block: canon.ToolUseBlock) -> dict[str, Any]:
        """A client tool call as a `tool_calls` entry (arguments as a JSON string)."""
        self.calls.add(block.id)
        arguments = orjson.dumps(dict(block.input)).decode()
        return {"id": block.id, "type": "function", "function": {"name": self.names.name(block.name),
                                                                 "arguments": arguments}}


def _assistant_text(block: canon.Block) -> str | None:
    """Text an assistant turn carries, including server tool traffic as context."""
    if isinstance(block, canon.TextBlock):
        return block.text
    if isinstance(block, canon.ToolUseBlock):
        return f"[{block.name} {orjson.dumps(dict(block.input)).decode()}]"
    if isinstance(block, canon.ToolResultBlock):
        return f"[server tool result]\n{block.text}"
    return None


def _content(parts: list[Part]) -> str | list[Part]:
    """A plain string for one unmarked text part, else the parts themselves."""
    if len(parts) == 1 and parts[0]["type"] == "text" and "cache_control" not in parts[0]:
        return str(parts[0]["text"])
    return parts


def _joined(parts: list[Part]) -> str | list[Part] | None:
    """Assistant text as one string (parts only when a cache mark must ride on one); None when empty."""
    if not parts:
        return None
    if any("cache_control" in part for part in parts):
        return parts
    return "\n\n".join(str(part["text"]) for part in parts)


def limit_breakpoints(messages: list[ChatMessage], limit: int) -> int:
    """Keep only the last `limit` cache marks (Anthropic allows four); returns how many were dropped."""
    marked = [part for message in messages for part in _parts_of(message) if "cache_control" in part]
    extra = marked[: max(0, len(marked) - limit)]
    for part in extra:
        del part["cache_control"]
    return len(extra)


def _parts_of(message: Mapping[str, Any]) -> list[Part]:
    content = message.get("content")
    return [part for part in content if isinstance(part, dict)] if isinstance(content, list) else []
