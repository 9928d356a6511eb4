"""OpenAI Responses JSON (`POST /v1/responses`) -> canonical `Request`. All validation of such a request happens here.

Errors are the Chat Completions dialect's `InvalidParam`s, with OpenAI-style paths (`input[3].output`).
Unknown top-level fields are ignored, as both other decoders ignore them; unknown input items and
content parts are rejected. The depth guard and type checks are the other dialects'
(`router.toolkit.jsoncheck`). Input item `id`s are ignored: nothing is stored to refer to.

Choices this dialect makes, since the Responses API and the canonical model do not line up exactly:

- `instructions` and leading `system`/`developer` messages become the system prompt; later ones
  stay in place as system turns. Adjacent items of one role merge into one turn, so a turn's
  reasoning, text and calls (`reasoning`, `message`, `function_call` items) form one assistant
  message, and parallel calls' outputs answer them together in one user turn.
- `reasoning` items become thinking blocks: their raw `content` text if given, else the summary
  parts joined by a blank line; `encrypted_content` is decoded as a signature
  (`decode_signature`), so reasoning the router produced goes back to the provider and model that
  signed it, and anything else counts as unknown origin. One with neither text nor signature is dropped.
- Custom (freeform) tools such as Codex CLI's `apply_patch` become canonical tools taking one string,
  `{"input": ...}` (`CUSTOM_INPUT`); their format (a grammar, say) goes into that field's description.
  `custom_tool_call` items map to such calls and back, and `custom_tools` remembers the names, so the
  reply streams calls of them as `custom_tool_call`s again.
- A `namespace` tool's function and custom tools become canonical tools named
  `<namespace>__<name>` (`NAMESPACE_SEPARATOR`); calls naming a `namespace` map to them, and
  `namespaced` lets the reply name them as Responses does (own name plus `namespace`).
- Hosted tools: `web_search` (and its preview aliases) becomes the canonical web search server tool.
  Every other type (`file_search`, `computer_use_preview`, `local_shell`, `shell`, `mcp`,
  `image_generation`, `code_interpreter`, Codex CLI's `tool_search`, ...) is a tool the router cannot
  run: it is dropped from the tool list (and named in `dropped_tools`), since the model can do its
  work without it, but a `tool_choice` that forces one is refused, as the request cannot be served
  as asked. `allowed_tools` keeps only the tools it lists.
- Input items the router cannot map are refused by type, except those that carry nothing the model
  needs: `web_search_call` records (the search's findings are in the text that follows) and
  `mcp_list_tools` listings are dropped (`_DROPPED_ITEMS`).
- The router keeps no state: `previous_response_id`, `conversation`, `prompt` (a stored prompt),
  `background` and `item_reference` items all need stored responses and are refused. `store` is
  accepted and has no effect; nothing is kept.
- A call's `arguments` that are not a JSON object are kept as `{RAW_ARGUMENTS: text}`, as in Chat
  Completions; `reasoning.effort` acts like Chat Completions' `reasoning_effort` (`none` turns
  thinking off, anything else on, adaptively); without `max_output_tokens` the request asks for
  `DEFAULT_MAX_TOKENS`; `prompt_cache_key` serves as the session id when the caller has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from router.conversation import (
    Block,
    DocumentBlock,
    Message,
    Request,
    ResultContent,
    Role,
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
from router.openai.chat_decode import (
    DEFAULT_MAX_TOKENS,
    EFFORTS,
    SYSTEM_ROLES,
    InvalidParam,
    _param_of,
    effort_thinking,
    image_block,
    inline_document,
    json_part,
    plain_tool_choice,
    tool_input,
)
from router.openai.sealed import open_reasoning
from router.toolkit.jsoncheck import Checks, load_object, shown

CUSTOM_INPUT = "input"
"""The one field of a custom tool's canonical input: the freeform text the model wrote."""
ENCRYPTED_REASONING = "reasoning.encrypted_content"
"""The `include` entry that asks for reasoning items' `encrypted_content`."""
WEB_SEARCH = ServerTool("web_search_20250305", "web_search")
"""The canonical web search server tool (the Anthropic type every provider recognises)."""
REASONING_EFFORTS = (*EFFORTS, "max")
"""The `reasoning.effort` values accepted: Chat Completions' and `max`; all but `none` pass through."""
_SUMMARIES = ("auto", "concise", "detailed")
_DROPPED_ITEMS = frozenset({"web_search_call", "mcp_list_tools"})
_STATEFUL = ("previous_response_id", "conversation", "prompt")
_CALL_ID = "call_id"
NAMESPACE_SEPARATOR = "__"
"""Joins a namespace and a tool in it into one canonical tool name (`multi_agent_v1__spawn_agent`)."""


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    """A decoded request and what only the Responses reply needs.

    `encrypted_reasoning`: reasoning items carry `encrypted_content` (asked for in `include`);
    `reasoning_summary`: reasoning text is shown as summary parts (`reasoning.summary` set);
    `custom_tools`: names of custom tools, whose calls go back as `custom_tool_call`s;
    `namespaced`: canonical names of tools declared in a `namespace`, each with its namespace and
    its own name, which its calls go back with;
    `echo`: the Response object's fields that repeat the request (`tools`, `tool_choice`, ...).
    """

    request: Request
    custom_tools: frozenset[str] = frozenset()
    namespaced: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    encrypted_reasoning: bool = False
    reasoning_summary: bool = False
    include: tuple[str, ...] = ()
    store: bool = True
    dropped_tools: tuple[str, ...] = ()
    echo: Mapping[str, Any] = field(default_factory=dict)


