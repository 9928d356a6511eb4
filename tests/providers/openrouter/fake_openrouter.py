"""A fake OpenRouter that enforces what the OpenRouter fact sheet documents.

Endpoints (all under the base URL, like `https://openrouter.ai/api/v1`):

- `POST /chat/completions`: OpenAI-style chat completions, streamed as `data: {chunk}` lines
  with `: OPENROUTER PROCESSING` keep-alive comments sprinkled in, reasoning deltas with
  `reasoning_details`, tool calls whose arguments arrive in pieces (interleaved by `index`
  for parallel calls), a final usage chunk with empty `choices`, then `data: [DONE]`.
- `POST /messages`: the Anthropic-compatible endpoint, streamed as Anthropic SSE.
- `GET /models`: the model catalogue, `{"data": [...]}`.

Every request is checked against the rules the real service (or the model behind it) is
known to enforce; a request that breaks one gets the same kind of error body
(`{"error": {"code", "message"}}`), so a translation bug fails a test the way it would fail
in front of a user. Requests and headers are recorded for assertions.

The "model" is a brain: a function from the request body to a `Turn` (reasoning, text,
tool calls). The default brain asks for a Bash call when the user says "run", for two calls at
once when the user says "parallel", and quotes the tool output once a `tool` message comes
back. Reasoning the fake emits is remembered: when a later request carries that assistant turn
again, its `reasoning_details` are compared with what was minted (see `replays`), and a
signature the fake never minted, or text that no longer matches its signature, is rejected the
way Anthropic rejects an invalid thinking signature.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

API_KEY = "sk-or-v1-fake-0123456789abcdef"
KEEPALIVE = b": OPENROUTER PROCESSING\n\n"
DONE = b"data: [DONE]\n\n"
REASONING_FORMAT = "anthropic-claude-v1"

ROLES = {"system", "user", "assistant", "tool"}
PART_TYPES = {"text", "image_url", "file", "input_audio"}
ANTHROPIC_ONLY_FIELDS = {
    "thinking", "system", "anthropic_version", "anthropic_beta", "stop_sequences", "output_config",
    "context_management", "mcp_servers", "container",
}
ANTHROPIC_BLOCK_TYPES = {
    "tool_use", "tool_result", "thinking", "redacted_thinking", "image", "document", "server_tool_use",
    "web_search_tool_result", "search_result",
}
EFFORTS = {"xhigh", "high", "medium", "low", "minimal", "none"}
DETAIL_TYPES = {"reasoning.text", "reasoning.summary", "reasoning.encrypted"}
MAX_CACHE_BREAKPOINTS = 4

ANTHROPIC_MESSAGE_BLOCKS = {
    "text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking", "server_tool_use",
    "web_search_tool_result", "search_result",
}
OPENAI_ONLY_FIELDS = {"stream_options", "reasoning", "response_format", "max_completion_tokens", "parallel_tool_calls"}

Body = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One tool call the model makes."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """What the model answers: optional reasoning, then text and/or tool calls."""

    text: str = ""
    reasoning: str | None = None
    calls: tuple[Call, ...] = ()
    encrypted: bool = False
    """Also emit a `reasoning.encrypted` detail after the text one (as models with hidden reasoning do)."""
    finish: str | None = None
    """Override the finish reason (default: `tool_calls` with calls, else `stop`)."""


Brain = Callable[[Body], Turn]


def text_of(content: Any) -> str:
    """The text of an OpenAI message `content` (a string, a list of parts, or null)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text")


def default_brain(body: Body) -> Turn:
    """Run the marker command when asked to; quote tool output once it comes back."""
    messages = body["messages"]
    if messages[-1]["role"] == "tool":
        outputs: list[str] = []
        for message in reversed(messages):
            if message["role"] != "tool":
                break
            outputs.insert(0, text_of(message.get("content")).strip())
        if len(outputs) == 1:
            return Turn(reasoning="The tool answered; I will report what it printed.",
                        text=f"The command printed: {outputs[0]}")
        return Turn(reasoning="Both tools answered.", text="The commands printed: " + ", ".join(outputs))
    said = text_of(messages[-1].get("content")).lower() if messages[-1]["role"] == "user" else ""
    if "parallel" in said:
        return Turn(reasoning="Two independent commands: I will run both at once.", encrypted=True, calls=(
            Call("Bash", {"command": "echo first-$((1+1))", "description": "first marker"}),
            Call("Bash", {"command": "echo second-$((2+2))", "description": "second marker"}),
        ))
    if "run" in said:
        return Turn(reasoning="I should run the command.",
                    calls=(Call("Bash", {"command": "echo openrouter-e2e-$((6*7))", "description": "marker"}),))
    if "think" in said:
        return Turn(reasoning="Let me think about this carefully.", text="I thought about it.")
    if "long" in said:
        return Turn(text="This answer was cut", finish="length")
    return Turn(text="hello from the fake openrouter")


