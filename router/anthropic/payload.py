"""Canonical `Request` -> Anthropic Messages JSON, for providers whose backend speaks Anthropic.

The inverse of `decode`: decoding a payload built here gives back an equal `Request`.
Signatures are written in the router's tagged form, so only a provider that minted them
should receive them (the dispatcher drops the others before a provider sees the request).
"""

from __future__ import annotations

from typing import Any, assert_never

from router.anthropic.signatures import encode_signature
from router.conversation import (
    Block,
    CacheControl,
    DocumentBlock,
    ImageBlock,
    Message,
    Request,
    ServerTool,
    TextBlock,
    ThinkingBlock,
    Tool,
    ToolResultBlock,
    ToolSpec,
    ToolUseBlock,
)


def request_payload(request: Request) -> dict[str, Any]:
    """The Anthropic request body for `request` (without `stream`, which the transport decides)."""
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": [message_json(m) for m in request.messages],
    }
    if request.system:
        body["system"] = [block_json(b) for b in request.system]
    if request.tools:
        body["tools"] = [tool_json(t) for t in request.tools]
    if request.tool_choice is not None:
        choice: dict[str, Any] = {"type": request.tool_choice.type}
        if request.tool_choice.name is not None:
            choice["name"] = request.tool_choice.name
        if request.tool_choice.disable_parallel_tool_use:
            choice["disable_parallel_tool_use"] = True
        body["tool_choice"] = choice
    _optional(body, "stop_sequences", list(request.stop_sequences) or None)
    _optional(body, "temperature", request.temperature)
    _optional(body, "top_p", request.top_p)
    _optional(body, "top_k", request.top_k)
    _optional(body, "metadata", dict(request.metadata) or None)
    if request.thinking is not None:
        thinking: dict[str, Any] = {"type": request.thinking.type}
        _optional(thinking, "budget_tokens", request.thinking.budget_tokens)
        body["thinking"] = thinking
    output: dict[str, Any] = {}
    _optional(output, "effort", request.effort)
    if request.output_schema is not None:
        output["format"] = {"type": "json_schema", "schema": request.output_schema}
    _optional(body, "output_config", output or None)
    return body


def message_json(message: Message) -> dict[str, Any]:
    """One message, its content always as a list of blocks."""
    return {"role": message.role, "content": [block_json(b) for b in message.content]}


def block_json(block: Block) -> dict[str, Any]:
    """One content block."""
    match block:
        case TextBlock(text=text):
            return _cached({"type": "text", "text": text}, block.cache_control)
        case ImageBlock():
            return _cached({"type": "image", "source": _image_source(block)}, block.cache_control)
        case DocumentBlock():
            return _document(block)
        case ThinkingBlock(redacted=True, signature=signature) if signature is not None:
            return {"type": "redacted_thinking", "data": encode_signature(signature)}
        case ThinkingBlock(thinking=text, signature=signature):
            data: dict[str, Any] = {"type": "thinking", "thinking": text}
            if signature is not None:
                data["signature"] = encode_signature(signature)
            return data
        case ToolUseBlock(id=tool_id, name=name, input=tool_input, server=server):
            kind = "server_tool_use" if server else "tool_use"
            return _cached({"type": kind, "id": tool_id, "name": name, "input": dict(tool_input)}, block.cache_control)
        case ToolResultBlock(tool_use_id=tool_id, content=content, is_error=is_error):
            result: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id,
                                      "content": [block_json(part) for part in content]}
            if is_error:
                result["is_error"] = True
            return _cached(result, block.cache_control)
        case _:
            assert_never(block)


def tool_json(tool: ToolSpec) -> dict[str, Any]:
    """One tool definition."""
    match tool:
        case Tool(name=name, description=description, input_schema=schema):
            data: dict[str, Any] = {"name": name, "input_schema": dict(schema)}
            if description:
                data["description"] = description
            return _cached(data, tool.cache_control)
        case ServerTool(type=kind, name=name, config=config):
            return {"type": kind, "name": name, **config}
        case _:
            assert_never(tool)


def _image_source(block: ImageBlock) -> dict[str, Any]:
    if block.url is not None:
        return {"type": "url", "url": block.url}
    return {"type": "base64", "media_type": block.media_type, "data": block.data}


def _document(block: DocumentBlock) -> dict[str, Any]:
    if block.url is not None:
        source: dict[str, Any] = {"type": "url", "url": block.url}
    elif block.text is not None:
        source = {"type": "text", "media_type": block.media_type or "text/plain", "data": block.text}
    else:
        source = {"type": "base64", "media_type": block.media_type, "data": block.data}
    data: dict[str, Any] = {"type": "document", "source": source}
    _optional(data, "title", block.title)
    _optional(data, "context", block.context)
    return _cached(data, block.cache_control)


def _cached(data: dict[str, Any], mark: CacheControl | None) -> dict[str, Any]:
    if mark is not None:
        data["cache_control"] = {"type": mark.type, **({"ttl": mark.ttl} if mark.ttl else {})}
    return data


def _optional(data: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        data[key] = value
