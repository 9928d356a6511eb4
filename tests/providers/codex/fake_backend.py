"""A fake ChatGPT Codex backend that enforces the backend's documented rules.

It answers `POST /responses` with a Responses-style SSE stream, `GET /models`, and the OAuth
token endpoint (`POST /oauth/token`) so refreshes can be exercised too. Every rule it checks
is one the real backend is reported to enforce (see the Codex fact sheet): a request that
breaks one gets the same 400 body, so a translation bug fails the test the way it would fail
in front of a user.

Its "model" is `brain`: a function from the request's input items to the items to answer
with. The default brain asks for a Bash call when the user says "run", and quotes the tool's
output once a `function_call_output` comes back.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

ALLOWED_FIELDS = {
    "model", "instructions", "input", "tools", "tool_choice", "parallel_tool_calls", "reasoning", "store",
    "stream", "include", "prompt_cache_key", "text", "service_tier", "client_metadata",
}
ITEM_TYPES = {"message", "function_call", "function_call_output", "reasoning", "web_search_call"}
NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
TOP_LEVEL_FORBIDDEN = ("oneOf", "anyOf", "allOf", "enum", "not")
ENCRYPTED_PREFIX = "gAAAAfake:"

Item = dict[str, Any]
Brain = Callable[[list[Item]], list[Item]]


def jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT carrying `claims` (the router never verifies signatures)."""
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


def chatgpt_tokens(account: str = "acct-123", *, expires_in: float = 3600, email: str = "dev@example.com",
                   generation: int = 1) -> dict[str, str]:
    """An id/access/refresh token set shaped like ChatGPT's."""
    auth = {"chatgpt_account_id": account, "chatgpt_plan_type": "plus"}
    exp = int(time.time() + expires_in)
    return {
        "id_token": jwt({"email": email, "exp": exp, "https://api.openai.com/auth": auth}),
        "access_token": jwt({"exp": exp, "gen": generation, "https://api.openai.com/auth": auth}),
        "refresh_token": f"rt-generation-{generation}",
        "account_id": account,
    }


def default_brain(items: list[Item]) -> list[Item]:
    """Run the marker command when asked to; quote a tool's output once it comes back."""
    last = items[-1]
    if last.get("type") == "function_call_output":
        output = last["output"] if isinstance(last["output"], str) else json.dumps(last["output"])
        return [message_item(f"The command printed: {output.strip()}")]
    text = " ".join(part.get("text", "") for item in items if item.get("role") == "user"
                    for part in item.get("content", []) if isinstance(part, dict))
    if "run" in text.lower():
        return [
            reasoning_item("Planning", "I should run the command."),
            call_item("call_fake_1", "Bash", {"command": "echo codex-e2e-$((6*7))", "description": "marker"}),
        ]
    return [message_item("hello from the fake codex backend")]


def message_item(text: str) -> Item:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def reasoning_item(title: str, summary: str) -> Item:
    blob = ENCRYPTED_PREFIX + base64.b64encode(summary.encode()).decode()
    return {"type": "reasoning", "summary": [{"type": "summary_text", "text": f"**{title}**\n\n{summary}"}],
            "encrypted_content": blob}


def call_item(call_id: str, name: str, arguments: dict[str, Any]) -> Item:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": json.dumps(arguments)}


