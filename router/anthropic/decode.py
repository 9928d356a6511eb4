"""Anthropic Messages JSON -> canonical `Request`. All request validation happens here, once.

Errors name the offending field by its dotted path (`messages.2.content.0.type: ...`), the way
Anthropic's own validation messages do. Unknown top-level fields are ignored, because Claude
Code adds new ones often; unknown content block types are rejected, as Anthropic rejects them.
What only the client means is dropped here, so no provider ever sees it: Claude Code's billing
line in the system prompt (`BILLING_HEADER`). Bodies nested deeper than `MAX_DEPTH` are refused
before any field is read, and messages quote at most a short excerpt of a wrong value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

import orjson

from router.anthropic.signatures import decode_signature
from router.conversation import (
    Block,
    CacheControl,
    DocumentBlock,
    ImageBlock,
    Message,
    Request,
    ResultContent,
    ServerTool,
    TextBlock,
    Thinking,
    ThinkingBlock,
    Tool,
    ToolChoice,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
)
from router.errors import RequestError
from router.toolkit.jsoncheck import Checks, kind_of, load_object, shown

_ROLES = ("user", "assistant", "system")
BILLING_HEADER = "x-anthropic-billing-header:"
"""How Claude Code's per-request billing line in the system prompt starts. It means nothing to
a backend and, changing with every client version, would only defeat prompt caching."""
_SERVER_RESULT_SUFFIX = "_tool_result"

def decode_request(
    body: bytes, *, session_id: str | None = None, betas: Sequence[str] = (), for_count: bool = False
) -> Request:
    """Parse and validate a request body; `for_count` relaxes what count_tokens does not need."""
    data = load_object(body, _fail)
    return parse_request(data, session_id=session_id, betas=betas, for_count=for_count)


def parse_request(
    data: Mapping[str, Any], *, session_id: str | None = None, betas: Sequence[str] = (), for_count: bool = False
) -> Request:
    """Build a `Request` from an already-parsed JSON object."""
    model = _string(data.get("model"), "model", required=True)
    messages = _messages(data.get("messages"))
    max_tokens = 0 if for_count and "max_tokens" not in data else _int(data.get("max_tokens"), "max_tokens", 1)
    thinking = _thinking(data.get("thinking"))
    effort, schema = _output_config(data.get("output_config"))
    messages = _apply_context_management(messages, data.get("context_management"))
    return Request(
        model=model,
        messages=messages,
        max_tokens=max_tokens,
        system=_system(data.get("system")),
        tools=_tools(data.get("tools")),
        tool_choice=_tool_choice(data.get("tool_choice")),
        stop_sequences=_strings(data.get("stop_sequences"), "stop_sequences"),
        temperature=_number(data.get("temperature"), "temperature", 0.0, 2.0),
        top_p=_number(data.get("top_p"), "top_p", 0.0, 1.0),
        top_k=None if data.get("top_k") is None else _int(data.get("top_k"), "top_k", 0),
        thinking=thinking,
        effort=effort,
        output_schema=schema,
        metadata=_object(data.get("metadata"), "metadata") or {},
        stream=_bool(data.get("stream"), "stream"),
        session_id=session_id,
        betas=tuple(betas),
    )


# -- scalars -------------------------------------------------------------------------------


def _fail(path: str, problem: str) -> RequestError:
    return RequestError(f"{path}: {problem}" if path else problem)


_CHECKS = Checks(_fail)
_string, _int, _number = _CHECKS.text, _CHECKS.integer, _CHECKS.number
_bool, _object, _list = _CHECKS.flag, _CHECKS.mapping, _CHECKS.items


def _strings(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(_string(item, f"{path}.{i}") for i, item in enumerate(_list(value, path)))


def _cache(raw: Mapping[str, Any], path: str) -> CacheControl | None:
    mark = _object(raw.get("cache_control"), f"{path}.cache_control")
    if not mark:
        return None
    ttl = mark.get("ttl")
    return CacheControl(str(mark.get("type", "ephemeral")), ttl if isinstance(ttl, str) else None)


# -- system, messages, blocks -------------------------------------------------------------


def _system(value: Any) -> tuple[TextBlock, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        blocks: tuple[TextBlock, ...] = (TextBlock(value),)
    else:
        blocks = tuple(_text_only(item, f"system.{i}") for i, item in enumerate(_list(value, "system")))
    return tuple(kept for block in blocks if (kept := _without_billing(block)) is not None)


def _without_billing(block: TextBlock) -> TextBlock | None:
    """The block without Claude Code's billing line; None when nothing else was in it."""
    if BILLING_HEADER not in block.text:
        return block
    text = "\n".join(line for line in block.text.split("\n") if not line.startswith(BILLING_HEADER))
    return TextBlock(text, block.cache_control) if text.strip() else None


