"""OpenAI Chat Completions JSON -> canonical `Request`. All validation of such a request happens here.

Errors are `InvalidParam`s naming the field the way OpenAI does (`messages[2].content`), so the
error body's `param` points at it. Unknown top-level fields are ignored, as the Anthropic decoder
ignores them; unknown content part types are rejected. The depth guard and type checks are the
Anthropic decoder's (`router.toolkit.jsoncheck`).

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
- The legacy `functions`/`function_call` fields are read as `tools`/`tool_choice` (a request giving
  both `tools` and `functions` is refused). In the history, an assistant `function_call` becomes a
  tool call with the id `call_legacy_<message index>` (`LEGACY_CALL_ID`), and a `function` message
  answers the latest unanswered such call of its `name`. Replies always use the modern `tool_calls`
  shape: every current SDK reads it, and one reply shape keeps the encoder single.
- `file` parts (inline PDFs, `file_data`) become document blocks; `file_id` needs OpenAI's file
  store and is refused, as are `input_audio` parts (no backend takes audio).
- What OpenAI tolerates in a history is tolerated here too, so a stored conversation cannot wedge:
  empty text parts are skipped; an assistant message with neither content nor tool calls (a model
  that returned nothing) is dropped; an empty user message is dropped when a later user turn
  follows, else kept as one empty text, so the reply still answers a user turn. A request of only
  system/developer messages is served with the last (non-empty) one as the user turn, the earlier
  ones as the system prompt, since the canonical model needs a turn to answer.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from router.conversation import (
    Block,
    DocumentBlock,
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
LEGACY_CALL_ID = "call_legacy_{index}"
"""The id given to a legacy assistant `function_call` (which has none), from its message's index."""
SYSTEM_ROLES = ("system", "developer")


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
        tools=_tools(data.get("tools"), data.get("functions")),
        tool_choice=_tool_choice(data.get("tool_choice"), data.get("function_call"), data.get("parallel_tool_calls")),
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
    return effort_thinking(value, "reasoning_effort", EFFORTS)


def effort_thinking(value: Any, param: str, allowed: tuple[str, ...]) -> tuple[str | None, Thinking | None]:
    """A reasoning effort word as the canonical effort and thinking: `none` turns thinking off, any
    other word on (adaptively), no word leaves both to the route."""
    if value is None:
        return None, None
    if value not in allowed:
        words = ", ".join(f"'{effort}'" for effort in allowed)
        raise InvalidParam(param, f"Input should be one of {words}, got {shown(value)}")
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
    turns = _Turns()
    for i, raw in enumerate(items):
        path = f"messages[{i}]"
        data = _object(raw, path)
        if data is None:
            raise InvalidParam(path, "Input should be an object, got null")
        role = data.get("role")
        if role == "tool":
            turns.result(_tool_result(data, path))
        elif role == "function":
            turns.result(turns.legacy_result(data, path))
        elif role in SYSTEM_ROLES:
            turns.system_message(_texts(data.get("content"), f"{path}.content"))
        elif role == "user":
            turns.user(_user_content(data.get("content"), f"{path}.content"))
        elif role == "assistant":
            turns.assistant(_assistant(data, path, i, turns), final=i == len(items) - 1)
        else:
            roles = "'system', 'developer', 'user', 'assistant', 'tool' or 'function'"
            raise InvalidParam(f"{path}.role", f"Input should be {roles}, got {shown(role)}")
    return turns.finish()


