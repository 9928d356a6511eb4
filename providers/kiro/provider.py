"""The Kiro provider: the I/O shell around `translate` (bodies, replies) and `auth` (tokens).

One request: fresh credentials -> `build_payload` -> `POST {api_url}/generateAssistantResponse`
with the IDE's headers -> a 401, or a 403 about the token, refreshes once and replays ->
any other non-200 becomes a router error -> the AWS event-stream body is decoded frame by
frame into `ReplyState`. The response is closed however the stream ends.

Every endpoint is a setting, and so are the request's content type and an `X-Amz-Target`
header: the Kiro host has changed before (`codewhisperer.{region}` -> `q.{region}`), and a
newer client speaks awsJson to `runtime.{region}.kiro.dev` (protocol sheet, "Biggest
uncertainties"), so a change there should need a config edit, not a release.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from providers.kiro.auth import SOCIAL_REFRESH_URL, Credentials, TokenManager
from providers.kiro.eventstream import EventStreamDecoder
from providers.kiro.failures import PROVIDER, SIGN_IN_AGAIN
from providers.kiro.identity import KIRO_VERSION, Identity, install_fingerprint
from providers.kiro.models import Catalogue
from providers.kiro.tokens import (
    DEFAULT_REGION,
    CredentialStore,
    StaticCredentials,
    TokenFile,
    default_token_path,
)
from providers.kiro.translate import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    Payload,
    PayloadOptions,
    ReplyState,
    build_payload,
    error_from_http,
    kiro_model_id,
    refreshable_403,
)
from router.conversation import Request
from router.errors import AuthError, RateLimited, UpstreamTimeout, UpstreamUnavailable
from router.events import Event
from router.provider import CredentialStatus, LoginOptions, ModelInfo, Provider, ProviderContext, Say
from router.transport.body import body_chunks
from router.route import Route
from router.settings import check_field

DEFAULT_API_URL = "https://q.{region}.amazonaws.com"
CHAT_PATH = "/generateAssistantResponse"
MODELS_PATH = "/ListAvailableModels"
USAGE_PATH = "/getUsageLimits"
ORIGIN = "AI_EDITOR"
USAGE_RECHECK = 60.0
"""Seconds before another rate limit triggers another usage check."""
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_URL = re.compile(r"https?://[^\s/]+")


@dataclass(frozen=True, slots=True)
class KiroSettings:
    """The `providers.kiro` section.

    Credentials come from the Kiro IDE's token file unless `access_token`/`refresh_token`
    are given (then `profile_arn`, `region`, `client_id` and `client_secret` describe that
    login). `api_url` and `social_refresh_url` may contain `{region}`.
    """

    api_url: str = DEFAULT_API_URL
    api_region: str | None = None
    chat_path: str = CHAT_PATH
    content_type: str = "application/json"
    target: str | None = None
    social_refresh_url: str = SOCIAL_REFRESH_URL
    oidc_endpoint_url: str | None = None
    token_file: Path | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    profile_arn: str | None = None
    region: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    thinking_mode: Literal["tags", "native", "off"] = "tags"
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES
    models_ttl: float = 3600.0
    kiro_version: str = KIRO_VERSION
    model_map: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("api_url", "social_refresh_url", "oidc_endpoint_url"):
            value = getattr(self, name)
            check_field(value is None or bool(_URL.match(value)), name, "must be an http(s) URL")
        for name in ("api_region", "region"):
            value = getattr(self, name)
            check_field(
                value is None or bool(_REGION.fullmatch(value)), name, "must be an AWS region like us-east-1"
            )
        check_field(self.chat_path.startswith("/"), "chat_path", "must start with /")
        check_field(bool(self.content_type.strip()), "content_type", "must not be empty")
        check_field(
            self.target is None or bool(self.target.strip()), "target", "must not be empty (omit it instead)"
        )
        check_field(self.max_payload_bytes > 0, "max_payload_bytes", "must be greater than 0")
        check_field(self.models_ttl > 0, "models_ttl", "must be greater than 0")
        check_field(
            bool(re.fullmatch(r"[0-9A-Za-z.+-]+", self.kiro_version)), "kiro_version", "must be a version"
        )
        for key, value in self.model_map.items():
            check_field(bool(key.strip() and value.strip()), "model_map", "names must not be empty")
        static = bool(self.access_token or self.refresh_token)
        for name in ("profile_arn", "region", "client_id", "client_secret"):
            check_field(
                static or getattr(self, name) is None,
                name,
                "only applies to tokens given here (access_token/refresh_token)",
            )
        check_field(
            not (static and self.token_file),
            "token_file",
            "give either token_file or access_token/refresh_token, not both",
        )
        check_field(
            bool(self.client_id) == bool(self.client_secret),
            "client_secret",
            "client_id and client_secret go together (an IAM Identity Center login)",
        )


def credential_store(settings: KiroSettings) -> CredentialStore:
    """Tokens from the config when given, else the Kiro IDE's token file."""
    if settings.access_token or settings.refresh_token:
        return StaticCredentials(
            access_token=settings.access_token or "",
            refresh_token=settings.refresh_token or "",
            region=settings.region or DEFAULT_REGION,
            profile_arn=settings.profile_arn,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
        )
    return TokenFile(settings.token_file or default_token_path())


