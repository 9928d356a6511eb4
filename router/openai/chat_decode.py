"""OpenAI Chat Completions JSON -> canonical `Request`. All validation of such a request happens here.

Errors are `InvalidParam`s naming the field the way OpenAI does (`messages[2].content`), so the
error body's `param` points at it. Unknown top-level fields are ignored, as the Anthropic decoder
ignores them; unknown content part types are rejected. The depth guard and type checks are the Anthropic decoder's (`router.toolkit.jsoncheck`).

Choices this dialect makes, since Chat Completions and the canonical model do not line up exactly:

- Leading `system`/`developer` messages become the system prompt; later ones stay in place as
  system turns.
- `tool` messages become tool results in a user turn; consecutive ones share one turn, in order,
  so parallel calls are answered together as the canonical model (and Anthropic) expects.
- A tool call's `arguments` that are not a JSON object (a model may have cut them short) do not
  fail the request: the history is the client's, and refusing it would wedge the conversation. The
  call keeps the text as `{RAW_ARGUMENTS: text}`, so the model still sees what it sent.
- `reasoning_effort` sets the canonical `effort` and turns thinking on (`adaptive`), so reasoning
  is streamed back; `none` turns thinking off instead. A route's own `effort` comes first (as for Anthropic clients).
- Without `max_completion_tokens`/`max_tokens` the request asks for `DEFAULT_MAX_TOKENS`.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from router.conversation import (
    Block,
    ImageBlock,
    Message,
    Request,
    TextBlock,
    Thinking,
    ThinkingBlock,
    Tool,
    ToolChoice,
    ToolResultBlock,
    ToolUseBlock,
)
from router.errors import RequestError
from router.toolkit.jsoncheck import Checks, load_object, shown

DEFAULT_MAX_TOKENS = 8192
"""What a request that sets no output limit asks for (OpenAI makes the limit optional, the canonical model does not)."""
RAW_ARGUMENTS = "_raw_arguments"
"""The key under which a tool call's unparseable `arguments` text is kept."""
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
"""The `reasoning_effort` values accepted; all but `none` pass through as the canonical effort."""
_SYSTEM_ROLES = ("system", "developer")


class InvalidParam(RequestError):
    """A request field is wrong; `param` names it as OpenAI does (`messages[2].content`)."""

    def __init__(self, param: str, problem: str) -> None:
        super().__init__(f"{param}: {problem}" if param else problem)
        self.param = param or None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A decoded request and what only the Chat Completions reply needs (`stream_options.include_usage`)."""

    request: Request
    include_usage: bool = False


def decode_chat(body: bytes, *, session_id: str | None = None) -> ChatRequest:
    """Parse and validate a Chat Completions request body."""
    data = load_object(body, InvalidParam, _param_of)
    return ChatRequest(parse_chat_request(data, session_id=session_id), include_usage(data))


def decode_chat_request(body: bytes, *, session_id: str | None = None) -> Request:
    """The canonical request of a Chat Completions body (see `decode_chat` for `include_usage` too)."""
    return decode_chat(body, session_id=session_id).request


def parse_chat_request(data: Mapping[str, Any], *, session_id: str | None = None) -> Request:
    """Build a `Request` from an already-parsed Chat Completions object."""
    model = _string(data.get("model"), "model", required=True)
    system, messages = _messages(data.get("messages"))
    n = data.get("n")
    if n is not None and _int(n, "n", 1) != 1:
        raise InvalidParam("n", "only n=1 is supported")
    effort, thinking = _reasoning(data.get("reasoning_effort"))
    user = data.get("user")
    return Request(
        model=model,
        messages=messages,
        max_tokens=_max_tokens(data),
        system=system,
        tools=_tools(data.get("tools")),
        tool_choice=_tool_choice(data.get("tool_choice"), data.get("parallel_tool_calls")),
        stop_sequences=_stop(data.get("stop")),
        temperature=_number(data.get("temperature"), "temperature", 0.0, 2.0),
        top_p=_number(data.get("top_p"), "top_p", 0.0, 1.0),
        thinking=thinking,
        effort=effort,
        output_schema=_response_format(data.get("response_format")),
        metadata={"user_id": _string(user, "user")} if user is not None else {},
        stream=_bool(data.get("stream"), "stream"),
        session_id=session_id,
    )


def include_usage(data: Mapping[str, Any]) -> bool:
    """Whether a streamed reply ends with a usage chunk (`stream_options.include_usage`)."""
    options = _object(data.get("stream_options"), "stream_options") or {}
    return _bool(options.get("include_usage"), "stream_options.include_usage")


# -- scalars -------------------------------------------------------------------------------


def _param_of(dotted: str) -> str:
    """The Anthropic decoder's dotted path (`messages.2.content`) as OpenAI writes it (`messages[2].content`)."""
    if dotted == "request body":
        return ""
    out = ""
    for part in dotted.split("."):
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