def decode_responses(body: bytes, *, session_id: str | None = None) -> ResponsesRequest:
    """Parse and validate a Responses request body."""
    data = load_object(body, InvalidParam, _param_of)
    return parse_responses(data, session_id=session_id)


def parse_responses(data: Mapping[str, Any], *, session_id: str | None = None) -> ResponsesRequest:
    """Build a `ResponsesRequest` from an already-parsed Responses object."""
    _stateless(data)
    model = _string(data.get("model"), "model", required=True)
    instructions = data.get("instructions")
    text = _string(instructions, "instructions") if instructions is not None else ""
    system = [TextBlock(text)] if text else []
    extra_system, messages = _input(data.get("input"))
    tools, custom, namespaced, dropped = _tools(data.get("tools"))
    names = _ToolNames(frozenset(tool.name for tool in tools), namespaced)
    effort, thinking, summary = _reasoning(data.get("reasoning"))
    include = _strings(data.get("include"), "include")
    user = data.get("user")
    cache_key = data.get("prompt_cache_key")
    cache_key = _string(cache_key, "prompt_cache_key") if cache_key is not None else None
    temperature = _number(data.get("temperature"), "temperature", 0.0, 2.0)
    top_p = _number(data.get("top_p"), "top_p", 0.0, 1.0)
    max_tokens = DEFAULT_MAX_TOKENS
    if data.get("max_output_tokens") is not None:
        max_tokens = _int(data["max_output_tokens"], "max_output_tokens", 1)
    store = data.get("store")
    request = Request(
        model=model,
        messages=messages,
        max_tokens=max_tokens,
        system=(*system, *extra_system),
        tools=_restrict(tools, data.get("tool_choice"), names),
        tool_choice=_tool_choice(data.get("tool_choice"), data.get("parallel_tool_calls"), dropped, names),
        temperature=temperature,
        top_p=top_p,
        thinking=thinking,
        effort=effort,
        output_schema=_text_format(data.get("text")),
        metadata={"user_id": _string(user, "user")} if user is not None else {},
        stream=_bool(data.get("stream"), "stream"),
        session_id=session_id or cache_key or None,
    )
    return ResponsesRequest(
        request=request,
        custom_tools=custom,
        namespaced=namespaced,
        encrypted_reasoning=ENCRYPTED_REASONING in include,
        reasoning_summary=summary,
        include=include,
        store=True if store is None else _bool(store, "store"),
        dropped_tools=dropped,
        echo=_echo(data, instructions, temperature, top_p, max_tokens),
    )


