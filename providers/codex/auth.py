"""ChatGPT OAuth for the Codex backend: constants, and the token manager the provider calls.

The provider asks `TokenManager.access()` for credentials before each request and, when the
backend answers 401, `TokenManager.refresh_after_401(stale)` for a replay. The manager keeps
the login in `auth.json` fresh without fighting the Codex CLI over it: refresh tokens rotate
and are single-use, so two programs refreshing the same login would lock each other out
(`refresh_token_reused`). Hence one refresh at a time, a re-read of the file right before
refreshing (adopting tokens another program already rotated), and no retry of a refresh the
authority refused for good. The file part lives in `tokens.py`, interactive logins in `login.py`.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from providers.codex.tokens import (
    PROVIDER,
    AuthFile,
    Identity,
    TokenSet,
    default_auth_path,
    default_opencode_path,
)
from router.errors import AuthError, ProviderError, UpstreamUnavailable
from router.provider import CredentialStatus

# OAuth constants, per the Codex CLI's public source (openai/codex, codex-rs/login: server.rs,
# auth/manager.rs, device_code_auth.rs). The router signs in as that public client.
ISSUER = "https://auth.openai.com"
CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
TOKEN_URL = f"{ISSUER}/oauth/token"
AUTHORIZE_PATH = "/oauth/authorize"
CALLBACK_PORT = 1455  # the registered redirect port
FALLBACK_CALLBACK_PORT = 1457  # the registered fallback when 1455 is busy
CALLBACK_PATH = "/auth/callback"
SCOPES = "openid profile email offline_access api.connectors.read api.connectors.invoke"
ORIGINATOR = "codex_cli_rs"
DEVICE_USERCODE_PATH = "/api/accounts/deviceauth/usercode"
DEVICE_TOKEN_PATH = "/api/accounts/deviceauth/token"
DEVICE_VERIFY_PATH = "/codex/device"
DEVICE_REDIRECT_PATH = "/deviceauth/callback"
DEVICE_CODE_LIFETIME = 15 * 60.0
REFRESH_INTERVAL = 8 * 24 * 3600.0  # refresh exp-less access tokens this long after the last refresh

LOGIN_AGAIN = "Log in again with `router login codex` (or `codex login`)."
_PERMANENT = {
    "refresh_token_expired": "has expired",
    "refresh_token_reused": "was already used (another program sharing this login refreshed it first)",
    "refresh_token_invalidated": "was revoked (for example by a logout or a password change)",
    "invalid_grant": "is no longer valid",
}

__all__ = [
    "CLIENT_ID",
    "ISSUER",
    "TOKEN_URL",
    "AuthFile",
    "AuthStatus",
    "Credentials",
    "TokenManager",
    "default_auth_path",
    "default_opencode_path",
]


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a backend request needs: the bearer token and the `chatgpt-account-id` header value."""

    access_token: str = field(repr=False)
    account_id: str | None


@dataclass(frozen=True, slots=True)
class AuthStatus(CredentialStatus):
    """`CredentialStatus` plus the details `router status` shows; never a token."""

    path: str = ""
    email: str | None = None
    plan: str | None = None
    expires_at: float | None = None


def oauth_error(body: Any) -> tuple[str | None, str | None]:
    """(code, description) of an OAuth error body, in either shape the endpoint uses."""
    if not isinstance(body, dict):
        return None, None
    error = body.get("error")
    if isinstance(error, dict):
        code, text = error.get("code") or error.get("type"), error.get("message")
    else:
        code, text = error if error is not None else body.get("code"), body.get("error_description")
    code = code[:80] if isinstance(code, str) else None
    return code, text[:300] if isinstance(text, str) else None


def classify_refresh_failure(status: int, body: Any, where: str) -> ProviderError:
    """A refused refresh as the router reports it: permanent `AuthError` or transient `UpstreamUnavailable`.

    Permanent means the refresh token can never work again (the known codes, or any 401):
    the user must log in again. Anything else may pass, so it is retryable.
    """
    code, _ = oauth_error(body)
    reason = _PERMANENT.get(code or "")
    if reason is None and status == 401:
        reason = "was refused by OpenAI"
    if reason is not None:
        return AuthError(
            f"The ChatGPT login in {where} can no longer be refreshed: its refresh token {reason}. {LOGIN_AGAIN}",
            provider=PROVIDER,
            status=status,
        )
    detail = f" ({code})" if code else ""
    return UpstreamUnavailable(
        f"Refreshing the ChatGPT login failed with HTTP {status}{detail}; it will be retried.",
        provider=PROVIDER,
        status=status,
    )