_CHECKS = Checks(InvalidParam)
_string, _int, _number = _CHECKS.text, _CHECKS.integer, _CHECKS.number
_bool, _object, _list = _CHECKS.flag, _CHECKS.mapping, _CHECKS.items


def _max_tokens(data: Mapping[str, Any]) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        if data.get(key) is not None:
            return _int(data[key], key, 1)
    return DEFAULT_MAX_TOKENS


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(_string(item, f"stop[{i}]") for i, item in enumerate(_list(value, "stop")))


def _reasoning(value: Any) -> tuple[str | None, Thinking | None]:
    if value is None:
        return None, None
    if value not in EFFORTS:
        allowed = ", ".join(f"'{effort}'" for effort in EFFORTS)
        raise InvalidParam("reasoning_effort", f"Input should be one of {allowed}, got {shown(value)}")
    if value == "none":
        return None, Thinking("disabled")
    return str(value), Thinking("adaptive")


def _response_format(value: Any) -> Mapping[str, Any] | None:
    fmt = _object(value, "response_format")
    if fmt is None or fmt.get("type") in ("text", "json_object"):
        return None  # json_object has no schema to enforce; the prompt asks for JSON already
    if fmt.get("type") != "json_schema":
        kinds = "'text', 'json_object' or 'json_schema'"
        raise InvalidParam("response_format.type", f"Input should be {kinds}, got {shown(fmt.get('type'))}")
    spec = _object(fmt.get("json_schema"), "response_format.json_schema") or {}
    schema = _object(spec.get("schema"), "response_format.json_schema.schema")
    return schema if schema is not None else {"type": "object"}


# -- messages ------------------------------------------------------------------------------


def _messages(value: Any) -> tuple[tuple[TextBlock, ...], tuple[Message, ...]]:
    """The system prompt (leading system/developer messages) and the turns after it."""
    if value is None:
        raise InvalidParam("messages", "Field required")
    items = _list(value, "messages")
    if not items:
        raise InvalidParam("messages", "at least one message is required")
    system: list[TextBlock] = []
    turns: list[Message] = []
    results: list[Block] = []  # consecutive tool messages, answered in one user turn
    for i, raw in enumerate(items):
        path = f"messages[{i}]"
        data = _object(raw, path)
        if data is None:
            raise InvalidParam(path, "Input should be an object, got null")
        role = data.get("role")
        if role == "tool":
            results.append(_tool_result(data, path))
            continue
        if results:
            turns.append(Message("user", tuple(results)))
            results = []
        if role in _SYSTEM_ROLES:
            blocks = _texts(data.get("content"), f"{path}.content")
            if turns:
                turns.append(Message("system", blocks))
            else:
                system.extend(blocks)
        elif role == "user":
            turns.append(Message("user", _user_content(data.get("content"), f"{path}.content")))
        elif role == "assistant":
            turns.append(_assistant(data, path, final=i == len(items) - 1))
        else:
            roles = "'system', 'developer', 'user', 'assistant' or 'tool'"
            raise InvalidParam(f"{path}.role", f"Input should be {roles}, got {shown(role)}")
    if results:
        turns.append(Message("user", tuple(results)))
    if not turns:
        raise InvalidParam("messages", "at least one user or assistant message is required")
    return tuple(system), tuple(turns)