@dataclass
class FakeCodex:
    """The backend's state: accepted credentials, recorded requests, and the brain."""

    tokens: dict[str, str] = field(default_factory=chatgpt_tokens)
    brain: Brain = default_brain
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    refreshes: int = 0
    fail_next: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    reply_headers: dict[str, str] = field(default_factory=dict)
    """Sent on every 200 reply, e.g. the `x-codex-primary-*` rate-limit headers."""
    models: list[dict[str, Any]] = field(default_factory=lambda: [
        {"slug": "gpt-5.5", "display_name": "GPT-5.5", "context_window": 272000,
         "supported_reasoning_levels": [{"effort": e} for e in ("low", "medium", "high", "xhigh")],
         "default_reasoning_level": "medium", "visibility": "list", "supported_in_api": True},
    ])

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/responses", self.responses, methods=["POST"]),
            Route("/models", self.list_models, methods=["GET"]),
            Route("/oauth/token", self.token, methods=["POST"]),
        ])

    # -- /responses ----------------------------------------------------------------------

    async def responses(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.tokens['access_token']}":
            return JSONResponse({"error": {"message": "token expired", "code": "token_expired"}}, 401)
        if request.headers.get("chatgpt-account-id") != self.tokens["account_id"]:
            return JSONResponse({"detail": "missing or wrong chatgpt-account-id"}, 403)
        body = json.loads(await request.body())
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.fail_next:
            status, error = self.fail_next.pop(0)
            return JSONResponse(error, status)
        problem = check_request(body)
        if problem is not None:
            return JSONResponse(problem, 400)
        return StreamingResponse(self._events(body, self.brain(body["input"])), media_type="text/event-stream",
                                 headers=self.reply_headers)

    async def _events(self, body: dict[str, Any], items: list[Item]) -> AsyncIterator[bytes]:
        sequence = iter(range(1_000_000))

        def sse(kind: str, **data: Any) -> bytes:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, 'sequence_number': next(sequence), **data})}\n\n".encode()

        response = {"id": "resp_fake", "object": "response", "status": "in_progress", "model": body["model"], "output": []}
        yield sse("response.created", response=response)
        yield sse("response.in_progress", response=response)
        for index, item in enumerate(items):
            for chunk in item_events(sse, index, item):
                yield chunk
        usage = {"input_tokens": 1200, "input_tokens_details": {"cached_tokens": 1024}, "output_tokens": 42,
                 "output_tokens_details": {"reasoning_tokens": 10}, "total_tokens": 1242}
        yield sse("response.completed", response={**response, "status": "completed", "output": [], "usage": usage})

    # -- /models and /oauth/token --------------------------------------------------------

    async def list_models(self, request: Request) -> Response:
        if not request.query_params.get("client_version"):
            return JSONResponse({"detail": "client_version is required"}, 400)
        return JSONResponse({"models": self.models})

    async def token(self, request: Request) -> Response:
        data = json.loads(await request.body())
        if data.get("grant_type") != "refresh_token" or data.get("refresh_token") != self.tokens["refresh_token"]:
            return JSONResponse({"error": {"code": "refresh_token_reused", "message": "already used"}}, 401)
        self.refreshes += 1
        generation = self.refreshes + 1
        self.tokens = chatgpt_tokens(self.tokens["account_id"], generation=generation)
        return JSONResponse({key: self.tokens[key] for key in ("id_token", "access_token", "refresh_token")})