def _stateless(data: Mapping[str, Any]) -> None:
    """Refuse what needs responses the router would have stored: it stores none."""
    for key in _STATEFUL:
        if data.get(key) is not None:
            raise InvalidParam(
                key, "this router keeps no stored responses or conversations; send the whole conversation in 'input'"
            )
    if _bool(data.get("background"), "background"):
        raise InvalidParam("background", "background responses are not supported: this router stores no responses")


def _echo(
    data: Mapping[str, Any], instructions: Any, temperature: float | None, top_p: float | None, max_tokens: int
) -> dict[str, Any]:
    """The Response object's fields that repeat the request, as OpenAI repeats them."""
    reasoning = data.get("reasoning") or {}
    text = data.get("text") or {}
    metadata = data.get("metadata")
    echo: dict[str, Any] = {
        "instructions": instructions,
        "tools": data.get("tools") or [],
        "tool_choice": data.get("tool_choice") if data.get("tool_choice") is not None else "auto",
        "parallel_tool_calls": data.get("parallel_tool_calls") is not False,
        "temperature": temperature,
        "top_p": top_p,
        "max_output_tokens": data.get("max_output_tokens") if data.get("max_output_tokens") is not None else max_tokens,
        "previous_response_id": None,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "text": {"format": text.get("format") or {"type": "text"}, **({"verbosity": text["verbosity"]}
                                                                       if text.get("verbosity") else {})},
        "truncation": data.get("truncation") or "disabled",
        "metadata": _object(metadata, "metadata") or {},
    }
    for key in ("user", "prompt_cache_key"):
        if isinstance(data.get(key), str):
            echo[key] = data[key]
    return echo


# -- scalars -------------------------------------------------------------------------------


_CHECKS = Checks(InvalidParam)
_string, _int, _number = _CHECKS.text, _CHECKS.integer, _CHECKS.number
_bool, _object, _list = _CHECKS.flag, _CHECKS.mapping, _CHECKS.items


