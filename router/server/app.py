"""The HTTP surface: Anthropic's endpoints over a `Runtime`, as a Starlette app.

    client ──► decode (validate) ──► rules (route) ──► dispatcher (start a reply)
           ◄── SSE encoder, or a JSON message folded from the same events
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request as HTTPRequest
from starlette.responses import Response
from starlette.routing import Route as HTTPRoute
from starlette.types import Receive, Scope, Send

from router import __version__
from router.anthropic.decode import decode_request
from router.anthropic.encode import StreamEncoder, reply_json
from router.anthropic.errors import error_body, error_response_parts, status_and_type
from router.collect import collect
from router.conversation import Reply, Request, Usage
from router.errors import AuthError, NotFound, RequestError, RouterError
from router.openai.chat_decode import decode_chat
from router.openai.chat_encode import ChatStreamEncoder, chat_completion_json
from router.openai.errors import error_chunk
from router.openai.responses_decode import decode_responses
from router.openai.responses_encode import ResponsesStreamEncoder, response_json_for
from router.openai.errors import error_response_parts as openai_error_parts
from router.events import Batch, MessageStop
from router.provider import ModelInfo
from router.route import Resolution, Route
from router.server.accounts import session_of
from router.server.ledger import Ledger, LedgerRow
from router.server.dashboard import Dashboard
from router.server.runtime import MODEL_LIST_TIMEOUT, Runtime
from router.server.sse import ANTHROPIC, SERVER_SEND, Encoder, EventStreamResponse, Wire
from router.tokens import estimate_input_tokens

log = logging.getLogger("router")
access_log = logging.getLogger("router.access")

JSON = "application/json"
COMMENT_PING = b": ping\n\n"
"""How OpenAI-dialect streams keep the connection alive: an SSE comment, which clients skip."""
OPENAI_CHAT = Wire(COMMENT_PING, error_chunk)
AUTH_MESSAGE = ("invalid API key: this router only serves clients that send the token set in server.auth_token"
                " (as x-api-key, or Authorization: Bearer)")


@dataclass
class Exchange:
    """What the access log and the usage ledger say about one request, filled in as it progresses.

    It keeps the few facts the ledger needs, never the request itself: a stream may last minutes,
    and its request (often 100+ KB) need not live that long.
    """

    path: str = "/v1/messages"
    started: float = field(default_factory=time.perf_counter)
    resolution: Resolution | None = None
    route: Route | None = None
    account: str = "-"
    usage: Usage | None = None
    ledger: Ledger | None = None
    at: float = 0.0
    """When the request came in (epoch seconds, the runtime's clock)."""
    client_model: str = ""
    session: str | None = None
    stream: bool = False
    first_byte: float | None = None
    """`time.perf_counter()` at the first byte sent (streams), or when the upstream's reply began."""
    error_type: str | None = None

    def decoded(self, request: Request) -> None:
        """Note what the ledger keeps of the request."""
        self.client_model, self.session, self.stream = request.model, session_of(request), request.stream

    def log(self, status: int) -> None:
        """Write the one access-log line of this request, and its row in the usage ledger."""
        res, route, usage = self.resolution, self.route, self.usage or Usage()
        access_log.info(
            'POST %s tier=%s rule="%s" route=%s provider=%s account=%s model=%s status=%d in=%d cached=%d out=%d %.0fms',
            self.path,
            (res.tier if res else None) or "-",
            res.rule if res else "-",
            route.target if route else "-",
            route.provider if route else "-",
            self.account,
            route.model if route else "-",
            status,
            usage.input_tokens,
            usage.cache_read_input_tokens,
            usage.output_tokens,
            (time.perf_counter() - self.started) * 1000,
        )
        if self.ledger is not None:
            self.ledger.record(self._row(status, usage))

    def _row(self, status: int, usage: Usage) -> LedgerRow:
        res, route, started = self.resolution, self.route, self.started
        routed = self.account != "-"
        return LedgerRow(
            at=self.at, session=self.session, path=self.path, stream=self.stream, client_model=self.client_model,
            tier=res.tier if res else None, rule=res.rule if res else "-",
            provider=route.provider if route else None, account=self.account if routed else None,
            upstream_model=route.model if route else None, input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens, cached_tokens=usage.cache_read_input_tokens, cost=usage.cost,
            ttfb_ms=(self.first_byte - started) * 1000 if self.first_byte is not None else None,
            total_ms=(time.perf_counter() - started) * 1000, status=status, error_type=self.error_type,
        )


@dataclass(frozen=True, slots=True)
class Turn:
    """A decoded request, and how its dialect writes the reply: streamed (an encoder and its wire) or folded (JSON).

    Both take the route that served it, which is known only once the reply has started.
    """

    request: Request
    size: int
    """The body's size in bytes (what long-context lanes estimate tokens from)."""
    streamed: Callable[[Route | None], tuple[Encoder, Wire]]
    folded: Callable[[Reply, Route | None], bytes]


class Endpoints:
    """Request handlers bound to one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.server = runtime.config.server

    async def messages(self, http: HTTPRequest) -> Response | EventStreamResponse:
        """`POST /v1/messages`: one assistant turn, streamed or folded."""
        return await self._serve(http, "/v1/messages", self._anthropic_turn, _error_response)

    async def chat_completions(self, http: HTTPRequest) -> Response | EventStreamResponse:
        """`POST /v1/chat/completions`: the same turn for OpenAI clients, through the same rules and pools."""
        return await self._serve(http, "/v1/chat/completions", self._chat_turn, openai_error_response)

    async def responses(self, http: HTTPRequest) -> Response | EventStreamResponse:
        """`POST /v1/responses`: the same turn in the Responses API's shape (what the Codex CLI speaks)."""
        return await self._serve(http, "/v1/responses", self._responses_turn, openai_error_response)

    async def _serve(
        self, http: HTTPRequest, path: str, read: Callable[[HTTPRequest], Awaitable[Turn]], respond: ErrorResponder
    ) -> Response | EventStreamResponse:
        """Decode, route and start one turn, then stream it or fold it into one JSON reply, in its dialect."""
        exchange = self._exchange(path)
        try:
            turn = await read(http)
            events = await self._start(exchange, turn.request, turn.size)
        except Exception as exc:
            return _failed(exchange, exc, respond)
        if turn.request.stream:
            encoder, wire = turn.streamed(exchange.route)
            return self._stream(events, encoder, exchange, wire)
        try:
            reply = await collect(events)
        except Exception as exc:
            return _failed(exchange, exc, respond)
        exchange.usage = reply.usage
        exchange.log(200)
        return Response(turn.folded(reply, exchange.route), media_type=JSON)

    async def _anthropic_turn(self, http: HTTPRequest) -> Turn:
        request, size = await self._decode(http, for_count=False)
        model = request.model
        return Turn(request, size, lambda route: (StreamEncoder(model, route=route), ANTHROPIC),
                    lambda reply, route: reply_json(reply, model, route=route))

    async def _chat_turn(self, http: HTTPRequest) -> Turn:
        body = await self._body(http)
        chat = decode_chat(body, session_id=_session_header(http))
        model = chat.request.model
        return Turn(chat.request, len(body), lambda route: (ChatStreamEncoder(model, chat.include_usage), OPENAI_CHAT),
                    lambda reply, route: chat_completion_json(reply, model))

    async def _responses_turn(self, http: HTTPRequest) -> Turn:
        body = await self._body(http)
        decoded = decode_responses(body, session_id=_session_header(http))
        model = decoded.request.model

        def streamed(route: Route | None) -> tuple[Encoder, Wire]:
            encoder = ResponsesStreamEncoder.for_request(model, decoded)
            return encoder, Wire(COMMENT_PING, encoder.error)  # its error events are numbered: the encoder's

        return Turn(decoded.request, len(body), streamed, lambda reply, route: response_json_for(reply, model, decoded))

    async def _start(self, exchange: Exchange, request: Request, size: int) -> AsyncIterator[Batch]:
        """Route a decoded request and start its reply (fallbacks and account choice are the dispatcher's)."""
        exchange.decoded(request)
        exchange.resolution = self.runtime.rules.resolve(request.model, request, size)
        exchange.route = exchange.resolution.primary
        started = await self.runtime.dispatcher.start(request, exchange.resolution)
        exchange.route, exchange.account = started.route, started.account
        exchange.first_byte = time.perf_counter()
        return started.batches

    def _stream(
        self, events: AsyncIterator[Batch], encoder: Encoder, exchange: Exchange, wire: Wire = ANTHROPIC
    ) -> EventStreamResponse:
        def on_end(status: int, stop: MessageStop | None) -> None:
            exchange.usage = stop.usage if stop else None
            exchange.first_byte = response.first_byte or exchange.first_byte
            exchange.error_type = response.error_type
            exchange.log(status)

        response = EventStreamResponse(
            events,
            encoder,
            ping_interval=self.server.ping_interval,
            closing=self.runtime.lifecycle.closing,
            on_end=on_end,
            wire=wire,
        )
        return response

    async def count_tokens(self, http: HTTPRequest) -> Response:
        """`POST /v1/messages/count_tokens`: the provider's count, else the local estimate."""
        exchange = self._exchange("/v1/messages/count_tokens")
        try:
            request, size = await self._decode(http, for_count=True)
            exchange.decoded(request)
            exchange.resolution = self.runtime.rules.resolve(request.model, request, size)
            route = exchange.route = exchange.resolution.primary
            provider = self.runtime.providers.get(route.provider)
            counted = await provider.count_tokens(request, route) if provider else None
            tokens = counted if counted is not None else estimate_input_tokens(request)
        except Exception as exc:
            return _failed(exchange, exc)
        exchange.usage = Usage(input_tokens=tokens)
        exchange.log(200)
        return Response(orjson.dumps({"input_tokens": tokens}), media_type=JSON)

    async def models(self, http: HTTPRequest) -> Response:
        """`GET /v1/models`: tier aliases, routed targets and each provider's models, in both dialects' shapes.

        One path serves Anthropic and OpenAI clients alike, and neither dialect's fields collide with
        the other's, so every entry and the list carry both (docs/openai.md): each SDK reads its own
        fields and ignores the rest, and no header decides which client is asking.
        """
        if (denied := self._check_auth(http)) is not None:
            return denied
        entries = await self._model_entries()
        data = [_model_json(model_id, name) for model_id, name in entries.items()]
        body = {"object": "list", "data": data, "has_more": False, "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None}
        return Response(orjson.dumps(body), media_type=JSON)

    async def model(self, http: HTTPRequest) -> Response:
        """`GET /v1/models/{id}`: one model, or 404."""
        if (denied := self._check_auth(http)) is not None:
            return denied
        model_id = http.path_params["model_id"]
        entries = await self._model_entries()
        if model_id not in entries:
            return _error_response(NotFound(f"model '{model_id}' is not served by this router"))
        return Response(orjson.dumps(_model_json(model_id, entries[model_id])), media_type=JSON)

    async def health(self, http: HTTPRequest) -> Response:
        """`GET /health`: liveness, version, each provider's credential status and each account's state."""
        statuses = self.runtime.credential_statuses()
        now = self.runtime.clock()
        body = {
            "status": "ok",
            "version": __version__,
            "providers": {name: {"ok": s.ok, "detail": s.detail} for name, s in statuses.items()},
            "accounts": [state.as_json(now) for state in self.runtime.account_states()],
        }
        return Response(orjson.dumps(body), media_type=JSON)

    async def root(self, http: HTTPRequest) -> Response:
        """`HEAD /` and `GET /`: Claude Code probes the base URL before its first request."""
        return Response(b"switchyard router is running\n", media_type="text/plain")

    # -- helpers ---------------------------------------------------------------------------

    def _exchange(self, path: str) -> Exchange:
        return Exchange(path, ledger=self.runtime.ledger, at=self.runtime.clock())

    async def _body(self, http: HTTPRequest) -> bytes:
        """The request body of an authorized client, within `server.max_body_bytes`."""
        if not self._authorized(http):
            raise AuthError(AUTH_MESSAGE)
        return await _read_body(http, self.server.max_body_bytes)

    async def _decode(self, http: HTTPRequest, *, for_count: bool) -> tuple[Request, int]:
        """The request and its body's size in bytes (what long-context lanes estimate tokens from)."""
        body = await self._body(http)
        headers = http.headers
        betas = [b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()]
        request = decode_request(
            body, session_id=headers.get("x-claude-code-session-id"), betas=betas, for_count=for_count
        )
        return request, len(body)

    def _authorized(self, http: HTTPRequest) -> bool:
        token = self.server.auth_token
        if not token:
            return True
        given = http.headers.get("x-api-key") or _bearer(http.headers.get("authorization", ""))
        return hmac.compare_digest(given.encode(), token.encode())

    def _check_auth(self, http: HTTPRequest) -> Response | None:
        return None if self._authorized(http) else _error_response(AuthError(AUTH_MESSAGE))

    async def _model_entries(self) -> dict[str, str]:
        entries = {model_id: self._display_name(model_id) for model_id in self.runtime.rules.model_ids()}
        results = await asyncio.gather(
            *(self._provider_models(name) for name in self.runtime.providers), return_exceptions=False
        )
        for name, models in zip(self.runtime.providers, results):
            for info in models:
                entries.setdefault(f"{name}/{info.id}", info.display_name or info.id)
        return entries

    def _display_name(self, model_id: str) -> str:
        """`opus → codex/gpt-5.5:high`: what asking for this name gets you."""
        try:
            target = self.runtime.rules.resolve(model_id).primary.target
        except RouterError:
            return model_id
        return model_id if target == model_id else f"{model_id} → {target}"

    async def _provider_models(self, name: str) -> tuple[ModelInfo, ...]:
        try:
            async with asyncio.timeout(MODEL_LIST_TIMEOUT):
                models = tuple(await self.runtime.providers[name].list_models())
                self.runtime.note_models(name, models)
                return models
        except Exception as exc:  # a provider's listing failing must not break the whole list
            log.warning("listing models of %s failed: %s", name, exc)
            return ()


class TooLarge(RequestError):
    """The request body exceeds `server.max_body_bytes` (Anthropic answers 413)."""


async def _read_body(http: HTTPRequest, limit: int) -> bytes:
    declared = http.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"request body is larger than the router's limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in http.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body is larger than the router's limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


MODELS_CREATED = 1735689600
"""2025-01-01T00:00:00Z: the creation date every listed model shows (the router cannot know the real one)."""


def _model_json(model_id: str, name: str) -> dict[str, str | int]:
    """One model as Anthropic (`type`, `display_name`, `created_at`) and OpenAI (`object`, `created`, `owned_by`) list it."""
    provider, slash, _ = model_id.partition("/")
    return {"type": "model", "id": model_id, "display_name": name, "created_at": "2025-01-01T00:00:00Z",
            "object": "model", "created": MODELS_CREATED, "owned_by": provider if slash else "switchyard"}


def _bearer(authorization: str) -> str:
    """The credentials of an `Authorization: Bearer ...` header (the scheme is case-insensitive)."""
    scheme, _, credentials = authorization.strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else authorization


def _session_header(http: HTTPRequest) -> str | None:
    """The session an OpenAI client names, if any: the Codex CLI sends `session-id` (older ones `session_id`)."""
    headers = http.headers
    return headers.get("session-id") or headers.get("session_id") or headers.get("x-session-id") or None


def _failed(exchange: Exchange, exc: BaseException, respond: ErrorResponder | None = None) -> Response:
    """The error response for a request that failed before its reply began, logged and recorded.

    The ledger records the Anthropic error type whatever the dialect, so one vocabulary describes every row.
    """
    response = (respond or _error_response)(exc)
    exchange.error_type = "request_too_large" if isinstance(exc, TooLarge) else status_and_type(exc)[1]
    exchange.log(response.status_code)
    return response


ErrorResponder = Callable[[BaseException], Response]


def _error_response(exc: BaseException) -> Response:
    """An Anthropic-shaped error response."""
    if isinstance(exc, TooLarge):
        return Response(error_body("request_too_large", exc.message), status_code=413, media_type=JSON)
    _log_failure(exc)
    status, body, headers = error_response_parts(exc)
    return Response(body, status_code=status, headers=headers, media_type=JSON)


def openai_error_response(exc: BaseException) -> Response:
    """An OpenAI-shaped error response (`{"error": {"message", "type", "param", "code"}}`)."""
    if isinstance(exc, TooLarge):
        body = {"error": {"message": exc.message, "type": "invalid_request_error", "param": None,
                          "code": "request_too_large"}}
        return Response(orjson.dumps(body), status_code=413, media_type=JSON)
    _log_failure(exc)
    status, content, headers = openai_error_parts(exc)
    return Response(content, status_code=status, headers=headers, media_type=JSON)


def _log_failure(exc: BaseException) -> None:
    if not isinstance(exc, RouterError):
        log.exception("unexpected failure while handling a request")
    elif not isinstance(exc, RequestError):
        log.warning("request failed: %s", exc)


async def _http_error(http: HTTPRequest, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kinds: Mapping[int, str] = {404: "not_found_error", 405: "invalid_request_error"}
    error_type = kinds.get(exc.status_code, "api_error" if exc.status_code >= 500 else "invalid_request_error")
    message = f"{http.method} {http.url.path}: {exc.detail}"
    return Response(error_body(error_type, message), status_code=exc.status_code, headers=exc.headers,
                    media_type=JSON)


async def _server_error(http: HTTPRequest, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", http.method, http.url.path)
    return Response(error_body("api_error", "internal router error"), status_code=500, media_type=JSON)


class App(Starlette):
    """Starlette, keeping the server's `send` in the scope for the streaming response's body writes.

    Starlette's error middleware wraps `send` (twice, then once more around the endpoint) only to
    learn whether the response has started. A stream tells it so with its `http.response.start`
    and then writes hundreds of body messages; sending those straight to the server saves three
    Python calls on every streamed event (docs/performance.md).
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[SERVER_SEND] = send
        await super().__call__(scope, receive, send)


def create_app(runtime: Runtime) -> Starlette:
    """The Starlette app serving Anthropic's endpoints for `runtime`."""
    endpoints = Endpoints(runtime)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await runtime.aclose()

    routes = [
        HTTPRoute("/v1/messages", endpoints.messages, methods=["POST"]),
        HTTPRoute("/v1/messages/count_tokens", endpoints.count_tokens, methods=["POST"]),
        HTTPRoute("/v1/chat/completions", endpoints.chat_completions, methods=["POST"]),
        HTTPRoute("/v1/responses", endpoints.responses, methods=["POST"]),
        HTTPRoute("/v1/models", endpoints.models, methods=["GET"]),
        HTTPRoute("/v1/models/{model_id:path}", endpoints.model, methods=["GET"]),
        HTTPRoute("/health", endpoints.health, methods=["GET"]),
        HTTPRoute("/", endpoints.root, methods=["GET", "HEAD"]),
        *Dashboard(runtime).routes(),
    ]
    app = App(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.runtime = runtime
    return app
