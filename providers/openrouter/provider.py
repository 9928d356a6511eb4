"""The OpenRouter provider: the I/O shell around `translate` (chat completions) and `anthropic_endpoint`.

One request: pick the mode (the Anthropic endpoint for `anthropic/*` models when enabled,
else chat completions) -> `POST` with the API key (SSE) -> a non-200 becomes a router error
-> each SSE event is fed to the mode's reply state -> the cost is logged at the end.

A model that always reasons refuses `reasoning: {"enabled": false}` with a 400; the request
is then sent once more without the field, and the model is remembered so later requests
with thinking disabled do not pay that round trip again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx

from providers.openrouter.anthropic_endpoint import (
    NativeReplyState,
    native_headers,
    native_payload,
    uses_endpoint,
)
from providers.openrouter.failures import PROVIDER
from providers.openrouter.models import Catalogue
from providers.openrouter.translate import (
    PayloadOptions,
    ReasoningMandatory,
    ReplyState,
    build_payload,
    error_from_http,
    merge_preferences,
)
from router.conversation import Request
from router.errors import AuthError
from router.events import Batch
from router.provider import CredentialStatus, ModelInfo, Provider, ProviderContext
from router.route import Route
from router.settings import check_field
from router.toolkit.jsonbody import json_body
from router.toolkit.upstream import Backend, EventFeed

DEFAULT_BASE_URL = "https://openrouter.ai/api/v1"


@dataclass(frozen=True, slots=True)
class OpenRouterSettings:
    """The `providers.openrouter` section; the key is best given as `${OPENROUTER_API_KEY}`.

    `provider` holds default provider-routing preferences (`order`, `allow_fallbacks`,
    `data_collection`, `zdr`, `only`, `ignore`, `sort`, `quantizations`, `max_price`,
    `require_parameters`), sent as the request's `provider` field.
    """

    api_key: str
    base_url: str = DEFAULT_BASE_URL
    referer: str | None = None
    title: str | None = "switchyard-router"
    anthropic_endpoint: bool = False
    models_ttl: float = 3600.0
    provider: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        check_field(self.base_url.startswith(("http://", "https://")), "base_url", "must start with https://")
        check_field(self.models_ttl >= 0, "models_ttl", "must be 0 or more")


@dataclass(frozen=True, slots=True)
class OpenRouterRouteOptions:
    """Per-route options: `provider` preferences merged over the settings' (route keys win), and
    `anthropic_endpoint` to override the setting for this route."""

    provider: dict[str, Any] | None = None
    anthropic_endpoint: bool | None = None


class OpenRouterProvider(Provider[OpenRouterSettings]):
    """OpenRouter: hundreds of models behind one API key, through chat completions or, for Claude
    models, OpenRouter's Anthropic-compatible endpoint."""

    name = "openrouter"
    Settings = OpenRouterSettings
    RouteOptions = OpenRouterRouteOptions

    def __init__(self, settings: OpenRouterSettings, context: ProviderContext) -> None:
        super().__init__(settings, context)
        self.catalogue = Catalogue(self._fetch_models, settings.models_ttl, warn=self.log.warning)
        self.backend = Backend(context.http, "OpenRouter", PROVIDER)
        self.always_reasons: set[str] = set()

    # -- the request ---------------------------------------------------------------------------

    async def stream(self, request: Request, route: Route) -> AsyncIterator[Batch]:
        """One turn on OpenRouter, as batches of canonical events (one per SSE event)."""
        self._require_key()
        options: OpenRouterRouteOptions = self.route_options(route)
        preferences = merge_preferences(self.settings.provider, options.provider)
        override = options.anthropic_endpoint
        native = uses_endpoint(route.model, self.settings.anthropic_endpoint if override is None else bool(override))
        state: ReplyState | NativeReplyState
        if native:
            response, state, feed = await self._open_native(request, route, preferences)
        else:
            response, state, feed = await self._open_chat(request, route, preferences)
        del request  # a reply may stream for minutes; the request (often 100+ KB) need not live that long
        async with aclosing(self.backend.sse_batches(response, feed, state.finish)) as batches:
            async for batch in batches:
                yield batch
        if isinstance(state, ReplyState):  # chat completions report cost; the Anthropic endpoint does not
            self._log_usage(route, state)

    async def _open_chat(
        self, request: Request, route: Route, preferences: dict[str, Any] | None
    ) -> tuple[httpx.Response, ReplyState, EventFeed]:
        options = PayloadOptions(preferences, disable_reasoning=route.model not in self.always_reasons)
        payload = build_payload(request, route, options=options)
        for note in payload.notes:
            self.log.info("openrouter request: %s", note)
        try:
            response = await self._send("/chat/completions", payload.body, route)
        except ReasoningMandatory:
            self.log.info("openrouter: %s always reasons; resending without turning reasoning off", route.model)
            self.always_reasons.add(route.model)
            payload = build_payload(request, route, options=PayloadOptions(preferences, disable_reasoning=False))
            response = await self._send("/chat/completions", payload.body, route)
        state = ReplyState(route, payload.names, show_thinking=payload.shows_thinking)
        return response, state, lambda name, data: state.feed(data)

    async def _open_native(
        self, request: Request, route: Route, preferences: dict[str, Any] | None
    ) -> tuple[httpx.Response, NativeReplyState, EventFeed]:
        body = native_payload(request, route, provider=preferences)
        response = await self._send("/messages", body, route, native_headers(request))
        state = NativeReplyState(route)
        return response, state, state.feed

    async def _send(self, path: str, body: dict[str, Any], route: Route,
                    extra: dict[str, str] | None = None) -> httpx.Response:
        headers = {**self._headers("text/event-stream"), **(extra or {})}
        return await self.backend.open("POST", self._url(path), content=json_body(body), headers=headers,
                                       error=partial(error_from_http, model=route.model))

    def _log_usage(self, route: Route, state: ReplyState) -> None:
        usage = state.usage
        cost = f"{state.cost:.6f} credits" if state.cost is not None else "cost not reported"
        self.log.info(
            "openrouter %s (served by %s): %d input, %d cached, %d cache write, %d output tokens; %s",
            route.model, state.model or route.model, usage.input_tokens, usage.cache_read_input_tokens,
            usage.cache_creation_input_tokens, usage.output_tokens, cost,
        )

    # -- models, status ----------------------------------------------------------------------------

    async def list_models(self) -> Sequence[ModelInfo]:
        """OpenRouter's live catalogue (cached); empty when it cannot be fetched."""
        return await self.catalogue.all()

    async def _fetch_models(self) -> Any:
        response = await self.context.http.get(self._url("/models"), headers=self._headers("application/json"),
                                               timeout=15.0)
        response.raise_for_status()
        return response.json()

    def credential_status(self) -> CredentialStatus:
        """Whether an API key is configured, showing at most its last four characters."""
        key = self.settings.api_key
        if not key.strip():
            return CredentialStatus(False, "no API key: set providers.openrouter.api_key (e.g. ${OPENROUTER_API_KEY})")
        if len(key) < 16:
            return CredentialStatus(True, "API key set")
        prefix = "sk-or-" if key.startswith("sk-or-") else ""
        return CredentialStatus(True, f"API key set ({prefix}…{key[-4:]})")

    # -- plumbing -----------------------------------------------------------------------------------

    def _require_key(self) -> None:
        if not self.settings.api_key.strip():
            raise AuthError("no OpenRouter API key: set providers.openrouter.api_key", provider=PROVIDER)

    def _headers(self, accept: str) -> dict[str, str]:
        headers = {
            "authorization": f"Bearer {self.settings.api_key}",
            "content-type": "application/json",
            "accept": accept,
        }
        if self.settings.referer:
            headers["HTTP-Referer"] = self.settings.referer
        if self.settings.title:
            headers["X-Title"] = self.settings.title
            headers["X-OpenRouter-Title"] = self.settings.title
        return headers

    def _url(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + path