@dataclass(frozen=True, slots=True)
class UsageLimits:
    """What getUsageLimits says about the plan, reduced to one line for `router status`."""

    summary: str
    fetched_at: float


class KiroProvider(Provider[KiroSettings]):
    """Kiro (Amazon Q Developer) through the Kiro IDE's login."""

    name = "kiro"
    Settings = KiroSettings

    def __init__(self, settings: KiroSettings, context: ProviderContext) -> None:
        super().__init__(settings, context)
        self.identity = Identity(settings.kiro_version, install_fingerprint(context.state_dir, self.log))
        self.tokens = TokenManager(
            credential_store(settings),
            context.http,
            refresh_url=settings.social_refresh_url,
            oidc_endpoint_url=settings.oidc_endpoint_url,
            headers=self.identity.refresh_headers(),
            logger=self.log,
        )
        self.catalogue = Catalogue(self._fetch_models, settings.models_ttl)
        self.usage: UsageLimits | None = None
        self._background: set[asyncio.Task[Any]] = set()

    # -- the request -----------------------------------------------------------------------

    async def stream(self, request: Request, route: Route) -> AsyncIterator[Event]:
        """One turn on Kiro, as canonical events."""
        try:
            response, state = await self._open(request, route)
            del request  # a reply may stream for minutes; the request (often 100+ KB) need not live that long
            try:
                async for event in self._read(response, state):
                    yield event
            finally:
                await response.aclose()
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
            body = await self._drain(response)
            if response.status_code == 403 and not refreshable_403(body):
                raise error_from_http(
                    403, body, response.headers, model=payload.model_id, large_request=payload.large
                )
            self.log.info("kiro answered %d; refreshing the login once and replaying", response.status_code)
            fresh = await self.tokens.refresh_after_403(credentials)
            if fresh.request_profile_arn != credentials.request_profile_arn:
                payload = self._payload(request, route, payload.model_id, fresh)
            response = await self._post(payload, fresh, attempt=2)
        if response.status_code != 200:
            body = await self._drain(response)
            raise error_from_http(
                response.status_code,
                body,
                response.headers,
                model=payload.model_id,
                large_request=payload.large,
            )
        return response, payload

    async def _post(self, payload: Payload, credentials: Credentials, *, attempt: int) -> httpx.Response:
        headers = self.identity.api_headers(credentials.access_token, attempt=attempt, attempts=2)
        headers["content-type"] = self.settings.content_type
        if self.settings.target:
            headers["x-amz-target"] = self.settings.target
        http = self.context.http
        url = self._url(credentials, self.settings.chat_path)
        try:
            return await http.send(
                http.build_request("POST", url, content=payload.encoded, headers=headers), stream=True
            )
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(
                f"Kiro did not answer in time ({type(exc).__name__})", provider=PROVIDER
            ) from None
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"could not reach Kiro ({type(exc).__name__})", provider=PROVIDER
            ) from None

    @staticmethod
    async def _drain(response: httpx.Response) -> bytes:
        """An error reply's body (empty if even that fails), the response closed either way."""
        try:
            return await response.aread()
        except httpx.HTTPError:
            return b""
        finally:
            await response.aclose()

    async def _read(self, response: httpx.Response, state: ReplyState) -> AsyncIterator[Event]:
        decoder = EventStreamDecoder()
        try:
            async for chunk in body_chunks(response):
                # `feed` decodes lazily: each frame is translated and sent before the next is
                # decoded (first byte sooner), and a chunk's frames are all taken before the
                # next chunk is fed, as the decoder's contract asks.
                for frame in decoder.feed(chunk):
                    for event in state.feed(frame):
                        yield event
        except httpx.TimeoutException:
            raise UpstreamTimeout("Kiro went silent mid-reply", provider=PROVIDER) from None
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"the connection to Kiro broke ({type(exc).__name__})", provider=PROVIDER
            ) from None
        decoder.finish()
        for event in state.finish():
            yield event

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
        """Ask getUsageLimits how much of the plan is used; remembered for `credential_status`.

        Called after Kiro rate-limits a request: free plans that ran out of monthly credits
        are told "Too many requests" (sheet A8), and this says which it is. None when the
        endpoint cannot tell (it is undocumented; any failure is only logged).
        """
        params = {"origin": ORIGIN, "resourceType": "AGENTIC_REQUEST", "isEmailRequired": "true"}
        try:
            document = await self._get(USAGE_PATH, params)
        except Exception as exc:  # noqa: BLE001 -- a usage check must never fail anything
            self.log.debug("kiro usage limits unavailable: %s", type(exc).__name__)
            return None
        summary = describe_usage(document)
        if summary is None:
            return None
        self.usage = UsageLimits(summary, time.time())
        self.log.info("kiro usage: %s", summary)
        return self.usage

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
        raise AuthError(detail, provider=PROVIDER)

    async def logout(self, say: Say) -> None:
        """The login file is the Kiro IDE's: it is left alone (sign out in the IDE)."""
        say(
            f"Left {self.tokens.store.where} in place: it belongs to the Kiro IDE; sign out there. "
            "The router keeps no Kiro login of its own."
        )

    async def aclose(self) -> None:
        """Cancel a usage check still running."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)


def describe_usage(document: Any) -> str | None:
    """`KIRO FREE: 12.5 of 50 credits used, resets 2026-06-01`, from getUsageLimits' answer (sheet A7)."""
    if not isinstance(document, Mapping):
        return None
    entries = [e for e in document.get("usageBreakdownList") or () if isinstance(e, Mapping)]
    entry = next((e for e in entries if e.get("resourceType") == "CREDIT"), entries[0] if entries else None)
    if entry is None:
        return None
    used = entry.get("currentUsageWithPrecision", entry.get("currentUsage"))
    limit = entry.get("usageLimitWithPrecision", entry.get("usageLimit"))
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (used, limit)):
        return None
    unit = str(entry.get("displayNamePlural") or "credits").lower()
    text = f"{used:g} of {limit:g} {unit} used"
    reset = entry.get("nextDateReset", document.get("nextDateReset"))
    if isinstance(reset, (int, float)) and not isinstance(reset, bool) and reset > 0:
        text += f", resets {datetime.fromtimestamp(reset, UTC):%Y-%m-%d}"
    subscription = document.get("subscriptionInfo")
    title = subscription.get("subscriptionTitle") if isinstance(subscription, Mapping) else None
    return f"{title}: {text}" if isinstance(title, str) and title else text