def _text_only(raw: Any, path: str) -> TextBlock:
    block = _object(raw, path)
    if block is None or block.get("type") != "text":
        raise _fail(f"{path}.type", "only text blocks are allowed here")
    return TextBlock(_string(block.get("text"), f"{path}.text"), _cache(block, path))


def _messages(value: Any) -> tuple[Message, ...]:
    if value is None:
        raise _fail("messages", "Field required")
    items = _list(value, "messages")
    if not items:
        raise _fail("messages", "at least one message is required")
    last = len(items) - 1
    return tuple(_message(raw, f"messages.{i}", final=i == last) for i, raw in enumerate(items))


def _message(raw: Any, path: str, *, final: bool) -> Message:
    data = _object(raw, path)
    if data is None:
        raise _fail(path, "Input should be an object, got null")
    role = data.get("role")
    if role not in _ROLES:
        raise _fail(f"{path}.role", f"Input should be 'user' or 'assistant', got {shown(role)}")
    content = data.get("content")
    if isinstance(content, str):
        blocks: tuple[Block, ...] = (TextBlock(content),) if content else ()
    else:
        blocks = tuple(_block(item, f"{path}.content.{i}") for i, item in enumerate(_list(content, f"{path}.content")))
    if not blocks and not (final and role == "assistant"):
        raise _fail(path, "all messages must have non-empty content except for the optional final assistant message")
    if role == "system" and not all(isinstance(b, TextBlock) for b in blocks):
        raise _fail(f"{path}.content", "system messages may only contain text")
    return Message(cast(Literal["user", "assistant", "system"], role), blocks)


def _block(raw: Any, path: str) -> Block:
    block = _object(raw, path)
    if block is None:
        raise _fail(path, "Input should be an object, got null")
    kind = block.get("type")
    match kind:
        case "text":
            text = _string(block.get("text"), f"{path}.text")
            if not text:
                raise _fail(f"{path}.text", "text content blocks must be non-empty")
            return TextBlock(text, _cache(block, path))
        case "image":
            return _image(block, path)
        case "document":
            return _document(block, path)
        case "tool_use" | "server_tool_use" | "mcp_tool_use":
            return _tool_use(block, path, server=kind != "tool_use")
        case "tool_result" | "mcp_tool_result":
            return _tool_result(block, path)
        case "thinking":
            signature = block.get("signature")
            return ThinkingBlock(
                _string(block.get("thinking"), f"{path}.thinking"),
                decode_signature(signature) if isinstance(signature, str) and signature else None,
            )
        case "redacted_thinking":
            return ThinkingBlock("", decode_signature(_string(block.get("data"), f"{path}.data")), redacted=True)
        case "search_result":
            return TextBlock(_search_result_text(block), _cache(block, path))
        case str() if kind.endswith(_SERVER_RESULT_SUFFIX):
            return _server_tool_result(block, path)
    raise _fail(f"{path}.type", f"unsupported content block type {shown(kind)}")


def _image(block: Mapping[str, Any], path: str) -> ImageBlock:
    source = _object(block.get("source"), f"{path}.source") or {}
    kind = source.get("type")
    if kind == "base64":
        return ImageBlock(
            media_type=_string(source.get("media_type"), f"{path}.source.media_type", required=True),
            data=_string(source.get("data"), f"{path}.source.data", required=True),
            cache_control=_cache(block, path),
        )
    if kind == "url":
        url = _string(source.get("url"), f"{path}.source.url", required=True)
        return ImageBlock(url=url, cache_control=_cache(block, path))
    raise _fail(f"{path}.source.type", f"image sources must be 'base64' or 'url', got {shown(kind)}")


