"""A fake Kiro backend that speaks the AWS binary event stream and enforces Kiro's documented rules.

It answers `POST /generateAssistantResponse` with event-stream frames (encoded by hand in
frames.py), `GET /ListAvailableModels`, `GET /getUsageLimits`, and Kiro's social token
refresh (`POST /refreshToken`), so one app stands in for both hosts. A request that breaks a
rule of protocol sheet A4 gets the answer the sheet says Kiro gives, a 400
`{"message":"Improperly formed request.","reason":null}` (too large: "Input is too long.",
`CONTENT_LENGTH_EXCEEDS_THRESHOLD`; unknown model: `INVALID_MODEL_ID`), so a translation
bug fails a test the way it would fail in front of a user. `rejections` says which rule.

Its "model" is `brain`: from the request's `conversationState` to reply pieces. The default
brain asks for a Bash call when the user says "run", quotes a tool result once one comes
back, and opens with a `<thinking>` section whenever thinking tags were sent.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.providers.kiro.frames import event, exception, text, tool

PROFILE_ARN = "arn:aws:codewhisperer:us-east-1:699475941385:profile/FAKEPROFILE"
IMPROPER: dict[str, Any] = {"message": "Improperly formed request.", "reason": None}
TOO_LONG: dict[str, Any] = {"message": "Input is too long.", "reason": "CONTENT_LENGTH_EXCEEDS_THRESHOLD"}
BAD_MODEL: dict[str, Any] = {
    "message": "Invalid model. Please select a different model to continue.",
    "reason": "INVALID_MODEL_ID",
}
BAD_TOKEN: dict[str, Any] = {
    "message": "The bearer token included in the request is invalid.",
    "reason": None,
}
THINKING_TAGS = "<thinking_mode>enabled</thinking_mode>"
TOP_LEVEL = {"conversationState", "profileArn", "additionalModelRequestFields", "agentMode"}
STATE_FIELDS = {
    "chatTriggerType",
    "conversationId",
    "agentContinuationId",
    "agentTaskType",
    "currentMessage",
    "history",
}
NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
RUN = re.compile(r"\brun\b", re.IGNORECASE)
IMAGE_FORMATS = {"png", "jpeg", "gif", "webp"}

Piece: TypeAlias = tuple[str, Any]
"""`("text", str)` or `("tool", (tool_use_id, name, input))`."""
Brain = Callable[[dict[str, Any]], list[Piece]]


def model_entry(model_id: str, name: str, window: int = 200_000) -> dict[str, Any]:
    return {
        "modelId": model_id,
        "modelName": name,
        "description": name,
        "tokenLimits": {"maxInputTokens": window, "maxOutputTokens": 64_000},
        "supportedInputTypes": ["TEXT", "IMAGE"],
        "rateMultiplier": 1.3,
        "rateUnit": "Credit",
    }


def default_brain(state: dict[str, Any]) -> list[Piece]:
    """Quote a tool result; call Bash when asked to run something; else say hello."""
    current = state["currentMessage"]["userInputMessage"]
    content: str = current["content"]
    opening: list[Piece] = []
    reply: list[Piece]
    results = current.get("userInputMessageContext", {}).get("toolResults", [])
    if results:
        output = results[0]["content"][0].get("text") or json.dumps(results[0]["content"][0].get("json"))
        thought, reply = "The tool finished.", [("text", f"The command printed: {output.strip()}")]
    elif RUN.search(content):
        call = ("tooluse_fake1", "Bash", {"command": "echo kiro-e2e-$((6*7))", "description": "marker"})
        thought, reply = "I should run the command.", [("tool", call)]
    else:
        thought, reply = "The user greeted me.", [("text", "hello from the fake kiro backend")]
    if content.startswith(THINKING_TAGS):
        opening = [("text", f"<thinking>{thought}</thinking>\n\n")]
    return opening + reply


@dataclass
class FakeKiro:
    """The backend's state: the login it accepts, recorded requests, injected failures, and the brain."""

    generation: int = 1
    brain: Brain = default_brain
    max_payload_bytes: int = 1_200_000
    requests: list[dict[str, Any]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    refreshes: int = 0
    refresh_headers: list[dict[str, str]] = field(default_factory=list)
    fail_next: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    throttle_after: list[int] = field(default_factory=list)
    """For each queued entry, the next reply ends with a ThrottlingException frame after that many frames."""
    models: list[dict[str, Any]] = field(
        default_factory=lambda: [
            model_entry("claude-sonnet-4.5", "Claude Sonnet 4.5"),
            model_entry("claude-sonnet-4.6", "Claude Sonnet 4.6"),
            model_entry("claude-haiku-4.5", "Claude Haiku 4.5"),
            model_entry("claude-opus-4.6", "Claude Opus 4.6", 1_000_000),
        ]
    )

    @property
    def access_token(self) -> str:
        return f"kiro-access-token-generation-{self.generation}"

    @property
    def refresh_token(self) -> str:
        return f"kiro-refresh-token-generation-{self.generation}"

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/generateAssistantResponse", self.chat, methods=["POST"]),
                Route("/ListAvailableModels", self.list_models, methods=["GET"]),
                Route("/getUsageLimits", self.usage_limits, methods=["GET"]),
                Route("/refreshToken", self.refresh, methods=["POST"]),
            ]
        )

    def _authorized(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.access_token}"

    # -- the chat endpoint ------------------------------------------------------------------

    async def chat(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse(BAD_TOKEN, 403)
        raw = await request.body()
        self.raw.append(raw)
        self.headers.append(dict(request.headers))
        if len(raw) > self.max_payload_bytes:
            self.rejections.append("size")
            return JSONResponse(TOO_LONG, 400)
        try:
            body = json.loads(raw)
        except ValueError:
            self.rejections.append("json")
            return JSONResponse(IMPROPER, 400)
        self.requests.append(body)
        if self.fail_next:
            status, error = self.fail_next.pop(0)
            return JSONResponse(error, status)
        problem = check_request(body, {m["modelId"] for m in self.models} | {"auto"})
        if problem is not None:
            self.rejections.append(problem[0])
            return JSONResponse(problem[1], 400)
        frames = reply_frames(self.brain(body["conversationState"]))
        if self.throttle_after:
            cut = self.throttle_after.pop(0)
            frames = frames[:cut] + [
                exception("ThrottlingException", "Too many requests, please wait before trying again.")
            ]
        return StreamingResponse(_each(frames), media_type="application/vnd.amazon.eventstream")

    # -- the other endpoints ----------------------------------------------------------------

    async def list_models(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse(BAD_TOKEN, 403)
        if request.query_params.get("origin") != "AI_EDITOR":
            return JSONResponse(IMPROPER, 400)
        return JSONResponse({"models": self.models, "defaultModel": self.models[0]})

    async def usage_limits(self, request: Request) -> Response:
        if not self._authorized(request):
            return JSONResponse(BAD_TOKEN, 403)
        return JSONResponse(
            {
                "daysUntilReset": 12,
                "nextDateReset": 1_780_272_000,
                "subscriptionInfo": {"subscriptionTitle": "KIRO FREE", "type": "Q_DEVELOPER_STANDALONE_FREE"},
                "usageBreakdownList": [
                    {
                        "resourceType": "CREDIT",
                        "displayName": "Credit",
                        "displayNamePlural": "Credits",
                        "currentUsage": 50,
                        "currentUsageWithPrecision": 50.0,
                        "usageLimit": 50,
                        "usageLimitWithPrecision": 50.0,
                        "nextDateReset": 1_780_272_000,
                    }
                ],
            }
        )

    async def refresh(self, request: Request) -> Response:
        self.refresh_headers.append(dict(request.headers))
        data = json.loads(await request.body())
        if data.get("refreshToken") != self.refresh_token:
            return JSONResponse({"message": "Invalid refresh token provided"}, 401)
        self.refreshes += 1
        self.generation += 1
        return JSONResponse(
            {
                "accessToken": self.access_token,
                "refreshToken": self.refresh_token,
                "expiresIn": 3600,
                "profileArn": PROFILE_ARN,
            }
        )


async def _each(frames: list[bytes]) -> AsyncIterator[bytes]:
    for frame in frames:
        yield frame


def reply_frames(pieces: list[Piece]) -> list[bytes]:
    """The frames of one reply: text in 7-character events (tags get split), each call's input in
    three string fragments (the last flagged `stop`), then context usage and metering."""
    frames = [event("messageMetadataEvent", conversationId="fake-conversation", utteranceId="fake-utterance")]
    for kind, value in pieces:
        if kind == "text":
            frames += [text(value[i : i + 7]) for i in range(0, len(value), 7)]
        else:
            tool_id, name, arguments = value
            encoded = json.dumps(arguments)
            third = max(1, len(encoded) // 3)
            parts = [encoded[:third], encoded[third : 2 * third], encoded[2 * third :]]
            frames += [tool(tool_id, name, part, stop=index == 2) for index, part in enumerate(parts)]
    frames.append(event("contextUsageEvent", contextUsagePercentage=1.5))
    frames.append(event("meteringEvent", usage=0.05, unit="credit", unitPlural="credits"))
    return frames


# -- the rules (protocol sheet A4) ----------------------------------------------------------------


def check_request(body: Any, models: set[str]) -> tuple[str, dict[str, Any]] | None:
    """(the rule broken, Kiro's 400 body) for the first rule `body` breaks, or None."""
    try:
        return _check(body, models)
    except (KeyError, TypeError, AttributeError, IndexError) as exc:  # a shape Kiro cannot even read
        return f"shape: {type(exc).__name__} {exc}", IMPROPER


def _check(body: Any, models: set[str]) -> tuple[str, dict[str, Any]] | None:
    if set(body) - TOP_LEVEL:
        return f"unknown top-level fields {set(body) - TOP_LEVEL}", IMPROPER
    state = body["conversationState"]
    if set(state) - STATE_FIELDS or state["chatTriggerType"] != "MANUAL":
        return "conversationState fields", IMPROPER
    current = state["currentMessage"]["userInputMessage"]
    if current.get("modelId") not in models:
        return f"model {current.get('modelId')!r}", BAD_MODEL
    turns = [_entry(entry) for entry in state.get("history", [])] + [("user", current)]
    if turns[0][0] != "user":
        return "history must start with a user message", IMPROPER
    for (role, _), (after, _) in itertools.pairwise(turns):
        if role == after:
            return "roles must alternate", IMPROPER
    for index, (role, message) in enumerate(turns):
        if not isinstance(message["content"], str) or not message["content"].strip():
            return f"empty content in turn {index}", IMPROPER
        if (
            role == "user"
            and index < len(turns) - 1
            and "tools" in message.get("userInputMessageContext", {})
        ):
            return "tools on a history message", IMPROPER
    specs = _tools(current)
    if specs is None:
        return "bad tool specification", IMPROPER
    return _pairs(turns, specs)


def _entry(entry: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((key, message),) = entry.items()
    return {"userInputMessage": "user", "assistantResponseMessage": "assistant"}[key], message


def _tools(current: dict[str, Any]) -> set[str] | None:
    """The tool names of the current message, or None if a spec breaks a rule (cachePoint, long name, …)."""
    names: list[str] = []
    for entry in current.get("userInputMessageContext", {}).get("tools", []):
        if set(entry) != {"toolSpecification"}:
            return None
        spec = entry["toolSpecification"]
        schema = spec["inputSchema"]["json"]
        if not NAME.fullmatch(spec["name"]) or not spec.get("description") or not isinstance(schema, dict):
            return None
        names.append(spec["name"])
    return set(names) if len(names) == len(set(names)) else None


def _pairs(turns: list[tuple[str, dict[str, Any]]], specs: set[str]) -> tuple[str, dict[str, Any]] | None:
    """Each tool use is configured and answered in the next turn; each result answers the turn before."""
    for index, (role, message) in enumerate(turns):
        if role == "assistant":
            if "reasoningContent" in message:
                return "reasoning Kiro did not sign", {**IMPROPER, "reason": "THINKING_SIGNATURE_INVALID"}
            uses = message.get("toolUses", [])
            if any(use["name"] not in specs or not isinstance(use["input"], dict) for use in uses):
                return "tool use without a tool config", IMPROPER
            answered = {
                r["toolUseId"]
                for r in turns[index + 1][1].get("userInputMessageContext", {}).get("toolResults", [])
            }
            if not {use["toolUseId"] for use in uses} <= answered:
                return "tool use without its result", IMPROPER
            continue
        context = message.get("userInputMessageContext", {})
        previous = {use["toolUseId"] for use in turns[index - 1][1].get("toolUses", [])} if index else set()
        for result in context.get("toolResults", []):
            if result["toolUseId"] not in previous or result.get("status") not in ("success", "error"):
                return "tool result without its use", IMPROPER
            if not result["content"] or not all(part.get("text", "x").strip() for part in result["content"]):
                return "empty tool result", IMPROPER
        for image in message.get("images", []):
            if image["format"] not in IMAGE_FORMATS or not isinstance(image["source"]["bytes"], str):
                return "bad image", IMPROPER
    return None
