"""ChatGPT OAuth for the Codex backend: constants, and the token manager the provider calls.

The provider asks `TokenManager.access()` for credentials before each request and, when the
backend answers 401, `TokenManager.refresh_after_401(stale)` for a replay. The manager keeps
the login in `auth.json` fresh without fighting the Codex CLI over it: refresh tokens rotate
and are single-use, so two programs refreshing the same login would lock each other out
(`refresh_token_reused`). Hence one refresh at a time (across routers too: the file's sidecar
lock), a re-read of the file right before refreshing (adopting tokens another program already
rotated), and no retry of a refresh the authority refused for good. The file part lives in
`tokens.py`, interactive logins in `login.py`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
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
from router.provider import DEFAULT_ACCOUNT, CredentialStatus
from router.toolkit.clock import relative_time, token_expiry
from router.toolkit.refresh import SingleFlightRefresh

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


def login_again(account: str = DEFAULT_ACCOUNT) -> str:
    """How to sign in again: a named account with `--account`, the Codex CLI's login either way."""
    if account == DEFAULT_ACCOUNT:
        return LOGIN_AGAIN
    return f"Log in again with `router login codex --account {account}`."
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


def classify_refresh_failure(status: int, body: Any, where: str, again: str = LOGIN_AGAIN) -> ProviderError:
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
            f"The ChatGPT login in {where} can no longer be refreshed: its refresh token {reason}. {again}",
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


AUTH_TIMEOUT = 30.0
"""Seconds an auth-server call may take: the shared client allows a long reply's 600 s, but a
refresh holds the login file's cross-process lock, which other routers wait on."""


async def post(http: httpx.AsyncClient, url: str, headers: Mapping[str, str], **body: Any) -> httpx.Response:
    """POST to the auth server; transport failures become `UpstreamUnavailable` (no httpx error escapes)."""
    try:
        return await http.post(url, headers=dict(headers), timeout=AUTH_TIMEOUT, **body)
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


class TokenManager(SingleFlightRefresh[TokenSet]):
    """Hands out fresh ChatGPT credentials from an `AuthFile`, refreshing them when due.

    One manager per login file; it is safe to share between concurrent requests (the
    single-flight rules are `router.toolkit.refresh`'s). `headers` are added to refresh requests
    (the provider's client identity headers).
    """

    what = "ChatGPT"

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
        super().__init__(refresh_margin=refresh_margin, clock=clock, logger=logger or logging.getLogger(__name__))
        self.auth_file = auth_file
        self._http = http
        self._token_url = token_url
        self._client_id = client_id
        self._headers = dict(headers or {})

    async def access(self) -> Credentials:
        """Credentials for the next request, refreshed first when the access token is (nearly) due."""
        return _credentials(await self.fresh_login())

    async def refresh_after_401(self, stale: Credentials) -> Credentials:
        """New credentials after the backend refused `stale` with 401, for one replay."""
        return _credentials(await self.replacing(stale.access_token))

    def status(self) -> AuthStatus:
        """A local, secret-free summary of the login for the banner and `router status`."""
        where = self.where
        try:
            tokens = self.current()
        except AuthError as err:
            return AuthStatus(False, err.message, path=where)
        who = tokens.identity
        dead = self.dead_reason(tokens)
        if dead is not None:
            ok, detail = False, dead.message
        else:
            ok, detail = True, describe_login(who, tokens, where, self._clock())
        return AuthStatus(ok, detail, path=where, email=who.email, plan=who.plan, expires_at=who.expires_at)

    # -- the hooks of `SingleFlightRefresh` -----------------------------------------------------

    def load(self) -> TokenSet:
        """The login in the auth file, read now."""
        return self.auth_file.load()

    @property
    def where(self) -> str:
        """The auth file's path."""
        return str(self.auth_file.path)

    @property
    def shared_file(self) -> Path:
        """The auth file: another router on the same login refreshes under the same lock."""
        return self.auth_file.path

    def fresh(self, tokens: TokenSet) -> bool:
        """More than the margin left; an access token without expiry is refreshed 8 days after the last refresh."""
        now = self._clock()
        expires_at = tokens.expires_at
        if expires_at is not None:
            return expires_at - now > self._margin
        return tokens.last_refresh is not None and now - tokens.last_refresh < REFRESH_INTERVAL

    async def refresh(self, tokens: TokenSet) -> TokenSet:
        """One refresh grant at the token endpoint; the rotated tokens are written back to the file."""
        fields = await self._request(tokens.refresh_token)
        rotated = tokens.rotated(fields, self._clock())
        self._save(fields, rotated)
        return rotated

    async def _request(self, refresh_token: str) -> dict[str, str]:
        """POST the refresh grant; the returned token fields, or a router error.

        JSON body, as the current Codex CLI sends it (the endpoint also takes a form body):
        traffic shaped like the client whose id the router uses is least likely to be refused.
        """
        where = str(self.auth_file.path)
        if not refresh_token:
            raise AuthError(
                f"The ChatGPT login in {where} has no refresh token. {login_again(self.auth_file.account)}",
                provider=PROVIDER,
            )
        body = {"client_id": self._client_id, "grant_type": "refresh_token", "refresh_token": refresh_token}
        response = await post(self._http, self._token_url, self._headers, json=body)
        payload = json_body(response)
        if response.status_code != 200:
            raise classify_refresh_failure(response.status_code, payload, where, login_again(self.auth_file.account))
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
    if who.expires_at is not None:
        timing = token_expiry(who.expires_at, now)
    elif tokens.last_refresh is not None:
        timing = f"last refreshed {relative_time(tokens.last_refresh - now)}"
    else:
        timing = "never refreshed"
    return f"ChatGPT login {account}; {timing}; {where}"