def _document(block: Mapping[str, Any], path: str) -> DocumentBlock:
    source = _object(block.get("source"), f"{path}.source") or {}
    kind = source.get("type")
    common: dict[str, Any] = {
        "title": block.get("title") if isinstance(block.get("title"), str) else None,
        "context": block.get("context") if isinstance(block.get("context"), str) else None,
        "cache_control": _cache(block, path),
    }
    if kind == "base64":
        media = _string(source.get("media_type"), f"{path}.source.media_type", required=True)
        return DocumentBlock(media_type=media, data=_string(source.get("data"), f"{path}.source.data"), **common)
    if kind == "text":
        text = _string(source.get("data"), f"{path}.source.data")
        return DocumentBlock(media_type=source.get("media_type") or "text/plain", text=text, **common)
    if kind == "url":
        return DocumentBlock(url=_string(source.get("url"), f"{path}.source.url", required=True), **common)
    if kind == "content":
        parts = source.get("content")
        text = parts if isinstance(parts, str) else "\n".join(_texts_of(parts, f"{path}.source.content"))
        return DocumentBlock(media_type="text/plain", text=text, **common)
    kinds = "'base64', 'text', 'url' or 'content'"
    raise _fail(f"{path}.source.type", f"document sources must be {kinds}, got {shown(kind)}")


def _texts_of(value: Any, path: str) -> list[str]:
    return [_text_only(item, f"{path}.{i}").text for i, item in enumerate(_list(value, path))]


def _tool_use(block: Mapping[str, Any], path: str, *, server: bool) -> ToolUseBlock:
    tool_input = block.get("input", {})
    if not isinstance(tool_input, dict):
        raise _fail(f"{path}.input", f"Input should be an object, got {kind_of(tool_input)}")
    return ToolUseBlock(
        id=_string(block.get("id"), f"{path}.id", required=True),
        name=_string(block.get("name"), f"{path}.name", required=True),
        input=tool_input,
        server=server,
        cache_control=_cache(block, path),
    )


def _tool_result(block: Mapping[str, Any], path: str) -> ToolResultBlock:
    raw = block.get("content")
    content: tuple[ResultContent, ...]
    if raw is None or raw == "":
        content = ()
    elif isinstance(raw, str):
        content = (TextBlock(raw),)
    else:
        content = tuple(_result_part(item, f"{path}.content.{i}") for i, item in enumerate(_list(raw, f"{path}.content")))
    return ToolResultBlock(
        tool_use_id=_string(block.get("tool_use_id"), f"{path}.tool_use_id", required=True),
        content=content,
        is_error=_bool(block.get("is_error"), f"{path}.is_error"),
        cache_control=_cache(block, path),
    )


def _result_part(raw: Any, path: str) -> ResultContent:
    part = _block(raw, path)
    if isinstance(part, (TextBlock, ImageBlock, DocumentBlock)):
        return part
    raise _fail(f"{path}.type", "tool results may only contain text, image, document or search_result blocks")


def _server_tool_result(block: Mapping[str, Any], path: str) -> ToolResultBlock:
    """Results of tools the backend ran (web search and kin), kept as JSON text for the model."""
    raw = block.get("content")
    text = raw if isinstance(raw, str) else orjson.dumps(raw).decode()
    tool_use_id = _string(block.get("tool_use_id"), f"{path}.tool_use_id", required=True)
    return ToolResultBlock(tool_use_id, (TextBlock(text),) if text else (), cache_control=_cache(block, path))


def _search_result_text(block: Mapping[str, Any]) -> str:
    parts = [str(block.get("title", "")), str(block.get("source", ""))]
    content = block.get("content")
    if isinstance(content, list):
        parts += [str(item.get("text", "")) for item in content if isinstance(item, dict)]
    return "\n".join(part for part in parts if part)


# -- tools, options -----------------------------------------------------------------------


def _tools(value: Any) -> tuple[ToolSpec, ...]:
    if value is None:
        return ()
    return tuple(_tool(raw, f"tools.{i}") for i, raw in enumerate(_list(value, "tools")))