class _Turns:
    """The canonical turns as messages are read, with the leniency the module docstring describes."""

    def __init__(self) -> None:
        self.system: list[TextBlock] = []
        self.last_system = 0  # where the last non-empty leading system message starts in `system`
        self.turns: list[Message] = []
        self.results: list[Block] = []  # consecutive tool/function messages, answered in one user turn
        self.empty_users: set[int] = set()  # indexes in `turns` of empty user messages, maybe dropped
        self.legacy: dict[str, list[str]] = {}  # function name -> ids of its unanswered legacy calls

    def _flush(self) -> None:
        if self.results:
            self.turns.append(Message("user", tuple(self.results)))
            self.results = []

    def result(self, block: ToolResultBlock) -> None:
        self.results.append(block)

    def system_message(self, blocks: tuple[TextBlock, ...]) -> None:
        self._flush()
        if self.turns:
            if blocks:
                self.turns.append(Message("system", blocks))
        else:
            self._lead(blocks)

    def _lead(self, blocks: tuple[Block, ...]) -> None:
        """Add a leading system message to the system prompt."""
        if blocks:
            self.last_system = len(self.system)
            self.system.extend(b for b in blocks if isinstance(b, TextBlock))

    def user(self, blocks: tuple[Block, ...]) -> None:
        self._flush()
        if not blocks:
            self.empty_users.add(len(self.turns))
            blocks = (TextBlock(""),)
        self.turns.append(Message("user", blocks))

    def assistant(self, message: Message, *, final: bool) -> None:
        self._flush()
        if message.content or final:
            self.turns.append(message)

    def legacy_call(self, name: str, call_id: str) -> None:
        self.legacy.setdefault(name, []).append(call_id)

    def legacy_result(self, data: Mapping[str, Any], path: str) -> ToolResultBlock:
        """A `function` message: the result of the latest unanswered legacy call of its `name`."""
        name = _string(data.get("name"), f"{path}.name", required=True)
        pending = self.legacy.get(name)
        if not pending:
            raise InvalidParam(f"{path}.name", f"no earlier assistant function_call of {shown(name)} awaits a result")
        content = data.get("content")
        texts = () if content is None else _texts(content, f"{path}.content")
        return ToolResultBlock(pending.pop(), texts)

    def finish(self) -> tuple[tuple[TextBlock, ...], tuple[Message, ...]]:
        self._flush()
        turns = self._without_empty_users()
        while turns and turns[0].role == "system":  # led only by empty user messages, now dropped
            self._lead(turns.pop(0).content)
        if not any(message.content for message in turns):
            if not self.system:
                raise InvalidParam("messages", "at least one message with content is required")
            turns = [Message("user", tuple(self.system[self.last_system :]))]
            del self.system[self.last_system :]
        return tuple(self.system), tuple(turns)

    def _without_empty_users(self) -> list[Message]:
        """Empty user messages but the one that is the last user turn (if it is)."""
        kept: list[Message] = []
        answered = False  # a user turn follows
        for index in reversed(range(len(self.turns))):
            message = self.turns[index]
            if index in self.empty_users and answered:
                continue
            answered = answered or message.role == "user"
            kept.append(message)
        kept.reverse()
        return kept


def _texts(value: Any, path: str, *, refusals: bool = False) -> tuple[TextBlock, ...]:
    """A string, or a list of text parts (assistant `refusal` parts too, when `refusals`)."""
    if isinstance(value, str):
        return (TextBlock(value),) if value else ()
    blocks = []
    for i, raw in enumerate(_list(value, path)):
        part = json_part(raw, f"{path}[{i}]")
        if part.get("type") == "text":
            text = _string(part.get("text"), f"{path}[{i}].text")
        elif refusals and part.get("type") == "refusal":
            text = _string(part.get("refusal"), f"{path}[{i}].refusal")
        else:
            raise InvalidParam(f"{path}[{i}].type", f"only text parts are allowed here, got {shown(part.get('type'))}")
        if text:
            blocks.append(TextBlock(text))
    return tuple(blocks)


def json_part(raw: Any, path: str) -> dict[str, Any]:
    """An item or part that must be a JSON object (null included in the refusal)."""
    part = _object(raw, path)
    if part is None:
        raise InvalidParam(path, "Input should be an object, got null")
    return part


def _user_content(value: Any, path: str) -> tuple[Block, ...]:
    """A user message's blocks; empty text parts are skipped (so the message may come out empty)."""
    if isinstance(value, str):
        return (TextBlock(value),) if value else ()
    parts = (_user_part(raw, f"{path}[{i}]") for i, raw in enumerate(_list(value, path)))
    return tuple(part for part in parts if part is not None)


def _user_part(raw: Any, path: str) -> Block | None:
    part = json_part(raw, path)
    kind = part.get("type")
    if kind == "text":
        text = _string(part.get("text"), f"{path}.text")
        return TextBlock(text) if text else None
    if kind == "image_url":
        image = part.get("image_url")
        url = image if isinstance(image, str) else (_object(image, f"{path}.image_url") or {}).get("url")
        return image_block(_string(url, f"{path}.image_url.url", required=True), f"{path}.image_url.url")
    if kind == "file":
        return _file(_object(part.get("file"), f"{path}.file"), f"{path}.file")
    if kind == "input_audio":
        problem = "'input_audio' parts are not supported: no backend behind this router takes audio"
        raise InvalidParam(f"{path}.type", problem)
    expected = "'text', 'image_url' or 'file'"
    raise InvalidParam(f"{path}.type", f"unsupported content part type {shown(kind)}; expected {expected}")


def _file(file: Mapping[str, Any] | None, path: str) -> DocumentBlock:
    """A `file` part: inline `file_data` (a data URL, or bare base64 that Chat Completions means as a PDF)."""
    if file is None:
        raise InvalidParam(path, "Field required")
    filename = file.get("filename")
    title = (_string(filename, f"{path}.filename") or None) if filename is not None else None
    if file.get("file_data") is None:
        if file.get("file_id") is not None:
            problem = "uploaded files are not supported; send the file inline as 'file_data'"
            raise InvalidParam(f"{path}.file_id", problem)
        raise InvalidParam(f"{path}.file_data", "Field required")
    value = _string(file.get("file_data"), f"{path}.file_data")
    return inline_document(value, f"{path}.file_data", title, bare="application/pdf")