def json_body(response: httpx.Response) -> Any:
    """The response's JSON, or None when the body is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None


async def post(http: httpx.AsyncClient, url: str, headers: Mapping[str, str], **body: Any) -> httpx.Response:
    """POST to the auth server; transport failures become `UpstreamUnavailable` (no httpx error escapes)."""
    try:
        return await http.post(url, headers=dict(headers), **body)
    except httpx.HTTPError as exc:
        raise UpstreamUnavailable(
            f"Could not reach the OpenAI auth server at {url} ({type(exc).__name__}).", provider=PROVIDER
        ) from exc


async def exchange_code(
    http: httpx.AsyncClient,
    token_url: str,
    *,
    client_id: str,
    code: str,
    verifier: str,
    redirect_uri: str,
    headers: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Trade an authorization code for the id, access and refresh tokens (form-encoded, as the CLI does)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
        "code_verifier": verifier,
    }
    response = await post(http, token_url, headers or {}, data=form)
    body = json_body(response)
    if response.status_code != 200:
        code_name, text = oauth_error(body)
        detail = ": ".join(part for part in (code_name, text) if part) or "no details"
        failure = UpstreamUnavailable if response.status_code >= 500 else AuthError
        raise failure(
            f"The sign-in could not be completed (HTTP {response.status_code}, {detail}).", provider=PROVIDER
        )
    names = ("id_token", "access_token", "refresh_token")
    if not isinstance(body, dict) or not all(
        isinstance(body.get(name), str) and body[name] for name in names
    ):
        raise AuthError("The sign-in server answered without the expected tokens.", provider=PROVIDER)
    return {name: body[name] for name in names}


def _credentials(tokens: TokenSet) -> Credentials:
    return Credentials(tokens.access_token, tokens.identity.account_id)


class TokenManager:
    """Hands out fresh ChatGPT credentials from an `AuthFile`, refreshing them when due.

    One manager per login file; it is safe to share between concurrent requests.
    `headers` are added to refresh requests (the provider's client identity headers).
    """

    def __init__(
        self,
        auth_file: AuthFile,
        http: httpx.AsyncClient,
        token_url: str = TOKEN_URL,
        client_id: str = CLIENT_ID,
        *,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
        headers: Mapping[str, str] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.auth_file = auth_file
        self._http = http
        self._token_url = token_url
        self._client_id = client_id
        self._margin = refresh_margin
        self._clock = clock
        self._headers = dict(headers or {})
        self._log = logger or logging.getLogger(__name__)
        self._tokens: TokenSet | None = None
        self._lock = asyncio.Lock()
        self._attempts = 0
        self._background: set[asyncio.Task[TokenSet]] = set()
        self._last_error: ProviderError | None = None
        self._dead: tuple[str, AuthError] | None = None

    async def access(self) -> Credentials:
        """Credentials for the next request, refreshed first when the access token is (nearly) due.

        If a refresh fails while the current access token is still valid (it is only within
        the margin), that token is handed out anyway: a flaky or refusing token endpoint
        should not fail requests a few minutes early.
        """
        tokens = self._current()
        if self._fresh(tokens):
            return _credentials(tokens)
        try:
            return _credentials(await self._rotate(self._fresh))
        except ProviderError:
            latest = self._current()
            if self._unexpired(latest):
                self._log.warning(
                    "ChatGPT token refresh failed; using the current access token until it expires"
                )
                return _credentials(latest)
            raise

    async def refresh_after_401(self, stale: Credentials) -> Credentials:
        """New credentials after the backend refused `stale` with 401, for one replay.

        Refreshes at most once: if another task or program already rotated the tokens,
        those are returned without a network call. Raises `AuthError` when the login is dead.
        """
        tokens = await self._rotate(lambda current: current.access_token != stale.access_token)
        return _credentials(tokens)

    def status(self) -> AuthStatus:
        """A local, secret-free summary of the login for the banner and `router status`."""
        where = str(self.auth_file.path)
        try:
            tokens = self._current()
        except AuthError as err:
            return AuthStatus(False, err.message, path=where)
        who = tokens.identity
        if self._dead is not None and self._dead[0] == tokens.refresh_token:
            ok, detail = False, self._dead[1].message
        else:
            ok, detail = True, describe_login(who, tokens, where, self._clock())
        return AuthStatus(ok, detail, path=where, email=who.email, plan=who.plan, expires_at=who.expires_at)

    def _current(self) -> TokenSet:
        if self._tokens is None:
            self._tokens = self.auth_file.load()
        return self._tokens

    def _fresh(self, tokens: TokenSet) -> bool:
        now = self._clock()
        expires_at = tokens.expires_at
        if expires_at is not None:
            return expires_at - now > self._margin
        return tokens.last_refresh is not None and now - tokens.last_refresh < REFRESH_INTERVAL

    def _unexpired(self, tokens: TokenSet) -> bool:
        expires_at = tokens.expires_at
        return expires_at is not None and expires_at > self._clock()

    async def _rotate(self, good: Callable[[TokenSet], bool]) -> TokenSet:
        """Tokens satisfying `good`: already in memory, rotated on disk by someone else, or refreshed.

        Runs shielded from the caller's cancellation: a request abandoned mid-refresh must not
        lose tokens the authority has already rotated (the old refresh token is spent by then).
        """
        task = asyncio.ensure_future(self._rotate_locked(good, self._attempts))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return await asyncio.shield(task)

    async def _rotate_locked(self, good: Callable[[TokenSet], bool], ticket: int) -> TokenSet:
        """Single flight: callers queue on the lock; one that waited through a failed attempt
        gets that attempt's error instead of trying again at once."""
        async with self._lock:
            if self._attempts != ticket and self._last_error is not None:
                raise copy.copy(self._last_error)
            current = self._current()
            if good(current):
                return current
            on_disk = self.auth_file.load()
            if not on_disk.same_tokens(current):
                self._log.info("Adopted ChatGPT tokens rotated by another program in %s", self.auth_file.path)
                self._tokens = on_disk
                if good(on_disk):
                    return on_disk
            self._raise_if_dead(on_disk)
            return await self._attempt(on_disk)

    def _raise_if_dead(self, tokens: TokenSet) -> None:
        if self._dead is None:
            return
        if self._dead[0] == tokens.refresh_token:
            raise copy.copy(self._dead[1])
        self._dead = None

    async def _attempt(self, tokens: TokenSet) -> TokenSet:
        """One refresh of `tokens`; permanent failures are remembered against their refresh token."""
        self._last_error = None
        try:
            fields = await self._request(tokens.refresh_token)
        except AuthError as err:
            self._dead, self._last_error = (tokens.refresh_token, err), err
            raise
        except ProviderError as err:
            self._last_error = err
            raise
        finally:
            self._attempts += 1  # counts finished attempts: callers that queued before see a change
        self._last_error = None
        self._tokens = tokens.rotated(fields, self._clock())
        self._save(fields, self._tokens)
        return self._tokens

    async def _request(self, refresh_token: str) -> dict[str, str]:
        """POST the refresh grant; the returned token fields, or a router error.

        JSON body, as the current Codex CLI sends it (the endpoint also takes a form body):
        traffic shaped like the client whose id the router uses is least likely to be refused.
        """
        where = str(self.auth_file.path)
        if not refresh_token:
            raise AuthError(
                f"The ChatGPT login in {where} has no refresh token. {LOGIN_AGAIN}", provider=PROVIDER
            )
        body = {"client_id": self._client_id, "grant_type": "refresh_token", "refresh_token": refresh_token}
        response = await post(self._http, self._token_url, self._headers, json=body)
        payload = json_body(response)
        if response.status_code != 200:
            raise classify_refresh_failure(response.status_code, payload, where)
        if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str):
            raise UpstreamUnavailable(
                "The OpenAI token endpoint answered without an access token.", provider=PROVIDER
            )
        return {
            name: value
            for name in ("id_token", "access_token", "refresh_token")
            if (value := payload.get(name))
        }

    def _save(self, fields: Mapping[str, str], tokens: TokenSet) -> None:
        """Persist a rotation; if the file cannot be written, keep serving from memory and say so."""
        try:
            self.auth_file.save_rotation(fields, account_id=tokens.account_id, now=self._clock())
        except AuthError as err:
            self._log.warning("%s The refreshed tokens are kept in memory only.", err.message)
            return
        self._log.info("Refreshed the ChatGPT login in %s", self.auth_file.path)


def describe_login(who: Identity, tokens: TokenSet, where: str, now: float) -> str:
    """One line about a login: account, plan, access-token expiry (relative and absolute), file."""
    account = who.email or "unknown account"
    if who.plan:
        account += f" ({who.plan} plan)"
    expires_at = who.expires_at
    if expires_at is None:
        last = tokens.last_refresh
        timing = f"last refreshed {_relative(last - now)}" if last is not None else "never refreshed"
    elif expires_at > now:
        timing = f"access token expires {_relative(expires_at - now)} ({_absolute(expires_at)})"
    else:
        timing = f"access token expired {_relative(expires_at - now)} ({_absolute(expires_at)}), refreshed on next use"
    return f"ChatGPT login {account}; {timing}; {where}"


def _relative(seconds: float) -> str:
    """`in 4 h 12 min` or `3 min ago`."""
    span = abs(int(seconds))
    days, rest = divmod(span, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes and not days else []
    text = " ".join(parts) or "less than a minute"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


def _absolute(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M UTC")
