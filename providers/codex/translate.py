"""Canonical request -> the JSON body of `POST {base}/responses`, and the way back (re-exported).

Pure functions, no I/O. The Codex backend is picky: `store` must be false, `stream` true,
`instructions` present, sampling and length limits are refused outright, `system` roles are
not allowed in `input`, and earlier items cannot be referenced by id (nothing is stored). So
the whole conversation is replayed every turn as input items, and only the fields Codex
accepts are ever written.

Reasoning round trip: a reasoning item's `encrypted_content` becomes the thinking block's
`Signature.value`, verbatim (no item id: with `store: false` ids cannot be referenced, so they
are never sent back). On a later turn a thinking block signed by this provider and model
becomes a `reasoning` item carrying that value again.

The reply direction lives in `stream.py` (`ReplyState`) and failures in `failures.py`;
both are re-exported here so the provider imports one module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from providers.codex.failures import InvalidEncryptedContent, error_from_event, error_from_http
from providers.codex.items import InputBuilder, input_text, message_item
from providers.codex.stream import ReplyState
from providers.codex.tools import (
    NameTable,
    ToolNames,
    clean_schema,
    function_tool,
    hosted_tool,
    strict_compatible,
    tool_choice,
)
from router.conversation import Request, ServerTool, Thinking, Tool
from router.route import Route
from router.toolkit.translation import Payload, shows_thinking

__all__ = [
    "EFFORT_LADDER",
    "InvalidEncryptedContent",
    "Payload",
    "PayloadOptions",
    "ReplyState",
    "ToolNames",
    "build_payload",
    "choose_effort",
    "error_from_event",
    "error_from_http",
    "shows_thinking",
]

EFFORT_LADDER = ("none", "minimal", "low", "medium", "high", "xhigh", "max", "ultra")
"""Codex reasoning efforts from least to most; a model accepts only some of them."""

SAFE_EFFORTS = ("low", "medium", "high", "xhigh")
"""What every current Codex model accepts, assumed when the model's own list is unknown."""

_BUDGET_EFFORTS = ((4096, "low"), (16384, "medium"), (32768, "high"))
_OUTPUT_SCHEMA_NAME = "output_schema"


@dataclass(frozen=True, slots=True)
class PayloadOptions:
    """What the provider knows beyond the request: the model's efforts, caching, fallbacks.

    `replay_reasoning=False` leaves reasoning items out (the retry after Codex could not
    verify one); `system_as_developer=True` sends the system prompt as a developer message
    under `instructions_fallback` (the retry after "Instructions are not valid");
    `images_in_tool_output=False` moves tool-result images into a user message instead of the
    `function_call_output` array.
    """

    prompt_cache_key: str | None = None
    service_tier: str | None = None
    supported_efforts: tuple[str, ...] | None = None
    default_effort: str = "medium"
    reasoning_summary: str | None = "auto"
    replay_reasoning: bool = True
    system_as_developer: bool = False
    instructions_fallback: str = "You are a helpful assistant."
    images_in_tool_output: bool = True
    verbosity: str | None = None


def build_payload(request: Request, route: Route, *, options: PayloadOptions = PayloadOptions()) -> Payload:
    """The `/responses` body for `request` on `route`, with the name map and notes for the reply."""
    names = NameTable()
    tools, hosted, notes = _tools(request.tools, names)
    instructions, preamble = _instructions(request, options)
    builder = InputBuilder(
        route,
        names,
        replay_reasoning=options.replay_reasoning,
        images_in_tool_output=options.images_in_tool_output,
    )
    items = preamble + builder.items(request.messages)
    body: dict[str, Any] = {
        "model": route.model,
        "instructions": instructions,
        "input": items,
        "tools": tools,
        "tool_choice": tool_choice(request.tool_choice, names, hosted) if tools else "auto",
        "reasoning": _reasoning(request, route, options),
        "store": False,
        "stream": True,
        "include": ["reasoning.encrypted_content"],
    }
    if tools:
        choice = request.tool_choice
        body["parallel_tool_calls"] = not (choice is not None and choice.disable_parallel_tool_use)
    notes += _optional_fields(body, request, options)
    return Payload(body, names.frozen(), shows_thinking(request), notes)


# -- top-level fields ----------------------------------------------------------------------------