def anthropic_brain(body: Body) -> tuple[str | None, str]:
    """(thinking, text) for the Anthropic-compatible endpoint."""
    last = body["messages"][-1]
    content = last.get("content")
    if isinstance(content, list):
        results = [block for block in content if isinstance(block, dict) and block.get("type") == "tool_result"]
        if results:
            output = results[0].get("content")
            text = output if isinstance(output, str) else "".join(p.get("text", "") for p in output or [])
            return "The tool answered.", f"The command printed: {text.strip()}"
    return "Thinking natively about it.", "hello from the anthropic endpoint"


def error_body(code: int, message: str, metadata: dict[str, Any] | None = None) -> Body:
    """OpenRouter's error body."""
    error: Body = {"code": code, "message": message}
    if metadata:
        error["metadata"] = metadata
    return {"error": error}


@dataclass
class Replay:
    """An assistant turn the fake answered earlier, as a later request carried it back."""

    expected: list[Body]
    got: Any

    @property
    def ok(self) -> bool:
        return bool(self.got == self.expected)


@dataclass
class FakeOpenRouter:
    """The service's state: the accepted key, recorded requests, failure switches and the brain."""

    api_key: str = API_KEY
    brain: Brain = default_brain
    requests: list[Body] = field(default_factory=list)
    """Bodies of `POST /chat/completions`, in order (also the ones that were rejected)."""
    headers: list[dict[str, str]] = field(default_factory=list)
    messages_requests: list[Body] = field(default_factory=list)
    """Bodies of `POST /messages` (the Anthropic-compatible endpoint)."""
    messages_headers: list[dict[str, str]] = field(default_factory=list)
    rejections: list[Body] = field(default_factory=list)
    """Every 4xx the rules produced (not the scripted `fail_next` ones)."""
    fail_next: list[tuple[int, Body, dict[str, str]]] = field(default_factory=list)
    """Scripted HTTP failures, answered (one per request) before any rule is checked."""
    mid_stream_error: bool = False
    """When set, the next chat completion streams some text, then an error chunk (HTTP status stays 200)."""
    usage: Body = field(default_factory=lambda: {
        "prompt_tokens": 1200, "completion_tokens": 42, "total_tokens": 1242, "cost": 0.00123,
        "prompt_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 10},
    })
    replays: list[Replay] = field(default_factory=list)
    """For each request, each assistant turn the fake had answered with reasoning: what came back."""
    minted: dict[tuple[Any, ...], list[Body]] = field(default_factory=dict)
    """Merged `reasoning_details` of each turn answered, keyed by the turn's text and calls."""
    signatures: dict[str, str] = field(default_factory=dict)
    """Every `reasoning.text` signature minted -> the text it signs."""
    encrypted: set[str] = field(default_factory=set)
    anthropic_signatures: dict[str, str] = field(default_factory=dict)
    """Thinking signatures minted by `/messages` -> the thinking they sign."""
    models: list[Body] = field(default_factory=lambda: [
        {"id": "anthropic/claude-sonnet-4.5", "name": "Anthropic: Claude Sonnet 4.5", "context_length": 1000000,
         "top_provider": {"context_length": 1000000, "max_completion_tokens": 64000, "is_moderated": True},
         "supported_parameters": ["max_tokens", "reasoning", "include_reasoning", "stop", "temperature", "tools",
                                  "tool_choice", "top_p", "top_k"],
         "pricing": {"prompt": "0.000003", "completion": "0.000015", "input_cache_read": "0.0000003",
                     "input_cache_write": "0.00000375", "request": "0", "image": "0.0048"}},
        {"id": "meta-llama/llama-3.3-70b-instruct:free", "name": "Meta: Llama 3.3 70B Instruct (free)",
         "context_length": 131072,
         "top_provider": {"context_length": 131072, "max_completion_tokens": 8192, "is_moderated": False},
         "supported_parameters": ["max_tokens", "temperature", "top_p", "stop", "tools", "tool_choice"],
         "pricing": {"prompt": "0", "completion": "0", "request": "0", "image": "0"}},
        {"id": "openai/gpt-5", "name": "OpenAI: GPT-5", "context_length": 400000,
         "top_provider": {"context_length": 400000, "max_completion_tokens": 128000, "is_moderated": True},
         "supported_parameters": ["max_tokens", "reasoning", "include_reasoning", "tools", "tool_choice",
                                  "response_format", "structured_outputs", "seed"],
         "pricing": {"prompt": "0.00000125", "completion": "0.00001", "input_cache_read": "0.000000125"}},
    ])
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/chat/completions", self.chat_completions, methods=["POST"]),
            Route("/messages", self.anthropic_messages, methods=["POST"]),
            Route("/models", self.list_models, methods=["GET"]),
        ])

    def fail(self, status: int, message: str, *, headers: dict[str, str] | None = None,
             metadata: dict[str, Any] | None = None) -> None:
        """Answer the next request with this HTTP error."""
        self.fail_next.append((status, error_body(status, message, metadata), dict(headers or {})))

    # -- POST /chat/completions ------------------------------------------------------------

    async def chat_completions(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse(error_body(401, "No auth credentials found"), 401)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return self._reject(400, "Invalid JSON body", {})
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.fail_next:
            status, error, headers = self.fail_next.pop(0)
            return JSONResponse(error, status, headers=headers)
        problem = check_chat_request(body) or self._check_reasoning_replay(body)
        if problem is not None:
            return self._reject(400, problem, body)
        if self.mid_stream_error:
            self.mid_stream_error = False
            return StreamingResponse(self._failing_chunks(body), media_type="text/event-stream")
        turn = self.brain(body)
        return StreamingResponse(self._chunks(body, turn), media_type="text/event-stream")

    def _reject(self, status: int, message: str, body: Body) -> Response:
        error = error_body(status, message, {"provider_name": "Fake"})
        self.rejections.append({"error": error, "request": body})
        return JSONResponse(error, status)

    def _check_reasoning_replay(self, body: Body) -> str | None:
        """Signatures must be ours and still sign their text; remember what each known turn carried back."""
        for i, message in enumerate(body["messages"]):
            if message["role"] != "assistant":
                continue
            details = message.get("reasoning_details")
            if details is not None:
                if not isinstance(details, list):
                    return f"messages[{i}].reasoning_details: expected an array"
                for j, detail in enumerate(details):
                    problem = self._check_detail(detail, f"messages[{i}].reasoning_details[{j}]")
                    if problem:
                        return problem
            expected = self.minted.get(turn_key(message.get("content"), message.get("tool_calls")))
            if expected is not None:
                self.replays.append(Replay(expected, details))
        return None

    def _check_detail(self, detail: Any, path: str) -> str | None:
        if not isinstance(detail, dict) or detail.get("type") not in DETAIL_TYPES:
            return f"{path}: unknown reasoning detail {detail!r}"
        signed = detail["type"] == "reasoning.text" and "signature" in detail
        if signed and self.signatures.get(detail["signature"]) != detail.get("text"):
            return f"{path}: Invalid `signature` in `thinking` block"
        if detail["type"] == "reasoning.encrypted" and detail.get("data") not in self.encrypted:
            return f"{path}: Invalid encrypted reasoning: it was not produced by this model"
        return None

    def _chunk(self, body: Body, generation: str, *, delta: Body | None = None, finish: str | None = None,
               usage: Body | None = None, extra: Body | None = None) -> bytes:
        chunk: Body = {"id": generation, "provider": "Fake", "model": body["model"], "object": "chat.completion.chunk",
                       "created": int(time.time())}
        if usage is None:
            chunk["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish,
                                 "native_finish_reason": finish, "logprobs": None}]
        else:
            chunk["choices"] = []
            chunk["usage"] = usage
        chunk.update(extra or {})
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    async def _chunks(self, body: Body, turn: Turn) -> AsyncIterator[bytes]:
        n = next(self._counter)
        generation = f"gen-fake-{n}"
        calls = [(f"call_or{n}x{i}", call.name, json.dumps(call.arguments)) for i, call in enumerate(turn.calls)]
        signature = f"EqFakeOpenRouterSignature{n}"
        data = f"gAAAAFakeEncryptedReasoning{n}=="
        # what this turn's reasoning_details are, merged by index, remembered before the first byte
        details: list[Body] = []
        if turn.reasoning is not None:
            self.signatures[signature] = turn.reasoning
            details.append({"type": "reasoning.text", "text": turn.reasoning, "signature": signature,
                            "format": REASONING_FORMAT, "index": 0})
        if turn.encrypted:
            self.encrypted.add(data)
            details.append({"type": "reasoning.encrypted", "data": data, "format": REASONING_FORMAT, "index": 1})
        if details:
            tool_calls = [{"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                          for cid, name, args in calls]
            self.minted[turn_key(turn.text, tool_calls)] = details

        yield KEEPALIVE
        yield KEEPALIVE
        yield self._chunk(body, generation, delta={"role": "assistant", "content": ""})
        if turn.reasoning is not None:
            for piece in split(turn.reasoning, 3):
                yield self._chunk(body, generation, delta={
                    "role": "assistant", "content": "", "reasoning": piece,
                    "reasoning_details": [{"type": "reasoning.text", "text": piece, "format": REASONING_FORMAT, "index": 0}]})
            yield KEEPALIVE
            yield self._chunk(body, generation, delta={
                "role": "assistant", "content": "", "reasoning": "",
                "reasoning_details": [{"type": "reasoning.text", "signature": signature, "format": REASONING_FORMAT,
                                       "index": 0}]})
        if turn.encrypted:
            yield self._chunk(body, generation, delta={"role": "assistant", "content": "", "reasoning_details": [
                {"type": "reasoning.encrypted", "data": data, "format": REASONING_FORMAT, "index": 1}]})
        if turn.text:
            first, second = split(turn.text, 2)
            yield self._chunk(body, generation, delta={"role": "assistant", "content": first})
            yield KEEPALIVE
            yield self._chunk(body, generation, delta={"role": "assistant", "content": second})
        for i, (call_id, name, _) in enumerate(calls):
            yield self._chunk(body, generation, delta={"role": "assistant", "content": None, "tool_calls": [
                {"index": i, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}]})
        pieces_by_call = [split(arguments, 3) for _, _, arguments in calls]
        for step in range(3):  # argument pieces interleaved by index: 0, 1, 0, 1, ...
            for i, pieces in enumerate(pieces_by_call):
                yield self._chunk(body, generation, delta={"role": "assistant", "content": None, "tool_calls": [
                    {"index": i, "function": {"arguments": pieces[step]}}]})
            if step == 1 and calls:
                yield KEEPALIVE
        finish = turn.finish or ("tool_calls" if calls else "stop")
        yield self._chunk(body, generation, delta={"role": "assistant", "content": ""}, finish=finish)
        yield self._chunk(body, generation, usage=self.usage)
        yield DONE

    async def _failing_chunks(self, body: Body) -> AsyncIterator[bytes]:
        generation = f"gen-fake-{next(self._counter)}"
        yield KEEPALIVE
        yield self._chunk(body, generation, delta={"role": "assistant", "content": ""})
        yield self._chunk(body, generation, delta={"role": "assistant", "content": "Partial answer"})
        yield self._chunk(body, generation, delta={"role": "assistant", "content": " before"})
        yield self._chunk(body, generation, delta={"content": ""}, finish="error",
                          extra={"error": {"code": 502, "message": "Provider returned error",
                                           "metadata": {"provider_name": "Fake", "raw": "upstream connection reset"}}})

    # -- POST /messages (Anthropic-compatible) -----------------------------------------------

    async def anthropic_messages(self, request: Request) -> Response:
        key = request.headers.get("x-api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
        if key != self.api_key:
            return JSONResponse({"type": "error", "error": {"type": "authentication_error",
                                                            "message": "No auth credentials found"}}, 401)
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._anthropic_reject("Invalid JSON body", {})
        self.messages_requests.append(body)
        self.messages_headers.append(dict(request.headers))
        if self.fail_next:
            status, error, headers = self.fail_next.pop(0)
            return JSONResponse(error, status, headers=headers)
        # a Claude model signs its thinking the same way whichever OpenRouter API carried it
        problem = check_anthropic_request(body, {**self.signatures, **self.anthropic_signatures})
        if problem is not None:
            return self._anthropic_reject(problem, body)
        thinking, text = anthropic_brain(body)
        wants_thinking = isinstance(body.get("thinking"), dict) and body["thinking"].get("type") in ("enabled", "adaptive")
        return StreamingResponse(self._anthropic_events(body, thinking if wants_thinking else None, text),
                                 media_type="text/event-stream")

    def _anthropic_reject(self, message: str, body: Body) -> Response:
        error = {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
        self.rejections.append({"error": error, "request": body})
        return JSONResponse(error, 400)

    async def _anthropic_events(self, body: Body, thinking: str | None, text: str) -> AsyncIterator[bytes]:
        n = next(self._counter)

        def sse(kind: str, **data: Any) -> bytes:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

        yield KEEPALIVE
        yield sse("message_start", message={
            "id": f"msg_fake{n}", "type": "message", "role": "assistant", "model": body["model"], "content": [],
            "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 50, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2000,
                      "output_tokens": 1}})
        yield sse("ping")
        index = 0
        if thinking is not None:
            signature = f"ErUBCkYIBxgCKkBfakeAnthropicSignature{n}"
            self.anthropic_signatures[signature] = thinking
            yield sse("content_block_start", index=index, content_block={"type": "thinking", "thinking": "", "signature": ""})
            for piece in split(thinking, 2):
                yield sse("content_block_delta", index=index, delta={"type": "thinking_delta", "thinking": piece})
            yield sse("content_block_delta", index=index, delta={"type": "signature_delta", "signature": signature})
            yield sse("content_block_stop", index=index)
            index += 1
        yield sse("content_block_start", index=index, content_block={"type": "text", "text": ""})
        for piece in split(text, 2):
            yield sse("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
        yield sse("content_block_stop", index=index)
        yield sse("message_delta", delta={"stop_reason": "end_turn", "stop_sequence": None},
                  usage={"input_tokens": 50, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2000,
                         "output_tokens": 30})
        yield sse("message_stop")

    # -- GET /models -------------------------------------------------------------------------

    async def list_models(self, request: Request) -> Response:
        return JSONResponse({"data": self.models})


def split(text: str, parts: int) -> list[str]:
    """`text` in `parts` consecutive pieces (some may be empty for short texts)."""
    size = -(-len(text) // parts) if text else 0
    return [text[i * size:(i + 1) * size] for i in range(parts)]


def turn_key(content: Any, tool_calls: Any) -> tuple[Any, ...]:
    """What identifies an assistant turn across requests: its text and its calls (names and parsed arguments)."""
    calls: list[tuple[str, str]] = []
    for call in tool_calls or []:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        try:
            arguments = json.dumps(json.loads(function.get("arguments") or "{}"), sort_keys=True)
        except ValueError:
            arguments = str(function.get("arguments"))
        calls.append((str(function.get("name")), arguments))
    text = content if isinstance(content, str) else text_of(content)
    return (text.strip(), tuple(calls))


# -- the rules of POST /chat/completions ----------------------------------------------------


def check_chat_request(body: Any) -> str | None:
    """The message of the 400 the first broken rule earns, or None."""
    if not isinstance(body, dict):
        return "Request body must be a JSON object"
    for key in sorted(ANTHROPIC_ONLY_FIELDS & body.keys()):
        return f"Unrecognized request argument supplied: {key} (an Anthropic Messages field, not a chat completions one)"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: a model id is required"
    if body.get("stream") is not True:
        return "stream: this fake only streams; send stream: true"
    for key in ("max_tokens", "max_completion_tokens"):
        if key in body and (not isinstance(body[key], int) or isinstance(body[key], bool) or body[key] < 1):
            return f"{key}: expected a positive integer, got {body[key]!r}"
    if "stream_options" in body and not isinstance(body["stream_options"], dict):
        return "stream_options: expected an object"
    if "provider" in body and not isinstance(body["provider"], dict):
        return "provider: expected an object of provider-routing preferences"
    problem = check_reasoning(body.get("reasoning")) or check_tools(body.get("tools"), body.get("tool_choice"))
    if problem:
        return problem
    problem = check_messages(body.get("messages"))
    if problem:
        return problem
    if str(body["model"]).startswith("anthropic/"):
        marks = count_cache_marks(body)
        if marks > MAX_CACHE_BREAKPOINTS:
            return f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found {marks}."
    return None


def check_reasoning(reasoning: Any) -> str | None:
    if reasoning is None:
        return None
    if not isinstance(reasoning, dict):
        return "reasoning: expected an object"
    if "effort" in reasoning and "max_tokens" in reasoning:
        return "reasoning: only one of effort and max_tokens may be given"
    if "effort" in reasoning and reasoning["effort"] not in EFFORTS:
        return f"reasoning.effort: expected one of {sorted(EFFORTS)}, got {reasoning['effort']!r}"
    if "max_tokens" in reasoning and (not isinstance(reasoning["max_tokens"], int) or reasoning["max_tokens"] < 1):
        return "reasoning.max_tokens: expected a positive integer"
    unknown = set(reasoning) - {"effort", "max_tokens", "exclude", "enabled", "summary"}
    if unknown:
        return f"reasoning: unknown keys {sorted(unknown)}"
    return None


def check_tools(tools: Any, tool_choice: Any) -> str | None:
    names: set[str] = set()
    if tools is not None:
        if not isinstance(tools, list):
            return "tools: expected an array"
        for i, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
                return f"tools[{i}]: expected {{type: 'function', function: {{name, parameters}}}}, got {tool!r:.200}"
            if "input_schema" in tool or "input_schema" in function:
                return f"tools[{i}]: input_schema is Anthropic's; chat completions take function.parameters"
            if not isinstance(function.get("name"), str) or not function["name"]:
                return f"tools[{i}].function.name: required"
            parameters = function.get("parameters", {"type": "object"})
            if not isinstance(parameters, dict) or parameters.get("type") != "object":
                return f"tools[{i}].function.parameters: expected a JSON Schema of type object"
            names.add(function["name"])
    if tool_choice is None or tool_choice in ("auto", "none", "required"):
        return None
    if (isinstance(tool_choice, dict) and tool_choice.get("type") == "function"
            and isinstance(tool_choice.get("function"), dict) and tool_choice["function"].get("name") in names):
        return None
    return f"tool_choice: expected auto, none, required or a declared function, got {tool_choice!r}"


def check_messages(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "messages: a non-empty array is required"
    calls: set[str] = set()
    pending: list[str] = []  # calls of the last assistant turn not yet answered by a tool message
    for i, message in enumerate(messages):
        path = f"messages[{i}]"
        if not isinstance(message, dict):
            return f"{path}: expected an object"
        role = message.get("role")
        if role not in ROLES:
            return f"{path}.role: expected one of system, user, assistant, tool; got {role!r}"
        if pending and role != "tool":
            return (f"{path}: An assistant message with 'tool_calls' must be followed by tool messages responding "
                    f"to each 'tool_call_id'. Missing: {pending}")
        if "reasoning_details" in message and role != "assistant":
            return f"{path}.reasoning_details: only assistant messages carry reasoning"
        problem = check_content(message.get("content"), path, role)
        if problem:
            return problem
        if role == "assistant":
            tool_calls = message.get("tool_calls")
            if tool_calls is not None:
                if not isinstance(tool_calls, list) or not tool_calls:
                    return f"{path}.tool_calls: expected a non-empty array"
                for j, call in enumerate(tool_calls):
                    problem = check_call(call, f"{path}.tool_calls[{j}]")
                    if problem:
                        return problem
                    if call["id"] in calls:
                        return f"{path}.tool_calls[{j}].id: duplicate tool call id {call['id']!r}"
                    calls.add(call["id"])
                    pending.append(call["id"])
            elif message.get("content") in (None, "", []):
                return f"{path}: an assistant message needs content or tool_calls"
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in calls:
                return f"{path}.tool_call_id: {call_id!r} answers no earlier assistant tool call"
            if call_id in pending:
                pending.remove(call_id)
    if pending:
        return f"messages: tool calls {pending} were never answered by a tool message"
    return None


def check_call(call: Any, path: str) -> str | None:
    if not isinstance(call, dict) or call.get("type") != "function" or not isinstance(call.get("id"), str) or not call["id"]:
        return f"{path}: expected {{id, type: 'function', function: {{name, arguments}}}}"
    function = call.get("function")
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        return f"{path}.function.name: required"
    if not isinstance(function.get("arguments"), str):
        return f"{path}.function.arguments: expected a JSON string, got {type(function.get('arguments')).__name__}"
    try:
        arguments = json.loads(function["arguments"] or "{}")
    except ValueError:
        return f"{path}.function.arguments: not valid JSON"
    if not isinstance(arguments, dict):
        return f"{path}.function.arguments: expected a JSON object"
    return None


def check_content(content: Any, path: str, role: str) -> str | None:
    if content is None:
        return None if role == "assistant" else f"{path}.content: required"
    if isinstance(content, str):
        return None
    if not isinstance(content, list):
        return f"{path}.content: expected a string or an array of parts"
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ANTHROPIC_BLOCK_TYPES:
            return f"{path}.content[{j}]: '{kind}' is an Anthropic content block, not a chat completions part"
        if kind not in PART_TYPES:
            return f"{path}.content[{j}].type: expected one of {sorted(PART_TYPES)}, got {kind!r}"
        if role in ("assistant", "tool", "system") and kind != "text":
            return f"{path}.content[{j}]: {role} messages take text parts only"
        if kind == "text" and not isinstance(part.get("text"), str):
            return f"{path}.content[{j}].text: expected a string"
        if kind == "image_url" and not (isinstance(part.get("image_url"), dict) and isinstance(part["image_url"].get("url"), str)):
            return f"{path}.content[{j}].image_url.url: required"
        if "cache_control" in part and (not isinstance(part["cache_control"], dict)
                                        or part["cache_control"].get("type") != "ephemeral"):
            return f"{path}.content[{j}].cache_control: expected {{type: 'ephemeral'}}"
    return None


def count_cache_marks(value: Any) -> int:
    """How many `cache_control` marks a body carries (anywhere but the top level)."""
    if isinstance(value, dict):
        return sum(count_cache_marks(v) + (key == "cache_control") for key, v in value.items())
    if isinstance(value, list):
        return sum(count_cache_marks(v) for v in value)
    return 0


# -- the rules of POST /messages ------------------------------------------------------------


def check_anthropic_request(body: Body, minted: dict[str, str]) -> str | None:
    """A minimal Anthropic Messages validation, plus thinking-signature checks."""
    for key in sorted(OPENAI_ONLY_FIELDS & body.keys()):
        return f"{key}: Extra inputs are not permitted"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        return "max_tokens: Field required"
    if body.get("stream") is not True:
        return "stream: this fake only streams; send stream: true"
    system = body.get("system")
    if system is not None and not isinstance(system, str) and not (
            isinstance(system, list) and all(isinstance(b, dict) and b.get("type") == "text" for b in system)):
        return "system: expected a string or an array of text blocks"
    for i, tool in enumerate(body.get("tools") or []):
        if not isinstance(tool, dict) or tool.get("type") == "function" or "function" in tool:
            return f"tools.{i}: chat-completions tool shape; Anthropic tools are {{name, input_schema}}"
        if "input_schema" not in tool and not str(tool.get("type", "")).startswith(("web_search", "web_fetch")):
            return f"tools.{i}.input_schema: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: Field required"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        for key in ("tool_calls", "tool_call_id", "reasoning_details", "reasoning"):
            if key in message:
                return f"messages.{i}.{key}: Extra inputs are not permitted"
        content = message.get("content")
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            return f"messages.{i}.content: expected a string or an array of blocks"
        for j, block in enumerate(content):
            kind = block.get("type") if isinstance(block, dict) else None
            if kind not in ANTHROPIC_MESSAGE_BLOCKS:
                return f"messages.{i}.content.{j}.type: unknown block type {kind!r}"
            if kind == "thinking" and minted.get(block.get("signature", "")) != block.get("thinking"):
                return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
    marks = count_cache_marks({k: v for k, v in body.items() if k != "cache_control"})
    if marks > MAX_CACHE_BREAKPOINTS:
        return f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. Found {marks}."
    return None
