"""The Kiro provider: the I/O shell around `translate` (bodies, replies) and `auth` (tokens).

One request: fresh credentials -> `build_payload` -> `POST {api_url}/generateAssistantResponse`
with the IDE's headers -> a 401, or a 403 about the token, refreshes once and replays ->
any other non-200 becomes a router error -> the AWS event-stream body is decoded frame by
frame into `ReplyState`, one batch of events per chunk read (the sending, reading and
closing are `router.toolkit.upstream`'s). Every endpoint is a setting (`settings.py`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import aclosing
from functools import partial
from typing import Any

import httpx

from providers.kiro.auth import Credentials, TokenManager
from providers.kiro.eventstream import EventStreamDecoder
from providers.kiro.failures import PROVIDER, SIGN_IN_AGAIN
from providers.kiro.identity import Identity, install_fingerprint
from providers.kiro.models import Catalogue
from providers.kiro.settings import KiroSettings, credential_store
from providers.kiro.tokens import TOKEN_FILE_NAME
from providers.kiro.translate import (
    Payload,
    PayloadOptions,
    ReplyState,
    build_payload,
    error_from_http,
    kiro_model_id,
    refreshable_403,
)
from providers.kiro.usage import UsageLimits, describe_usage, usage_windows
from router.conversation import Request
from router.errors import AuthError, RateLimited
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
from router.toolkit.upstream import Backend, ChunkFeed, ErrorMapping, Finish, accept, drain

__all__ = ["KiroProvider", "KiroSettings"]

MODELS_PATH = "/ListAvailableModels"
USAGE_PATH = "/getUsageLimits"
ORIGIN = "AI_EDITOR"
USAGE_RECHECK = 60.0
"""Seconds before another rate limit triggers another usage check."""


class KiroProvider(Provider[KiroSettings]):
    """Kiro (Amazon Q Developer) through the Kiro IDE's login."""

    name = "kiro"
    Settings = KiroSettings

    def __init__(self, settings: KiroSettings, context: ProviderContext) -> None:
        super().__init__(settings, context)
        self.identity = Identity(settings.kiro_version, install_fingerprint(context.state_dir, self.log))
        # a named account with no login of its own in the config: its token file is in its state folder
        given = settings.token_file or settings.access_token or settings.refresh_token
        self.named = context.account != DEFAULT_ACCOUNT and not given
        self.tokens = TokenManager(
            credential_store(settings, context.state_dir if self.named else None),
            context.http,
            refresh_url=settings.social_refresh_url,
            oidc_endpoint_url=settings.oidc_endpoint_url,
            headers=self.identity.refresh_headers(),
            logger=self.log,
        )
        self.catalogue = Catalogue(self._fetch_models, settings.models_ttl)
        self.backend = Backend(context.http, "Kiro", PROVIDER)
        self.usage: UsageLimits | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # -- the request -----------------------------------------------------------------------

    async def stream(self, request: Request, route: Route) -> AsyncIterator[Batch]:
        """One turn on Kiro, as batches of canonical events (one per chunk of the event-stream body)."""
        try:
            response, state = await self._open(request, route)
            del request  # a reply may stream for minutes; the request (often 100+ KB) need not live that long
            feed, finish = _frame_reader(state)
            async with aclosing(self.backend.chunk_batches(response, feed, finish)) as batches:
                async for batch in batches:
                    yield batch
        except RateLimited:
            self._check_usage_later()
            raise
        for note in state.notes:
            self.log.info("kiro reply: %s", note)

    async def _open(self, request: Request, route: Route) -> tuple[httpx.Response, ReplyState]:
        """Send the turn (refreshing and replaying once if the token was refused); the response and its reader."""
        model_id = self.model_id(route.model)
        credentials = await self.tokens.access()
        payload = self._payload(request, route, model_id, credentials)
        response, payload = await self._send(request, route, payload, credentials)
        known = self.catalogue.peek(model_id)
        return response, payload.reply_state(route, context_window_tokens=known.context_window if known else None)

    def model_id(self, model: str) -> str:
        """Kiro's id for a route's model: `model_map` (by the name, then by its dotted id), else `kiro_model_id`."""
        mapped = self.settings.model_map.get(model)
        if mapped is not None:
            return mapped
        dotted = kiro_model_id(model)
        return self.settings.model_map.get(dotted, dotted)

    def _payload(self, request: Request, route: Route, model_id: str, credentials: Credentials) -> Payload:
        options = PayloadOptions(
            thinking_mode=self.settings.thinking_mode,
            profile_arn=credentials.request_profile_arn,
            max_payload_bytes=self.settings.max_payload_bytes,
            model_id=model_id,
        )
        payload = build_payload(request, route, options=options)
        for note in payload.notes:
            self.log.info("kiro request: %s", note)
        return payload

    async def _send(
        self, request: Request, route: Route, payload: Payload, credentials: Credentials
    ) -> tuple[httpx.Response, Payload]:
        """POST the payload; one refresh and replay after a token refusal; non-200 -> router error."""
        response = await self._post(payload, credentials, attempt=1)
        if response.status_code in (401, 403):
            body = await drain(response)
            if response.status_code == 403 and not refreshable_403(body):
                raise _error(payload)(403, body, response.headers)
            self.log.info("kiro answered %d; refreshing the login once and replaying", response.status_code)
            fresh = await self.tokens.refresh_after_403(credentials)
            if fresh.request_profile_arn != credentials.request_profile_arn:
                payload = self._payload(request, route, payload.model_id, fresh)
            response = await self._post(payload, fresh, attempt=2)
        return await accept(response, _error(payload)), payload

    async def _post(self, payload: Payload, credentials: Credentials, *, attempt: int) -> httpx.Response:
        headers = self.identity.api_headers(credentials.access_token, attempt=attempt, attempts=2)
        headers["content-type"] = self.settings.content_type
        if self.settings.target:
            headers["x-amz-target"] = self.settings.target
        url = self._url(credentials, self.settings.chat_path)
        return await self.backend.send("POST", url, content=payload.encoded, headers=headers)

    def _url(self, credentials: Credentials, path: str) -> str:
        region = self.settings.api_region or credentials.api_region
        return self.settings.api_url.replace("{region}", region).rstrip("/") + path

    # -- models ----------------------------------------------------------------------------

    async def list_models(self) -> Sequence[ModelInfo]:
        """ListAvailableModels for this account (cached for `models_ttl`), else the built-in list."""
        return await self.catalogue.all()

    async def _fetch_models(self, next_token: str | None) -> Any:
        params = {"origin": ORIGIN}
        if next_token is not None:
            params["nextToken"] = next_token
        return await self._get(MODELS_PATH, params)

    async def _get(self, path: str, params: dict[str, str]) -> Any:
        """A JSON GET on the API host (model list, usage limits); raises on anything but 200."""
        credentials = await self.tokens.access()
        if credentials.request_profile_arn:
            params["profileArn"] = credentials.request_profile_arn
        headers = {
            **self.identity.api_headers(credentials.access_token, runtime=True),
            "accept": "application/json",
        }
        response = await self.context.http.get(
            self._url(credentials, path), params=params, headers=headers, timeout=10.0
        )
        response.raise_for_status()
        return response.json()

    # -- status, usage, login ----------------------------------------------------------------

    def credential_status(self) -> CredentialStatus:
        """Login kind, region, token expiry and file, never a token; plus the last known usage limits."""
        status = self.tokens.status()
        if self.usage is None:
            return status
        return dataclasses.replace(status, detail=f"{status.detail}; {self.usage.summary}")

    async def usage_limits(self) -> UsageLimits | None:
        """Ask getUsageLimits how much of the plan is used; remembered for `credential_status`,
        and reported to the router as the account's quota window (`ProviderContext.report_quota`).

        Called after Kiro rate-limits a request: free plans that ran out of monthly credits
        are told "Too many requests" (sheet A8), and this says which it is, and until when.
        None when the endpoint cannot tell (it is undocumented; any failure is only logged).
        """
        params = {"origin": ORIGIN, "resourceType": "AGENTIC_REQUEST", "isEmailRequired": "true"}
        try:
            document = await self._get(USAGE_PATH, params)
        except Exception as exc:  # noqa: BLE001 -- a usage check must never fail anything
            self.log.debug("kiro usage limits unavailable: %s", type(exc).__name__)
            return None
        self._report_quota(document)
        summary = describe_usage(document)
        if summary is None:
            return None
        self.usage = UsageLimits(summary, time.time())
        self.log.info("kiro usage: %s", summary)
        return self.usage

    def _report_quota(self, document: Any) -> None:
        """Hand the plan's credits to the router (whose sink never raises)."""
        windows = usage_windows(document)
        if windows:
            self.context.report_quota(windows)

    async def usage_report(self) -> str | None:
        """For `router status`: the plan's usage from getUsageLimits, when Kiro answers it."""
        limits = await self.usage_limits()
        return limits.summary if limits else None

    def _check_usage_later(self) -> None:
        """Start a usage check in the background, unless one runs or one finished in the last minute."""
        recent = self.usage is not None and time.time() - self.usage.fetched_at < USAGE_RECHECK
        if self._background or recent:
            return
        task = asyncio.get_running_loop().create_task(self.usage_limits())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def login(self, options: LoginOptions, say: Say) -> None:
        """Kiro logins belong to the Kiro IDE: point there, and say what the router can read."""
        if options.import_from is not None:
            raise AuthError(
                f"cannot import a Kiro login from '{options.import_from}'; the router reads the "
                f"Kiro IDE's login file ({self.tokens.store.where}) directly",
                provider=PROVIDER,
            )
        status = self.tokens.status()
        if status.ok:
            say(f"Using the Kiro login: {status.detail}. To switch accounts, sign in again in the Kiro IDE.")
            return
        detail = status.detail if SIGN_IN_AGAIN in status.detail else f"{status.detail} {SIGN_IN_AGAIN}"
        if self.named:
            detail += (
                f" For the account '{self.context.account}', sign in to it in the Kiro IDE, copy the IDE's "
                f"{TOKEN_FILE_NAME} (and, for an IAM Identity Center login, the <clientIdHash>.json beside it) "
                f"to {self.tokens.store.where}, then sign the IDE back in to its own account; or set "
                "token_file for this account."
            )
        raise AuthError(detail, provider=PROVIDER)

    async def logout(self, say: Say) -> None:
        """The login file is the Kiro IDE's: it is left alone (sign out in the IDE)."""
        if self.named:
            say(f"Left {self.tokens.store.where} in place; delete it to forget the account's Kiro login.")
            return
        say(
            f"Left {self.tokens.store.where} in place: it belongs to the Kiro IDE; sign out there. "
            "The router keeps no Kiro login of its own."
        )

    async def aclose(self) -> None:
        """Cancel a usage check still running."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)


def _frame_reader(state: ReplyState) -> tuple[ChunkFeed, Finish]:
    """`state` fed from the raw body: each chunk's complete event-stream frames, in order."""
    decoder = EventStreamDecoder()

    def feed(chunk: bytes) -> Iterator[Event]:  # frame by frame: an error frame comes after the text before it
        for frame in decoder.feed(chunk):
            yield from state.feed(frame)

    def finish() -> list[Event]:
        decoder.finish()
        return state.finish()

    return feed, finish


def _error(payload: Payload) -> ErrorMapping:
    """How a refusal of `payload` reads: a bare 400 on a large request is an overflow."""
    return partial(error_from_http, model=payload.model_id, large_request=payload.large)