def _texts(value: Any, path: str, *, refusals: bool = False) -> tuple[TextBlock, ...]:
    """A string, or a list of text parts (assistant `refusal` parts too, when `refusals`)."""
    if isinstance(value, str):
        return (TextBlock(value),) if value else ()
    blocks = []
    for i, raw in enumerate(_list(value, path)):
        part = _part(raw, f"{path}[{i}]")
        if part.get("type") == "text":
            text = _string(part.get("text"), f"{path}[{i}].text")
        elif refusals and part.get("type") == "refusal":
            text = _string(part.get("refusal"), f"{path}[{i}].refusal")
        else:
            raise InvalidParam(f"{path}[{i}].type", f"only text parts are allowed here, got {shown(part.get('type'))}")
        if text:
            blocks.append(TextBlock(text))
    return tuple(blocks)


def _part(raw: Any, path: str) -> dict[str, Any]:
    part = _object(raw, path)
    if part is None:
        raise InvalidParam(path, "Input should be an object, got null")
    return part


def _user_content(value: Any, path: str) -> tuple[Block, ...]:
    if isinstance(value, str):
        blocks: tuple[Block, ...] = (TextBlock(value),) if value else ()
    else:
        blocks = tuple(_user_part(raw, f"{path}[{i}]") for i, raw in enumerate(_list(value, path)))
    if not blocks:
        raise InvalidParam(path, "user messages must have non-empty content")
    return blocks


def _user_part(raw: Any, path: str) -> Block:
    part = _part(raw, path)
    kind = part.get("type")
    if kind == "text":
        text = _string(part.get("text"), f"{path}.text")
        if not text:
            raise InvalidParam(f"{path}.text", "text parts must be non-empty")
        return TextBlock(text)
    if kind == "image_url":
        image = part.get("image_url")
        url = image if isinstance(image, str) else (_object(image, f"{path}.image_url") or {}).get("url")
        return image_block(_string(url, f"{path}.image_url.url", required=True), f"{path}.image_url.url")
    raise InvalidParam(f"{path}.type", f"unsupported content part type {shown(kind)}; expected 'text' or 'image_url'")


def image_block(url: str, path: str) -> ImageBlock:
    """An image part's URL as a canonical image: `data:` URLs inline (base64), http(s) URLs by reference."""
    if url.startswith("data:"):
        head, comma, data = url[5:].partition(",")
        media_type, _, encoding = head.partition(";")
        if not comma or encoding != "base64" or not media_type.startswith("image/") or not data:
            raise InvalidParam(path, "data URLs must look like 'data:image/<type>;base64,<data>'")
        try:
            binascii.a2b_base64(data, strict_mode=True)
        except binascii.Error:
            raise InvalidParam(path, "the data URL's image is not valid base64") from None
        return ImageBlock(media_type=media_type, data=data)
    if url.startswith(("https://", "http://")):
        return ImageBlock(url=url)
    raise InvalidParam(path, f"image URLs must be http(s) or data URLs, got {shown(url)}")


def _assistant(data: Mapping[str, Any], path: str, *, final: bool) -> Message:
    blocks: list[Block] = []
    reasoning = data.get("reasoning_content")
    if reasoning:
        blocks.append(ThinkingBlock(_string(reasoning, f"{path}.reasoning_content")))
    content = data.get("content")
    if content is not None:
        blocks.extend(_texts(content, f"{path}.content", refusals=True))
    refusal = data.get("refusal")
    if refusal:
        blocks.append(TextBlock(_string(refusal, f"{path}.refusal")))
    calls = data.get("tool_calls")
    if calls is not None:
        items = _list(calls, f"{path}.tool_calls")
        blocks.extend(_tool_call(raw, f"{path}.tool_calls[{i}]") for i, raw in enumerate(items))
    if not blocks and not final:
        raise InvalidParam(path, "assistant messages must have content or tool_calls, except for the final one")
    return Message("assistant", tuple(blocks))