def inline_document(value: str, path: str, title: str | None, *, bare: str | None = None) -> DocumentBlock:
    """A file given inline: a `data:<type>;base64,` URL, or (when `bare` names its type) plain base64."""
    media_type, data = bare, value
    if value.startswith("data:") or bare is None:
        head, comma, data = value.removeprefix("data:").partition(",")
        media_type, _, encoding = head.partition(";")
        if not value.startswith("data:") or not comma or encoding != "base64" or not media_type:
            raise InvalidParam(path, "file data must look like 'data:<media type>;base64,<data>'")
    if not data:
        raise InvalidParam(path, "the file is empty")
    try:
        binascii.a2b_base64(data, strict_mode=True)
    except binascii.Error:
        raise InvalidParam(path, "the file data is not valid base64") from None
    return DocumentBlock(media_type=media_type, data=data, title=title)


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


def _assistant(data: Mapping[str, Any], path: str, index: int, turns: _Turns) -> Message:
    """An assistant message (maybe empty: `_Turns` drops it unless it is the final one)."""
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
    legacy = _object(data.get("function_call"), f"{path}.function_call")
    if legacy is not None:
        call = _function_call(legacy, f"{path}.function_call", LEGACY_CALL_ID.format(index=index))
        turns.legacy_call(call.name, call.id)
        blocks.append(call)
    return Message("assistant", tuple(blocks))


def _tool_call(raw: Any, path: str) -> ToolUseBlock:
    call = json_part(raw, path)
    if call.get("type", "function") != "function":
        raise InvalidParam(f"{path}.type", f"Input should be 'function', got {shown(call.get('type'))}")
    function = _object(call.get("function"), f"{path}.function")
    if function is None:
        raise InvalidParam(f"{path}.function", "Field required")
    return _function_call(function, f"{path}.function", _string(call.get("id"), f"{path}.id", required=True))


def _function_call(function: Mapping[str, Any], path: str, call_id: str) -> ToolUseBlock:
    """A `{name, arguments}` object (a tool call's `function`, or a legacy `function_call`)."""
    arguments = function.get("arguments")
    text = "" if arguments is None else _string(arguments, f"{path}.arguments")
    return ToolUseBlock(call_id, _string(function.get("name"), f"{path}.name", required=True), tool_input(text))


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


def _tools(value: Any, functions: Any) -> tuple[Tool, ...]:
    """`tools`, or the legacy `functions` (each one a tool's `function`)."""
    if functions is not None:
        if value is not None:
            raise InvalidParam("functions", "give either 'tools' or the legacy 'functions', not both")
        items = _list(functions, "functions")
        return tuple(_function(json_part(raw, f"functions[{i}]"), f"functions[{i}]") for i, raw in enumerate(items))
    if value is None:
        return ()
    return tuple(_tool(raw, f"tools[{i}]") for i, raw in enumerate(_list(value, "tools")))


def _tool(raw: Any, path: str) -> Tool:
    spec = json_part(raw, path)
    if spec.get("type") != "function":
        raise InvalidParam(f"{path}.type", f"Input should be 'function', got {shown(spec.get('type'))}")
    function = _object(spec.get("function"), f"{path}.function")
    if function is None:
        raise InvalidParam(f"{path}.function", "Field required")
    return _function(function, f"{path}.function")


def _function(function: Mapping[str, Any], path: str) -> Tool:
    description = function.get("description")
    schema = _object(function.get("parameters"), f"{path}.parameters")
    return Tool(
        name=_string(function.get("name"), f"{path}.name", required=True),
        description=_string(description, f"{path}.description") if description is not None else "",
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


def _tool_choice(value: Any, legacy: Any, parallel: Any) -> ToolChoice | None:
    if legacy is not None:
        if value is not None:
            raise InvalidParam("function_call", "give either 'tool_choice' or the legacy 'function_call', not both")
        return _legacy_choice(legacy, parallel)
    plain, choice, disable = plain_tool_choice(value, parallel)
    if not isinstance(value, dict):
        return plain
    if choice.get("type") != "function":
        raise InvalidParam("tool_choice.type", f"Input should be 'function', got {shown(choice.get('type'))}")
    function = _object(choice.get("function"), "tool_choice.function") or {}
    name = _string(function.get("name"), "tool_choice.function.name", required=True)
    return ToolChoice("tool", name, disable)


def _legacy_choice(value: Any, parallel: Any) -> ToolChoice | None:
    """`function_call`: 'none', 'auto' or `{"name": ...}`, read as the matching `tool_choice`."""
    if isinstance(value, str):
        if value not in ("none", "auto"):
            raise InvalidParam("function_call", f"Input should be 'none', 'auto' or an object, got {shown(value)}")
        return plain_tool_choice(value, parallel)[0]
    choice = _object(value, "function_call") or {}
    name = _string(choice.get("name"), "function_call.name", required=True)
    return ToolChoice("tool", name, plain_tool_choice(None, parallel)[2])