def _tool(raw: Any, path: str) -> ToolSpec:
    spec = _object(raw, path) or {}
    kind = spec.get("type")
    name = _string(spec.get("name"), f"{path}.name", required=True)
    if kind not in (None, "custom"):
        config = {k: v for k, v in spec.items() if k not in ("type", "name", "cache_control")}
        return ServerTool(type=_string(kind, f"{path}.type"), name=name, config=config)
    schema = _object(spec.get("input_schema"), f"{path}.input_schema")
    if schema is None:
        raise _fail(f"{path}.input_schema", "Field required")
    description = spec.get("description")
    return Tool(
        name=name,
        description=_string(description, f"{path}.description") if description is not None else "",
        input_schema=schema,
        cache_control=_cache(spec, path),
    )


def _tool_choice(value: Any) -> ToolChoice | None:
    choice = _object(value, "tool_choice")
    if choice is None:
        return None
    kind = choice.get("type")
    if kind not in ("auto", "any", "tool", "none"):
        raise _fail("tool_choice.type", f"Input should be 'auto', 'any', 'tool' or 'none', got {shown(kind)}")
    name = _string(choice.get("name"), "tool_choice.name", required=True) if kind == "tool" else None
    disable = _bool(choice.get("disable_parallel_tool_use"), "tool_choice.disable_parallel_tool_use")
    return ToolChoice(kind, name, disable)


def _thinking(value: Any) -> Thinking | None:
    config = _object(value, "thinking")
    if config is None:
        return None
    kind = config.get("type")
    if kind == "enabled":
        return Thinking("enabled", _int(config.get("budget_tokens"), "thinking.budget_tokens", 1))
    if kind in ("adaptive", "disabled"):
        return Thinking(kind)
    raise _fail("thinking.type", f"Input should be 'enabled', 'adaptive' or 'disabled', got {shown(kind)}")


def _output_config(value: Any) -> tuple[str | None, Mapping[str, Any] | None]:
    config = _object(value, "output_config") or {}
    effort = config.get("effort")
    if effort is not None:
        effort = _string(effort, "output_config.effort")
    fmt = _object(config.get("format"), "output_config.format")
    if fmt is None:
        return effort, None
    if fmt.get("type") != "json_schema":
        raise _fail("output_config.format.type", f"Input should be 'json_schema', got {shown(fmt.get('type'))}")
    schema = _object(fmt.get("schema"), "output_config.format.schema")
    if schema is None:
        raise _fail("output_config.format.schema", "Field required")
    return effort, schema


def _apply_context_management(messages: tuple[Message, ...], value: Any) -> tuple[Message, ...]:
    """Apply `clear_thinking` edits the way Anthropic does: keep thinking in the last N turns only.

    Other edits (such as `clear_tool_uses`) are accepted and not applied: the conversation is
    sent whole, which is always safe, only larger.
    """
    config = _object(value, "context_management") or {}
    edits = config.get("edits")
    for i, raw in enumerate(_list(edits, "context_management.edits") if edits is not None else ()):
        path = f"context_management.edits.{i}"
        edit = _object(raw, path)
        if edit is None or not isinstance(edit.get("type"), str):
            raise _fail(f"{path}.type", "Field required")
        if edit["type"].startswith("clear_thinking"):
            keep = edit.get("keep", {"type": "thinking_turns", "value": 1})
            if keep != "all":
                turns = _object(keep, f"{path}.keep") or {}
                messages = _keep_thinking_turns(messages, _int(turns.get("value"), f"{path}.keep.value", 0))
    return messages


def _keep_thinking_turns(messages: tuple[Message, ...], turns: int) -> tuple[Message, ...]:
    with_thinking = [i for i, m in enumerate(messages) if any(isinstance(b, ThinkingBlock) for b in m.content)]
    drop = set(with_thinking[: max(0, len(with_thinking) - turns)])
    return tuple(
        Message(m.role, tuple(b for b in m.content if not isinstance(b, ThinkingBlock))) if i in drop else m
        for i, m in enumerate(messages)
    )
