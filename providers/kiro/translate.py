"""Canonical request -> the JSON body of Kiro's `POST /generateAssistantResponse`, and the way back (re-exported).

Pure functions, no I/O. `build_payload(request, route, options=PayloadOptions(...))` returns
a `Payload`: the body, its encoded bytes (send those), the tool-name map and what the reply
reader needs (`payload.reply_state(route)`). The body follows the SDK's
`GenerateAssistantResponseRequest` and every rule of protocol sheet A4:

- Kiro has no system field: the system prompt opens the first user turn; tool descriptions
  too long for a spec and the client's output schema are appended to it, and shortened tool
  names replace the long ones in it;
- the conversation is repaired in `history.py` (alternation, user first and last, tool
  pairs, placeholders); tools travel only on the current message;
- thinking is requested one of two ways (`thinking_mode`): "tags" puts
  `<thinking_mode>enabled</thinking_mode><max_thinking_length>N</max_thinking_length>` in
  front of the current message and the reply carries `<thinking>` text (C2C/AIC); "native"
  sends `additionalModelRequestFields` and the reply carries `reasoningContentEvent`s
  (oh-my-pi); "off" never asks. The reply reader understands both regardless;
- `conversationId` is stable per Claude Code session (a UUID derived from the session id,
  else from the first user message); `agentContinuationId` is derived from it and the turn
  count, so it differs per turn but a retry of the same request sends the same body;
- the encoded size (without base64 image bytes, which cost Kiro little context) must stay
  under `max_payload_bytes`, else `ContextTooLong` ("prompt is too long", so Claude Code
  compacts). Nothing is ever trimmed silently.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import orjson

from providers.kiro.failures import PROVIDER, error_from_exception, error_from_http, refreshable_403
from providers.kiro.history import CONTINUE, Conversation, Turn, TurnBuilder, history_json, join, user_message
from providers.kiro.models import context_window, kiro_model_id
from providers.kiro.stream import ReplyState
from providers.kiro.tools import DESCRIPTION_LIMIT, NameTable, ToolNames, stub_spec, tool_spec
from router.conversation import Request, ServerTool, Tool
from router.errors import ContextTooLong
from router.toolkit.jsonbody import json_body
from router.route import Route
from router.toolkit.translation import shows_thinking

__all__ = [
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "Payload",
    "PayloadOptions",
    "ReplyState",
    "ThinkingMode",
    "ToolNames",
    "build_payload",
    "conversation_id",
    "error_from_exception",
    "error_from_http",
    "kiro_model_id",
    "refreshable_403",
    "shows_thinking",
]

ThinkingMode: TypeAlias = Literal["tags", "native", "off"]

DEFAULT_MAX_PAYLOAD_BYTES = 1_200_000
"""C2C's default limit (sheet A4 rule 9), not llmhub's 900 KiB: Kiro's own "Input is too
long" is mapped to `ContextTooLong` as well, so this check is only a backstop against the
opaque 400 some models give instead, and a tighter one would refuse requests Kiro serves."""

LARGE_FRACTION = 0.6
"""A payload above this share of the limit is "large": a bare "Improperly formed request"
for it is read as a context overflow (the sheet's Opus 4.6 pitfall)."""

THINKING_BUDGETS = {"none": 1024, "minimal": 1024, "low": 4000, "medium": 8000, "high": 16000}
"""`max_thinking_length` per effort (C2C's table); stronger efforts get `MAX_THINKING`."""
MIN_THINKING, MAX_THINKING, DEFAULT_THINKING = 1024, 24_576, 16_000
"""AIC (newest source) clamps the budget to 1024..24576; 16000 ("high") when nothing says."""

NATIVE_EFFORTS = {"none": "low", "minimal": "low", "low": "low", "medium": "medium", "high": "high"}
"""Anthropic `output_config.effort` per route/client effort; stronger ones map to "max"."""

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/switchyard-router/kiro")


@dataclass(frozen=True, slots=True)
class PayloadOptions:
    """What the provider knows beyond the request.

    `profile_arn` goes into the body when given (the shell passes it for social logins);
    `model_id` overrides the mapped `kiro_model_id(route.model)`; `replay_reasoning=None`
    means "only in native mode"; `conversation_id`/`continuation_id` override the derived ids.
    """

    thinking_mode: ThinkingMode = "tags"
    profile_arn: str | None = None
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    model_id: str | None = None
    conversation_id: str | None = None
    continuation_id: str | None = None
    agent_task_type: str | None = "vibe"
    send_images: bool = True
    replay_reasoning: bool | None = None
    description_limit: int = DESCRIPTION_LIMIT


@dataclass(frozen=True, slots=True)
class Payload:
    """The request body and its encoded bytes, plus what the reply needs and what was left out.

    `size` is the measured size (encoded bytes minus base64 image bytes); `large` says it is
    near the limit; `thinking_tags` says `<thinking>` sections are expected in the text.
    """

    body: dict[str, Any]
    encoded: bytes
    names: ToolNames
    model_id: str
    shows_thinking: bool
    thinking_tags: bool
    size: int
    large: bool
    notes: tuple[str, ...] = field(default=())

    def reply_state(self, route: Route, *, context_window_tokens: int | None = None) -> ReplyState:
        """A `ReplyState` set up for this payload's reply."""
        window = context_window_tokens or context_window(self.model_id)
        return ReplyState(
            route,
            self.names,
            parse_thinking_tags=self.thinking_tags,
            show_thinking=self.shows_thinking,
            context_window=window,
            large_request=self.large,
        )


def build_payload(request: Request, route: Route, *, options: PayloadOptions = PayloadOptions()) -> Payload:
    """The `generateAssistantResponse` body for `request` on `route`; raises `ContextTooLong` when too big."""
    model_id = options.model_id or kiro_model_id(route.model)
    names = NameTable()
    tools, moved, notes = _tools(request, names, options)
    replay = (
        options.replay_reasoning
        if options.replay_reasoning is not None
        else options.thinking_mode == "native"
    )
    builder = TurnBuilder(
        route, names, tools_offered=bool(tools), replay_reasoning=replay, send_images=options.send_images
    )
    conversation = builder.conversation(request.messages)
    tools += [stub_spec(name) for name in sorted(conversation.used_tool_names() - _spec_names(tools))]
    system = _system(request, moved, names)
    mode = options.thinking_mode if shows_thinking(request) else "off"
    tags = thinking_tags(request, route.effort or request.effort) if mode == "tags" else ""
    state = _conversation_state(request, conversation, system, tags, model_id, tools, options)
    body: dict[str, Any] = {"conversationState": state}
    if options.profile_arn:
        body["profileArn"] = options.profile_arn
    if mode == "native":
        body["additionalModelRequestFields"] = native_thinking(request, route)
    encoded = json_body(body)
    size = len(encoded) - _image_bytes((*conversation.history, conversation.current))
    _check_size(size, options.max_payload_bytes, model_id)
    return Payload(
        body=body,
        encoded=encoded,
        names=names.frozen(),
        model_id=model_id,
        shows_thinking=shows_thinking(request),
        thinking_tags=mode == "tags",
        size=size,
        large=size > LARGE_FRACTION * options.max_payload_bytes,
        notes=(*notes, *conversation.notes),
    )


def conversation_id(request: Request) -> str:
    """A UUID stable for one Claude Code session: from its session id, else its first user message."""
    if request.session_id:
        return str(uuid.uuid5(_NAMESPACE, f"session:{request.session_id}"))
    first = next((m for m in request.messages if m.role == "user"), None)
    text = "\n".join(getattr(block, "text", "") or "" for block in first.content) if first else ""
    return str(uuid.uuid5(_NAMESPACE, f"first-message:{text}"))


# -- pieces ------------------------------------------------------------------------------------


def _tools(
    request: Request, names: NameTable, options: PayloadOptions
) -> tuple[list[dict[str, Any]], list[tuple[str, str]], list[str]]:
    """Specs for the client's tools, descriptions moved to the prompt, and notes on what Kiro cannot do."""
    choice = request.tool_choice
    notes = [
        f"dropped server tool '{t.name}' ({t.type}): Kiro has no equivalent"
        for t in request.tools
        if isinstance(t, ServerTool)
    ]
    client = [t for t in request.tools if isinstance(t, Tool)]
    if choice is not None and choice.type == "none":
        return (
            [],
            [],
            notes + (["tool_choice none: tools left out, tool history sent as text"] if client else []),
        )
    if choice is not None and choice.type in ("any", "tool") and client:
        notes.append(f"tool_choice {choice.type} cannot be enforced on Kiro; the model chooses freely")
    specs, moved = [], []
    for tool in client:
        converted = tool_spec(tool, names, limit=options.description_limit)
        specs.append(converted.spec)
        if converted.moved_description is not None:
            moved.append((names.name(tool.name), converted.moved_description))
    return specs, moved, notes


def _spec_names(tools: list[dict[str, Any]]) -> set[str]:
    return {str(tool["toolSpecification"]["name"]) for tool in tools}


def _system(request: Request, moved: list[tuple[str, str]], names: NameTable) -> str:
    """The system prompt as Kiro gets it: extras appended, long names replaced."""
    parts = [block.text for block in request.system if block.text.strip()]
    if moved:
        docs = "\n\n".join(f"## {name}\n\n{description}" for name, description in moved)
        parts.append(
            f"# Tool documentation\n\nFull descriptions of tools whose specs were shortened.\n\n{docs}"
        )
    if request.output_schema is not None:
        schema = orjson.dumps(dict(request.output_schema)).decode()
        parts.append(
            f"Reply with a single JSON object that matches this JSON Schema, and nothing else:\n{schema}"
        )
    system = "\n\n".join(parts)
    for original, short in names.substitutions().items():
        system = system.replace(original, short)
    return system


def _conversation_state(
    request: Request,
    conversation: Conversation,
    system: str,
    tags: str,
    model_id: str,
    tools: list[dict[str, Any]],
    options: PayloadOptions,
) -> dict[str, Any]:
    """`conversationState`: ids, trigger, history, and the current message (tags first) with the tools."""
    history = history_json(conversation.history, model_id, system)
    opening = "" if history else system
    content = join(tags, opening, conversation.current.text or CONTINUE)
    conversation_uuid = options.conversation_id or conversation_id(request)
    state: dict[str, Any] = {
        "chatTriggerType": "MANUAL",
        "conversationId": conversation_uuid,
        "agentContinuationId": options.continuation_id
        or str(uuid.uuid5(_NAMESPACE, f"{conversation_uuid}:{len(request.messages)}")),
        "currentMessage": {"userInputMessage": user_message(conversation.current, content, model_id, tools)},
    }
    if options.agent_task_type:
        state["agentTaskType"] = options.agent_task_type
    if history:
        state["history"] = history
    return state


def thinking_tags(request: Request, effort: str | None) -> str:
    """The in-band request for thinking: mode and budget tags in front of the current message."""
    budget = thinking_budget(request, effort)
    return f"<thinking_mode>enabled</thinking_mode>\n<max_thinking_length>{budget}</max_thinking_length>"


def thinking_budget(request: Request, effort: str | None) -> int:
    """The client's budget if it gave one, else one per effort, clamped to 1024..24576."""
    thinking = request.thinking
    if thinking is not None and thinking.budget_tokens:
        budget = thinking.budget_tokens
    elif effort is not None:
        budget = THINKING_BUDGETS.get(effort, MAX_THINKING)
    else:
        budget = DEFAULT_THINKING
    return max(MIN_THINKING, min(MAX_THINKING, budget))


def native_thinking(request: Request, route: Route) -> dict[str, Any]:
    """`additionalModelRequestFields` asking for reasoning the Anthropic way (oh-my-pi's shape).

    A client budget (`thinking.type == "enabled"`) is passed on as a budget; otherwise
    adaptive thinking with summarized display and the route's or client's effort.
    """
    thinking = request.thinking
    if thinking is not None and thinking.type == "enabled" and thinking.budget_tokens:
        return {"thinking": {"type": "enabled", "budget_tokens": thinking.budget_tokens}}
    effort = route.effort or request.effort or "high"
    return {
        "thinking": {"type": "adaptive", "display": "summarized"},
        "output_config": {"effort": NATIVE_EFFORTS.get(effort, "max")},
    }


def _image_bytes(turns: Iterable[Turn]) -> int:
    return sum(len(str(image["source"]["bytes"])) for turn in turns for image in turn.images)


def _check_size(size: int, limit: int, model_id: str) -> None:
    if size > limit:
        raise ContextTooLong(
            f"prompt is too long: the request is {size:,} bytes, over the {limit:,}-byte limit of Kiro "
            f"requests (model {model_id}); compact the conversation or start a new one",
            provider=PROVIDER,
        )