def _tool_call(raw: Any, path: str) -> ToolUseBlock:
    call = _part(raw, path)
    if call.get("type", "function") != "function":
        raise InvalidParam(f"{path}.type", f"Input should be 'function', got {shown(call.get('type'))}")
    function = _object(call.get("function"), f"{path}.function")
    if function is None:
        raise InvalidParam(f"{path}.function", "Field required")
    arguments = function.get("arguments")
    text = "" if arguments is None else _string(arguments, f"{path}.function.arguments")
    return ToolUseBlock(
        id=_string(call.get("id"), f"{path}.id", required=True),
        name=_string(function.get("name"), f"{path}.function.name", required=True),
        input=tool_input(text),
    )


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's `arguments` text as the canonical input: the JSON object it holds, else the text
    itself under `RAW_ARGUMENTS`."""
    if not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {RAW_ARGUMENTS: arguments}
    return value if isinstance(value, dict) else {RAW_ARGUMENTS: arguments}


def _tool_result(data: Mapping[str, Any], path: str) -> ToolResultBlock:
    content = data.get("content")
    texts = () if content is None else _texts(content, f"{path}.content")
    return ToolResultBlock(_string(data.get("tool_call_id"), f"{path}.tool_call_id", required=True), texts)


# -- tools ---------------------------------------------------------------------------------


def _tools(value: Any) -> tuple[Tool, ...]:
    if value is None:
        return ()
    return tuple(_tool(raw, f"tools[{i}]") for i, raw in enumerate(_list(value, "tools")))


def _tool(raw: Any, path: str) -> Tool:
    spec = _part(raw, path)
    if spec.get("type") != "function":
        raise InvalidParam(f"{path}.type", f"Input should be 'function', got {shown(spec.get('type'))}")
    function = _object(spec.get("function"), f"{path}.function")
    if function is None:
        raise InvalidParam(f"{path}.function", "Field required")
    description = function.get("description")
    schema = _object(function.get("parameters"), f"{path}.function.parameters")
    return Tool(
        name=_string(function.get("name"), f"{path}.function.name", required=True),
        description=_string(description, f"{path}.function.description") if description is not None else "",
        input_schema=schema if schema is not None else {"type": "object", "properties": {}},
    )


_CHOICES: dict[str, Any] = {"none": "none", "auto": "auto", "required": "any"}


def plain_tool_choice(value: Any, parallel: Any) -> tuple[ToolChoice | None, dict[str, Any], bool]:
    """`tool_choice` when it is absent or a string (both dialects' words), else the object to read
    (`{}` when there is none), and whether `parallel_tool_calls` turned parallel calls off."""
    disable = parallel is not None and not _bool(parallel, "parallel_tool_calls")
    if value is None:
        return (ToolChoice("auto", disable_parallel_tool_use=True) if disable else None), {}, disable
    if isinstance(value, str):
        if value not in _CHOICES:
            raise InvalidParam("tool_choice", f"Input should be 'none', 'auto' or 'required', got {shown(value)}")
        return ToolChoice(_CHOICES[value], disable_parallel_tool_use=disable), {}, disable
    return None, _object(value, "tool_choice") or {}, disable


def _tool_choice(value: Any, parallel: Any) -> ToolChoice | None:
    plain, choice, disable = plain_tool_choice(value, parallel)
    if not isinstance(value, dict):
        return plain
    if choice.get("type") != "function":
        raise InvalidParam("tool_choice.type", f"Input should be 'function', got {shown(choice.get('type'))}")
    function = _object(choice.get("function"), "tool_choice.function") or {}
    name = _string(function.get("name"), "tool_choice.function.name", required=True)
    return ToolChoice("tool", name, disable)