def item_events(sse: Callable[..., bytes], index: int, item: Item) -> list[bytes]:
    """The SSE events that stream one output item, in the backend's order."""
    item_id = {"message": "msg", "function_call": "fc", "reasoning": "rs"}[item["type"]] + f"_fake{index}"
    full = {**item, "id": item_id, "status": "completed"}
    events = [sse("response.output_item.added", output_index=index, item={**full, **_empty(item)})]
    if item["type"] == "message":
        text = item["content"][0]["text"]
        events.append(sse("response.content_part.added", item_id=item_id, output_index=index, content_index=0,
                          part={"type": "output_text", "text": ""}))
        for piece in (text[: len(text) // 2], text[len(text) // 2:]):
            events.append(sse("response.output_text.delta", item_id=item_id, output_index=index, content_index=0,
                              delta=piece))
        events.append(sse("response.output_text.done", item_id=item_id, output_index=index, content_index=0, text=text))
    elif item["type"] == "function_call":
        for piece in (item["arguments"][:10], item["arguments"][10:]):
            events.append(sse("response.function_call_arguments.delta", item_id=item_id, output_index=index,
                              delta=piece))
        events.append(sse("response.function_call_arguments.done", item_id=item_id, output_index=index,
                          arguments=item["arguments"]))
    elif item["type"] == "reasoning":
        for i, part in enumerate(item["summary"]):
            events.append(sse("response.reasoning_summary_part.added", item_id=item_id, output_index=index,
                              summary_index=i, part={"type": "summary_text", "text": ""}))
            events.append(sse("response.reasoning_summary_text.delta", item_id=item_id, output_index=index,
                              summary_index=i, delta=part["text"]))
            events.append(sse("response.reasoning_summary_text.done", item_id=item_id, output_index=index,
                              summary_index=i, text=part["text"]))
    events.append(sse("response.output_item.done", output_index=index, item=full))
    return events


def _empty(item: Item) -> Item:
    empty: dict[str, Item] = {"message": {"content": []}, "function_call": {"arguments": ""},
            "reasoning": {"summary": [], "encrypted_content": None}}
    return empty[item["type"]]


# -- the rules ---------------------------------------------------------------------------


def check_request(body: dict[str, Any]) -> dict[str, Any] | None:
    """The backend's 400 body for the first rule `body` breaks, or None."""
    for key in body:
        if key not in ALLOWED_FIELDS:
            return {"detail": f"Unsupported parameter: {key}"}
    if body.get("store") is not False:
        return {"detail": "Store must be set to false"}
    if body.get("stream") is not True:
        return {"detail": "Stream must be set to true"}
    if not isinstance(body.get("instructions"), str):
        return {"detail": "Instructions are required"}
    if body.get("service_tier") not in (None, "priority"):
        return {"detail": f"Unsupported service_tier: {body['service_tier']}"}
    for tool in body.get("tools", []):
        problem = check_tool(tool)
        if problem:
            return {"error": {"message": problem, "type": "invalid_request_error", "code": "invalid_function_parameters"}}
    return check_items(body.get("input"))


def check_tool(tool: dict[str, Any]) -> str | None:
    if tool.get("type") == "web_search":
        return None
    if tool.get("type") != "function" or not NAME.match(str(tool.get("name", ""))):
        return f"Invalid tool {tool.get('name')!r}: type must be 'function' and the name at most 64 of [a-zA-Z0-9_-]"
    schema = tool.get("parameters")
    if not isinstance(schema, dict) or schema.get("type") != "object" or any(k in schema for k in TOP_LEVEL_FORBIDDEN):
        return (f"Invalid schema for function '{tool['name']}': schema must have type 'object' and not have "
                "'oneOf'/'anyOf'/'allOf'/'enum'/'not' at the top level.")
    return None


def check_items(items: Any) -> dict[str, Any] | None:
    if not isinstance(items, list) or not items:
        return {"detail": "input must be a non-empty list"}
    calls: set[str] = set()
    for i, item in enumerate(items):
        kind = item.get("type", "message")
        if kind not in ITEM_TYPES:
            return {"detail": f"input[{i}]: unknown item type {kind!r}"}
        if "id" in item:
            return {"detail": f"Item with id '{item['id']}' not found. Items are not persisted when `store` is set to false."}
        if kind == "message" and item.get("role") == "system":
            return {"detail": "System messages are not allowed"}
        if kind == "message" and item.get("role") not in ("user", "assistant", "developer"):
            return {"detail": f"input[{i}]: bad role {item.get('role')!r}"}
        if kind == "function_call":
            if len(item.get("call_id", "")) > 64 or not NAME.match(item.get("name", "")):
                return {"detail": f"input[{i}]: call_id or name too long"}
            calls.add(item["call_id"])
        if kind == "function_call_output" and item.get("call_id") not in calls:
            return {"detail": f"No tool call found for function call output with call_id {item.get('call_id')}."}
        if kind == "reasoning" and not str(item.get("encrypted_content", "")).startswith(ENCRYPTED_PREFIX):
            return {"error": {"message": "The encrypted content could not be verified.", "type": "invalid_request_error",
                              "param": None, "code": "invalid_encrypted_content"}}
    return None