def _instructions(request: Request, options: PayloadOptions) -> tuple[str, list[dict[str, Any]]]:
    """Claude's system prompt as `instructions` (never empty), or as a developer message."""
    system = "\n\n".join(block.text for block in request.system if block.text.strip())
    if options.system_as_developer and system:
        return options.instructions_fallback, [message_item("developer", [input_text(system)])]
    return system or options.instructions_fallback, []


def _tools(
    specs: tuple[Tool | ServerTool, ...], names: NameTable
) -> tuple[list[Any], dict[str, str], tuple[str, ...]]:
    """Function tools, hosted tools (keyed by client name for tool_choice), notes on drops."""
    tools: list[Any] = []
    hosted: dict[str, str] = {}
    notes: list[str] = []
    for spec in specs:
        if isinstance(spec, Tool):
            tools.append(function_tool(spec, names))
            continue
        converted, lost = hosted_tool(spec)
        notes += lost
        if converted is not None and converted["type"] not in hosted.values():
            tools.append(converted)
            hosted[spec.name] = converted["type"]
    return tools, hosted, tuple(notes)


def _reasoning(request: Request, route: Route, options: PayloadOptions) -> dict[str, Any]:
    reasoning: dict[str, Any] = {"effort": choose_effort(request, route, options)}
    if options.reasoning_summary and shows_thinking(request):
        reasoning["summary"] = options.reasoning_summary
    return reasoning


def _optional_fields(body: dict[str, Any], request: Request, options: PayloadOptions) -> tuple[str, ...]:
    """prompt_cache_key, service_tier and text; a tier Codex would refuse is dropped with a note."""
    cache_key = options.prompt_cache_key or request.session_id
    if cache_key:
        body["prompt_cache_key"] = cache_key
    text = _text(request, options)
    if text:
        body["text"] = text
    if options.service_tier in ("priority", "fast"):
        body["service_tier"] = "priority"
    elif options.service_tier:
        return (f"service_tier '{options.service_tier}' dropped: Codex only accepts 'priority'",)
    return ()


def _text(request: Request, options: PayloadOptions) -> dict[str, Any]:
    """Verbosity, and the client's output schema as a json_schema format.

    Strict only when the schema already meets strict mode's rules: anything else would be a
    400, while a non-strict schema still steers the answer.
    """
    text: dict[str, Any] = {"verbosity": options.verbosity} if options.verbosity else {}
    if request.output_schema is not None:
        schema = clean_schema(request.output_schema)
        strict = strict_compatible(schema)
        text["format"] = {
            "type": "json_schema",
            "name": _OUTPUT_SCHEMA_NAME,
            "schema": schema,
            "strict": strict,
        }
    return text


# -- reasoning effort ------------------------------------------------------------------------------


def choose_effort(request: Request, route: Route, options: PayloadOptions) -> str:
    """The route's effort, else the client's `output_config.effort`, else one read from `thinking`,
    then clamped to what the model supports (a value outside its list is a 400)."""
    wanted = route.effort or request.effort or _effort_for(request.thinking, options.default_effort)
    return clamp_effort(wanted, options.supported_efforts or SAFE_EFFORTS, options.default_effort)


def _effort_for(thinking: Thinking | None, default: str) -> str:
    """Thinking disabled asks for the least effort; a budget picks a bucket; otherwise the default.

    Buckets follow Claude Code's own budgets ("think" 4k, "think hard" 10k, 31999 when thinking
    is simply on), so the usual 31999 means `high` rather than the costliest level.
    """
    if thinking is not None and thinking.type == "disabled":
        return "none"
    if thinking is None or thinking.budget_tokens is None:
        return default
    for limit, effort in _BUDGET_EFFORTS:
        if thinking.budget_tokens <= limit:
            return effort
    return "xhigh"


def clamp_effort(wanted: str, supported: tuple[str, ...], default: str) -> str:
    """`wanted` if supported, else the strongest supported effort below it, else the weakest.

    An effort Codex does not know (a client's own word) is read as `default`.
    """
    known = sorted((e for e in supported if e in EFFORT_LADDER), key=EFFORT_LADDER.index)
    if not known:
        return wanted if wanted in supported or not supported else supported[0]
    if wanted not in EFFORT_LADDER:
        wanted = default if default in EFFORT_LADDER else "medium"
    rank = EFFORT_LADDER.index(wanted)
    below = [effort for effort in known if EFFORT_LADDER.index(effort) <= rank]
    return below[-1] if below else known[0]
