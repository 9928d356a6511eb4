"""The Codex provider: the I/O shell around `translate` (payloads, replies) and `auth` (tokens).

One request: fresh credentials -> `POST {base}/responses` (SSE) -> a 401 refreshes once and
replays -> a non-200 becomes a router error -> each SSE event is fed to `ReplyState`, its
events yielded as one batch (the sending and reading are `router.toolkit.upstream`'s).
Every reply's rate-limit headers, a refusal's too, go to `ProviderContext.report_quota`.
A request the backend refuses because a replayed reasoning blob cannot be verified is sent
once more without reasoning items, so a conversation never gets stuck on one.
"""

from __future__ import annotations

import dataclasses
import platform
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import httpx

from providers.codex.auth import CLIENT_ID, ISSUER, ORIGINATOR, TOKEN_URL, Credentials, TokenManager
from providers.codex.failures import PROVIDER
from providers.codex.login import browser_login, device_login
from providers.codex.models import Catalogue, CodexModel
from providers.codex.ratelimits import quota_windows
from providers.codex.tokens import AuthFile, default_auth_path, default_opencode_path, logout
from providers.codex.translate import (
    InvalidEncryptedContent,
    Payload,
    PayloadOptions,
    ReplyState,
    build_payload,
    error_from_http,
)
from router.conversation import Request
from router.errors import AuthError
from router.events import Batch, Event
from router.provider import (
    DEFAULT_ACCOUNT,
    CredentialStatus,
    LoginOptions,
    ModelInfo,
    Provider,
    ProviderContext,
    Say,
)
from router.route import Route
from router.toolkit.jsonbody import json_body
from router.toolkit.upstream import Backend, ErrorMapping, accept, drain

DEFAULT_BASE_URL = "https://chatgpt.com/backend-api/codex"
CLIENT_VERSION = "0.144.1"


@dataclass(frozen=True, slots=True)
class CodexSettings:
    """The `providers.codex` section; every endpoint is a setting so tests and mirrors can move it."""

    base_url: str = DEFAULT_BASE_URL
    issuer: str = ISSUER
    token_url: str = TOKEN_URL
    auth_file: Path | None = None
    fast: bool = False
    client_version: str = CLIENT_VERSION
    models_ttl: float = 3600.0
    reasoning_summary: Literal["auto", "concise", "detailed", "none"] = "auto"


@dataclass(frozen=True, slots=True)
class CodexRouteOptions:
    """Per-route options: `fast: true` asks for the priority service tier on this route only."""

    fast: bool | None = None


