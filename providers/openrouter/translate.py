"""Canonical request -> the JSON body of `POST {base_url}/chat/completions`, and the way back (re-exported).

Pure functions, no I/O. OpenRouter's chat completions are OpenAI's, plus `reasoning`,
`reasoning_details`, `provider` (routing preferences) and Anthropic-style `cache_control` on
content parts. Sampling (`temperature`, `top_p`, `top_k`), `stop` and `max_tokens` are passed
as the client sent them; OpenRouter drops what an upstream does not support.

Reasoning: the route's effort, else the client's `output_config.effort`, becomes
`{"effort": …}`; else a thinking budget becomes `{"max_tokens": …}` (never both); adaptive
thinking is `{"enabled": true}`; thinking disabled is `{"enabled": false}`, except for models
known to reason always, which refuse that with a 400 (`options.disable_reasoning=False`).

Caching: models that cache only on explicit marks (`anthropic/*`) get Claude's `cache_control`
marks on the matching text parts, at most four (the last four, as Anthropic counts them);
every other model caches automatically and gets none.

The reply direction lives in `stream.py` (`ReplyState`) and failures in `failures.py`; both
are re-exported here so the provider imports one module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from providers.openrouter.failures import ReasoningMandatory, error_from_http, error_from_stream
from providers.openrouter.messages import MessageBuilder, limit_breakpoints
from providers.openrouter.stream import ReplyState, usage_from
from providers.openrouter.tools import NameTable, ToolNames, function_tool, tool_choice
from router.conversation import Request, ServerTool, Tool
from router.route import Route
from router.toolkit.translation import Payload, shows_thinking

__all__ = [
    "MAX_BREAKPOINTS",
    "Payload",
    "PayloadOptions",
    "ReasoningMandatory",
    "ReplyState",
    "ToolNames",
    "build_payload",
    "caches_explicitly",
    "error_from_http",
    "error_from_stream",
    "merge_preferences",
    "reasoning_field",
    "shows_thinking",
    "usage_from",
]

MAX_BREAKPOINTS = 4
"""Anthropic accepts at most four cache breakpoints per request."""

_EFFORTS = {"none": "none", "minimal": "minimal", "low": "low", "medium": "medium", "high": "high",
            "xhigh": "xhigh", "max": "xhigh"}
"""Router and Anthropic effort words -> OpenRouter's (which has no `max`: its top is `xhigh`)."""

_OUTPUT_SCHEMA_NAME = "output"


@dataclass(frozen=True, slots=True)
class PayloadOptions:
    """What the provider adds beyond the request.

    `provider` is the merged provider-routing preferences; `disable_reasoning=False` leaves
    `reasoning` out when the client turned thinking off (for models that always reason).
    """

    provider: Mapping[str, Any] | None = None
    disable_reasoning: bool = True


def build_payload(request: Request, route: Route, *, options: PayloadOptions = PayloadOptions()) -> Payload:
    """The `/chat/completions` body for `request` on `route`."""
    names = NameTable()
    cache = caches_explicitly(route.model)
    builder = MessageBuilder(route, names, cache=cache)
    messages = builder.messages(request.system, request.messages)
    notes: list[str] = []
    dropped = limit_breakpoints(messages, MAX_BREAKPOINTS) if cache else 0
    if dropped:
        notes.append(f"kept the last {MAX_BREAKPOINTS} cache breakpoints, dropped {dropped}")
    body: dict[str, Any] = {
        "model": route.model,
        "messages": messages,
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": request.max_tokens,
    }
    notes += _tools(body, request, names)
    _sampling(body, request)
    _optional(body, "reasoning", reasoning_field(request, route, disable=options.disable_reasoning))
    if request.output_schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": _OUTPUT_SCHEMA_NAME, "schema": dict(request.output_schema)},
        }
    _optional(body, "provider", dict(options.provider) if options.provider else None)
    return Payload(body, names.frozen(), shows_thinking(request), tuple(notes))


def caches_explicitly(model: str) -> bool:
    """Whether the model caches only where `cache_control` marks say (Anthropic's models)."""
    return model.startswith("anthropic/")


def merge_preferences(
    settings: Mapping[str, Any] | None, route: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """Provider-routing preferences: the route's keys over the settings' (one level deep)."""
    merged = {**(settings or {}), **(route or {})}
    return merged or None


def reasoning_field(request: Request, route: Route, *, disable: bool = True) -> dict[str, Any] | None:
    """OpenRouter's `reasoning` object for this request, or None to leave the model's default."""
    thinking = request.thinking
    effort = route.effort or (None if thinking is not None and thinking.type == "disabled" else request.effort)
    if effort is not None:
        word = _EFFORTS.get(effort, "medium")
        return {"effort": word} if disable or word != "none" else None
    if thinking is None:
        return None
    if thinking.type == "disabled":
        return {"enabled": False} if disable else None
    if thinking.type == "enabled" and thinking.budget_tokens is not None:
        return {"max_tokens": thinking.budget_tokens}
    return {"enabled": True}


# -- pieces -----------------------------------------------------------------------------------------


def _tools(body: dict[str, Any], request: Request, names: NameTable) -> list[str]:
    """Function tools, tool_choice and parallel_tool_calls; server tools have no equivalent here."""
    tools = [function_tool(spec, names) for spec in request.tools if isinstance(spec, Tool)]
    notes = [
        f"dropped server tool '{spec.name}' ({spec.type}): chat completions have no equivalent"
        for spec in request.tools
        if isinstance(spec, ServerTool)
    ]
    if not tools:
        return notes
    body["tools"] = tools
    choice = request.tool_choice
    if choice is not None:
        named = choice.type != "tool" or any(spec.name == choice.name for spec in request.tools
                                             if isinstance(spec, Tool))
        body["tool_choice"] = tool_choice(choice, names) if named else "auto"
        if choice.disable_parallel_tool_use:
            body["parallel_tool_calls"] = False
    return notes


def _sampling(body: dict[str, Any], request: Request) -> None:
    _optional(body, "temperature", request.temperature)
    _optional(body, "top_p", request.top_p)
    _optional(body, "top_k", request.top_k)
    _optional(body, "stop", list(request.stop_sequences) or None)


def _optional(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value