def _strings(value: Any, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(_string(item, f"{path}[{i}]") for i, item in enumerate(_list(value, path)))


def _reasoning(value: Any) -> tuple[str | None, Thinking | None, bool]:
    """The canonical effort and thinking, and whether reasoning is shown as summaries."""
    config = _object(value, "reasoning")
    if config is None:
        return None, None, False
    summary = config.get("summary", config.get("generate_summary"))
    if summary is not None and summary not in (*_SUMMARIES, "none"):
        kinds = "'auto', 'concise', 'detailed' or 'none'"
        raise InvalidParam("reasoning.summary", f"Input should be {kinds}, got {shown(summary)}")
    summaries = summary in _SUMMARIES
    effort, thinking = effort_thinking(config.get("effort"), "reasoning.effort", REASONING_EFFORTS)
    return effort, thinking, summaries


def _text_format(value: Any) -> Mapping[str, Any] | None:
    text = _object(value, "text") or {}
    fmt = _object(text.get("format"), "text.format")
    if fmt is None or fmt.get("type") in ("text", "json_object"):
        return None  # json_object has no schema to enforce; the prompt asks for JSON already
    if fmt.get("type") != "json_schema":
        kinds = "'text', 'json_object' or 'json_schema'"
        raise InvalidParam("text.format.type", f"Input should be {kinds}, got {shown(fmt.get('type'))}")
    schema = _object(fmt.get("schema"), "text.format.schema")
    if schema is None:
        raise InvalidParam("text.format.schema", "Field required")
    return schema


# -- input items ---------------------------------------------------------------------------


class _Turns:
    """Turns as items add blocks: adjacent blocks of one role share a turn; leading system text
    is the system prompt."""

    def __init__(self) -> None:
        self.system: list[TextBlock] = []
        self.turns: list[tuple[Role, list[Block]]] = []

    def add(self, role: Role, blocks: tuple[Block, ...]) -> None:
        if not blocks:
            return
        if role == "system" and not self.turns:
            self.system.extend(b for b in blocks if isinstance(b, TextBlock))
        elif self.turns and self.turns[-1][0] == role:
            self.turns[-1][1].extend(blocks)
        else:
            self.turns.append((role, list(blocks)))

    def messages(self) -> tuple[Message, ...]:
        return tuple(Message(role, tuple(blocks)) for role, blocks in self.turns)


def _input(value: Any) -> tuple[tuple[TextBlock, ...], tuple[Message, ...]]:
    """The system text from leading system/developer messages, and the turns after it."""
    if value is None:
        raise InvalidParam("input", "Field required")
    if isinstance(value, str):
        if not value:
            raise InvalidParam("input", "String should not be empty")
        return (), (Message("user", (TextBlock(value),)),)
    items = _list(value, "input")
    if not items:
        raise InvalidParam("input", "at least one input item is required")
    turns = _Turns()
    for i, raw in enumerate(items):
        path = f"input[{i}]"
        item = json_part(raw, path)
        kind = item.get("type", "message" if "role" in item else None)
        match kind:
            case "message":
                role, blocks = _message(item, path)
                turns.add(role, blocks)
            case "function_call":
                turns.add("assistant", (_function_call(item, path),))
            case "custom_tool_call":
                turns.add("assistant", (_custom_call(item, path),))
            case "function_call_output" | "custom_tool_call_output":
                turns.add("user", (_call_output(item, path),))
            case "reasoning":
                thinking = _reasoning_item(item, path)
                turns.add("assistant", (thinking,) if thinking is not None else ())
            case "item_reference":
                raise InvalidParam(f"{path}.type", "item references need stored items, and this router stores none")
            case str() if kind in _DROPPED_ITEMS:
                continue
            case None:
                raise InvalidParam(f"{path}.type", "Field required")
            case _:
                raise InvalidParam(f"{path}.type", f"input items of type {shown(kind)} are not supported")
    if not turns.turns:
        raise InvalidParam("input", "at least one user or assistant item is required")
    return tuple(turns.system), turns.messages()


def _message(item: Mapping[str, Any], path: str) -> tuple[Role, tuple[Block, ...]]:
    role = item.get("role")
    content = item.get("content")
    cpath = f"{path}.content"
    if role in SYSTEM_ROLES:
        return "system", _texts(content, cpath, ("input_text",))
    if role == "assistant":
        return "assistant", _texts(content, cpath, ("output_text", "input_text", "refusal"))
    if role == "user":
        if isinstance(content, str):
            return "user", (TextBlock(content),) if content else ()
        parts = (_user_part(raw, f"{cpath}[{j}]") for j, raw in enumerate(_list(content, cpath)))
        return "user", tuple(part for part in parts if part is not None)
    roles = "'user', 'assistant', 'system' or 'developer'"
    raise InvalidParam(f"{path}.role", f"Input should be {roles}, got {shown(role)}")


def _texts(value: Any, path: str, kinds: tuple[str, ...]) -> tuple[TextBlock, ...]:
    """A string, or a list of text parts of the given kinds (empty ones skipped)."""
    if isinstance(value, str):
        return (TextBlock(value),) if value else ()
    blocks = []
    for i, raw in enumerate(_list(value, path)):
        part = json_part(raw, f"{path}[{i}]")
        kind = part.get("type")
        if kind not in kinds:
            allowed = " or ".join(f"'{k}'" for k in kinds)
            raise InvalidParam(f"{path}[{i}].type", f"Input should be {allowed}, got {shown(kind)}")
        key = "refusal" if kind == "refusal" else "text"
        if text := _string(part.get(key), f"{path}[{i}].{key}"):
            blocks.append(TextBlock(text))
    return tuple(blocks)


def _user_part(raw: Any, path: str) -> ResultContent | None:
    """A user content part (also a call output's): text, image or file; empty text is None."""
    part = json_part(raw, path)
    kind = part.get("type")
    if kind in ("input_text", "output_text"):
        text = _string(part.get("text"), f"{path}.text")
        return TextBlock(text) if text else None
    if kind == "input_image":
        if part.get("image_url") is None and part.get("file_id") is not None:
            problem = "uploaded files are not supported; send the image as a data or http(s) URL"
            raise InvalidParam(f"{path}.file_id", problem)
        url = _string(part.get("image_url"), f"{path}.image_url", required=True)
        return image_block(url, f"{path}.image_url")
    if kind == "input_file":
        return _file(part, path)
    kinds = "'input_text', 'input_image' or 'input_file'"
    raise InvalidParam(f"{path}.type", f"unsupported content part type {shown(kind)}; expected {kinds}")


def _file(part: Mapping[str, Any], path: str) -> DocumentBlock:
    filename = part.get("filename")
    title = filename if isinstance(filename, str) and filename else None
    if part.get("file_data") is not None:
        return inline_document(_string(part.get("file_data"), f"{path}.file_data"), f"{path}.file_data", title)
    if part.get("file_url") is not None:
        url = _string(part.get("file_url"), f"{path}.file_url", required=True)
        if not url.startswith(("https://", "http://")):
            raise InvalidParam(f"{path}.file_url", f"file URLs must be http(s), got {shown(url)}")
        return DocumentBlock(url=url, title=title)
    raise InvalidParam(path, "input files need 'file_data' or 'file_url' (uploaded files are not supported)")


def _function_call(item: Mapping[str, Any], path: str) -> ToolUseBlock:
    arguments = item.get("arguments")
    text = "" if arguments is None else _string(arguments, f"{path}.arguments")
    return ToolUseBlock(
        id=_string(item.get(_CALL_ID), f"{path}.call_id", required=True),
        name=_call_name(item, path),
        input=tool_input(text),
    )


def _custom_call(item: Mapping[str, Any], path: str) -> ToolUseBlock:
    text = item.get("input")
    return ToolUseBlock(
        id=_string(item.get(_CALL_ID), f"{path}.call_id", required=True),
        name=_call_name(item, path),
        input={CUSTOM_INPUT: "" if text is None else _string(text, f"{path}.input")},
    )


def _call_name(item: Mapping[str, Any], path: str) -> str:
    """The canonical name of a called tool: its own, joined to its namespace when it has one."""
    name = _string(item.get("name"), f"{path}.name", required=True)
    namespace = item.get("namespace")
    if namespace is None or namespace == "":
        return name
    return _string(namespace, f"{path}.namespace") + NAMESPACE_SEPARATOR + name


def _call_output(item: Mapping[str, Any], path: str) -> ToolResultBlock:
    call_id = _string(item.get(_CALL_ID), f"{path}.call_id", required=True)
    output = item.get("output")
    opath = f"{path}.output"
    content: tuple[ResultContent, ...]
    if output is None:
        raise InvalidParam(opath, "Field required")
    if isinstance(output, str):
        content = (TextBlock(output),) if output else ()
    else:
        parts = (_user_part(raw, f"{opath}[{j}]") for j, raw in enumerate(_list(output, opath)))
        content = tuple(part for part in parts if part is not None)
    return ToolResultBlock(call_id, content)


def _reasoning_item(item: Mapping[str, Any], path: str) -> ThinkingBlock | None:
    raw_content = item.get("content")
    content = () if raw_content is None else _texts(raw_content, f"{path}.content", ("reasoning_text",))
    summary = item.get("summary")
    parts = () if summary is None else _texts(summary, f"{path}.summary", ("summary_text",))
    text = "\n\n".join(block.text for block in (content or parts))
    encrypted = item.get("encrypted_content")
    signature = None
    if encrypted:
        sealed, signature = open_reasoning(_string(encrypted, f"{path}.encrypted_content"))
        text = sealed if sealed is not None else text  # the exact text the signature signs
    if signature is None:
        return ThinkingBlock(text) if text else None
    return ThinkingBlock(text, signature, redacted=not text)


# -- tools ---------------------------------------------------------------------------------


_Tools = tuple[tuple[ToolSpec, ...], frozenset[str], dict[str, tuple[str, str]], tuple[str, ...]]


def _tools(value: Any) -> _Tools:
    """The canonical tools, the names of the custom ones, the namespaced ones, and the hosted types dropped."""
    if value is None:
        return (), frozenset(), {}, ()
    tools: list[ToolSpec] = []
    custom: set[str] = set()
    namespaced: dict[str, tuple[str, str]] = {}
    dropped: list[str] = []
    for i, raw in enumerate(_list(value, "tools")):
        path = f"tools[{i}]"
        spec = json_part(raw, path)
        kind = _string(spec.get("type"), f"{path}.type", required=True)
        if kind in ("function", "custom"):
            tools.append(_client_tool(spec, kind, path, custom))
        elif kind == "namespace":
            namespace = _string(spec.get("name"), f"{path}.name", required=True)
            for j, inner in enumerate(_list(spec.get("tools"), f"{path}.tools")):
                ipath = f"{path}.tools[{j}]"
                ispec = json_part(inner, ipath)
                ikind = ispec.get("type")
                if ikind not in ("function", "custom"):
                    raise InvalidParam(f"{ipath}.type", f"Input should be 'function' or 'custom', got {shown(ikind)}")
                tool = _client_tool(ispec, ikind, ipath, custom, namespace)
                namespaced[tool.name] = (namespace, tool.name[len(namespace) + len(NAMESPACE_SEPARATOR):])
                tools.append(tool)
        elif kind.startswith("web_search"):
            tools.append(_web_search(spec, path))
        else:
            dropped.append(kind)
    return tuple(tools), frozenset(custom), namespaced, tuple(dropped)


def _client_tool(spec: Mapping[str, Any], kind: str, path: str, custom: set[str], namespace: str = "") -> Tool:
    """A function or custom tool (named into its namespace, if any); custom names go into `custom`."""
    tool = _function_tool(spec, path) if kind == "function" else _custom_tool(spec, path)
    if namespace:
        tool = Tool(namespace + NAMESPACE_SEPARATOR + tool.name, tool.description, tool.input_schema)
    if kind == "custom":
        custom.add(tool.name)
    return tool


def _description(spec: Mapping[str, Any], path: str) -> str:
    description = spec.get("description")
    return _string(description, f"{path}.description") if description is not None else ""


def _function_tool(spec: Mapping[str, Any], path: str) -> Tool:
    schema = _object(spec.get("parameters"), f"{path}.parameters")
    return Tool(
        name=_string(spec.get("name"), f"{path}.name", required=True),
        description=_description(spec, path),
        input_schema=schema if schema is not None else {"type": "object", "properties": {}},
    )


def _custom_tool(spec: Mapping[str, Any], path: str) -> Tool:
    fmt = _object(spec.get("format"), f"{path}.format") or {"type": "text"}
    if fmt.get("type") == "grammar":
        syntax = _string(fmt.get("syntax"), f"{path}.format.syntax", required=True)
        definition = _string(fmt.get("definition"), f"{path}.format.definition", required=True)
        about = f"The input, which must match this {syntax} grammar:\n{definition}"
    elif fmt.get("type") == "text":
        about = "The input, as free-form text."
    else:
        raise InvalidParam(f"{path}.format.type", f"Input should be 'text' or 'grammar', got {shown(fmt.get('type'))}")
    schema = {
        "type": "object",
        "properties": {CUSTOM_INPUT: {"type": "string", "description": about}},
        "required": [CUSTOM_INPUT],
    }
    return Tool(_string(spec.get("name"), f"{path}.name", required=True), _description(spec, path), schema)


def _web_search(spec: Mapping[str, Any], path: str) -> ServerTool:
    """OpenAI's hosted web search as the canonical (Anthropic-named) one, with its settings in Anthropic's terms."""
    config: dict[str, Any] = {}
    filters = _object(spec.get("filters"), f"{path}.filters") or {}
    if filters.get("allowed_domains"):
        config["allowed_domains"] = list(_strings(filters["allowed_domains"], f"{path}.filters.allowed_domains"))
    location = _object(spec.get("user_location"), f"{path}.user_location")
    if location:
        config["user_location"] = dict(location)
    return ServerTool(WEB_SEARCH.type, WEB_SEARCH.name, config)


@dataclass(frozen=True, slots=True)
class _ToolNames:
    """The declared tools' canonical names, for the entries of a `tool_choice` that name one."""

    declared: frozenset[str]
    namespaced: Mapping[str, tuple[str, str]]

    def canonical(self, entry: Mapping[str, Any], path: str) -> str:
        """The tool an entry names: by its `namespace` if it gives one, else a declared tool of that
        name, else the one tool of that name inside a namespace (`spawn_agent` is
        `multi_agent_v1__spawn_agent`) when exactly one namespace has it."""
        name = _call_name(entry, path)
        if entry.get("namespace") or name in self.declared:
            return name
        inside = [canonical for canonical, (_, own) in self.namespaced.items() if own == name]
        return inside[0] if len(inside) == 1 else name


def _tool_choice(value: Any, parallel: Any, dropped: tuple[str, ...], names: _ToolNames) -> ToolChoice | None:
    plain, choice, disable = plain_tool_choice(value, parallel)
    if not isinstance(value, dict):
        return plain
    kind = _string(choice.get("type"), "tool_choice.type", required=True)
    if kind in ("function", "custom"):
        return ToolChoice("tool", names.canonical(choice, "tool_choice"), disable)
    if kind.startswith("web_search"):
        return ToolChoice("tool", WEB_SEARCH.name, disable)
    if kind == "allowed_tools":
        return _allowed_tools(choice, disable, names)
    known = f" (dropped from tools: {', '.join(sorted(set(dropped)))})" if kind in dropped else ""
    problem = f"cannot force the hosted tool {shown(kind)}: this router does not run it{known}"
    raise InvalidParam("tool_choice.type", problem)


def _allowed_tools(choice: Mapping[str, Any], disable: bool, names: _ToolNames) -> ToolChoice:
    """`allowed_tools`: the model may call only the listed tools (`_restrict` keeps those), and must
    call one when `mode` is `required`; a single required tool is that tool forced."""
    mode = choice.get("mode", "auto")
    if mode not in ("auto", "required"):
        raise InvalidParam("tool_choice.mode", f"Input should be 'auto' or 'required', got {shown(mode)}")
    allowed = _allowed_names(choice, names)
    if len(allowed) == 1 and mode == "required":
        return ToolChoice("tool", next(iter(allowed)), disable)
    return ToolChoice("any" if mode == "required" else "auto", disable_parallel_tool_use=disable)


def _allowed_names(choice: Mapping[str, Any], names: _ToolNames) -> frozenset[str]:
    allowed = set()
    for i, raw in enumerate(_list(choice.get("tools"), "tool_choice.tools")):
        path = f"tool_choice.tools[{i}]"
        entry = json_part(raw, path)
        kind = _string(entry.get("type"), f"{path}.type", required=True)
        if kind.startswith("web_search"):
            allowed.add(WEB_SEARCH.name)
        elif kind in ("function", "custom"):
            allowed.add(names.canonical(entry, path))
    return frozenset(allowed)


def _restrict(tools: tuple[ToolSpec, ...], value: Any, names: _ToolNames) -> tuple[ToolSpec, ...]:
    """The tools an `allowed_tools` choice leaves the model (all of them for any other choice).

    A choice that leaves none of the declared tools is refused: the model would have nothing to call.
    """
    if not isinstance(value, dict) or value.get("type") != "allowed_tools":
        return tools
    allowed = _allowed_names(value, names)
    kept = tuple(tool for tool in tools if tool.name in allowed)
    if tools and not kept:
        raise InvalidParam("tool_choice.tools", "none of the allowed tools is among the tools this router can offer")
    return kept