class CodexProvider(Provider[CodexSettings]):
    """ChatGPT's Codex backend, reached with the user's ChatGPT Plus/Pro login."""

    name = "codex"
    Settings = CodexSettings
    RouteOptions = CodexRouteOptions

    def __init__(self, settings: CodexSettings, context: ProviderContext) -> None:
        super().__init__(settings, context)
        self.auth_file = AuthFile(auth_path(settings, context), context.account)
        self.identity = _identity_headers(settings.client_version)
        self.tokens = TokenManager(self.auth_file, context.http, settings.token_url, CLIENT_ID,
                                   headers=self.identity, logger=self.log)
        self.catalogue = Catalogue(self._fetch_models, settings.models_ttl)
        self.backend = Backend(context.http, "the Codex backend", PROVIDER)

    # -- the request ---------------------------------------------------------------------

    async def stream(self, request: Request, route: Route) -> AsyncIterator[Batch]:
        """One turn on the Codex backend, as batches of canonical events (one per SSE event)."""
        response, state = await self._open(request, route)
        del request  # a reply may stream for minutes; the request (often 100+ KB) need not live that long

        def feed(name: str, data: dict[str, Any]) -> list[Event]:
            return state.feed(str(data.get("type") or name), data)

        async with aclosing(self.backend.sse_batches(response, feed, state.finish)) as batches:
            async for batch in batches:
                yield batch

    async def _open(self, request: Request, route: Route) -> tuple[httpx.Response, ReplyState]:
        """Send the turn (again without reasoning if Codex cannot verify it); the response and its reader."""
        model = await self.catalogue.find(route.model)
        window = model.info.context_window if model else None
        options = self._options(request, route, model)
        payload = build_payload(request, route, options=options)
        error = partial(error_from_http, model=route.model, context_window=window)
        try:
            response = await self._send(payload, request, error)
        except InvalidEncryptedContent:
            self.log.warning("codex could not verify replayed reasoning; retrying without it")
            payload = build_payload(request, route, options=dataclasses.replace(options, replay_reasoning=False))
            response = await self._send(payload, request, error)
        state = ReplyState(route, payload.names, show_reasoning=payload.shows_thinking, context_window=window)
        return response, state

    def _options(self, request: Request, route: Route, model: CodexModel | None) -> PayloadOptions:
        fast = self.route_options(route).fast
        summary = self.settings.reasoning_summary
        return PayloadOptions(
            prompt_cache_key=request.session_id,
            service_tier="priority" if (self.settings.fast if fast is None else fast) else None,
            supported_efforts=model.info.efforts or None if model else None,
            default_effort=model.default_effort if model else "medium",
            reasoning_summary=None if summary == "none" else summary,
        )

    async def _send(self, payload: Payload, request: Request, error: ErrorMapping) -> httpx.Response:
        """POST the payload; a 401 refreshes the token once and replays; any other non-200 -> `error`."""
        for note in payload.notes:
            self.log.info("codex request: %s", note)
        body = json_body(payload.body)
        credentials = await self.tokens.access()
        response = await self._post(body, credentials, request)
        if response.status_code == 401:
            await drain(response)
            credentials = await self.tokens.refresh_after_401(credentials)
            response = await self._post(body, credentials, request)
        return await accept(response, error)

    async def _post(self, body: bytes, credentials: Credentials, request: Request) -> httpx.Response:
        headers = {**self._headers(credentials, "text/event-stream"), "content-type": "application/json"}
        if request.session_id:
            headers["session_id"] = request.session_id
        response = await self.backend.send("POST", self._url("/responses"), content=body, headers=headers)
        self._report_quota(response.headers)
        return response

    def _report_quota(self, headers: httpx.Headers) -> None:
        """Hand the reply's quota windows to the router (whose sink never raises)."""
        windows = quota_windows(headers, time.time())
        if windows:
            self.context.report_quota(windows)

    def _headers(self, credentials: Credentials, accept: str) -> dict[str, str]:
        return {**self.identity, "authorization": f"Bearer {credentials.access_token}",
                "chatgpt-account-id": credentials.account_id or "", "accept": accept}

    # -- models, status, login -------------------------------------------------------------

    async def list_models(self) -> Sequence[ModelInfo]:
        """The live catalogue for this account, else the built-in list."""
        return [model.info for model in await self.catalogue.all()]

    async def _fetch_models(self) -> Any:
        headers = self._headers(await self.tokens.access(), "application/json")
        response = await self.context.http.get(self._url("/models"), headers=headers,
                                               params={"client_version": self.settings.client_version}, timeout=10.0)
        response.raise_for_status()
        return response.json()

    def credential_status(self) -> CredentialStatus:
        """Account, plan, token expiry and file location, never a token."""
        return self.tokens.status()

    async def login(self, options: LoginOptions, say: Say) -> None:
        """`router login codex`: browser (PKCE), `--device`, or `--import opencode`."""
        if options.import_from is not None:
            self._import(options, say)
            return
        if self.auth_file.holds_login() and not options.force:
            say(f"Already signed in ({self.credential_status().detail}). Use --force to sign in again.")
            return
        self._offer_import(say)
        common: dict[str, Any] = {"issuer": self.settings.issuer, "token_url": self.settings.token_url,
                                  "client_id": CLIENT_ID, "say": say, "headers": self.identity}
        if options.device:
            await device_login(self.auth_file, self.context.http, **common)
        else:
            await browser_login(self.auth_file, self.context.http, **common)
        say(f"Signed in. {self.credential_status().detail}")

    def _import(self, options: LoginOptions, say: Say) -> None:
        if options.import_from != "opencode":
            raise AuthError(f"cannot import a login from '{options.import_from}'; the one supported source is opencode")
        source = default_opencode_path()
        self.auth_file.import_from(source, now=time.time(), force=options.force)
        say(f"Imported the ChatGPT login from {source}. {self.credential_status().detail}")

    def _offer_import(self, say: Say) -> None:
        source = default_opencode_path()
        if source.exists():
            say(f"Found a login kept by opencode ({source}); `router login codex --import opencode` reuses it.")

    async def logout(self, say: Say) -> None:
        """`router logout codex`: removes only a login the router itself wrote."""
        say(logout(self.auth_file).message)

    def _url(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + path


def auth_path(settings: CodexSettings, context: ProviderContext) -> Path:
    """`auth_file` when set; a named account's own login in its state folder (where `router login
    codex --account NAME` writes it); else the Codex CLI's file, shared with the CLI."""
    if settings.auth_file is not None:
        return settings.auth_file
    if context.account != DEFAULT_ACCOUNT:
        return context.state_dir / "auth.json"
    return default_auth_path()


def _identity_headers(version: str) -> dict[str, str]:
    system = f"{platform.system()} {platform.release()}; {platform.machine()}"
    return {"originator": ORIGINATOR, "user-agent": f"{ORIGINATOR}/{version} ({system}) switchyard-router",
            "version": version}
