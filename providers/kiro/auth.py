"""Kiro credentials for the provider: fresh access tokens from the IDE's login, refreshed when due.

The provider asks `TokenManager.access()` before each request and, when Kiro answers 403
(its way of saying the token expired; see `failures.refreshable_403`),
`TokenManager.refresh_after_403(stale)` for one replay. Refreshes (protocol sheet A2):

- social (Kiro desktop) logins: `POST https://prod.{region}.auth.desktop.kiro.dev/refreshToken`
  with `{"refreshToken": …}`; a 400/401/403 means the refresh token is dead;
- IdC logins: SSO-OIDC `CreateToken` (grant `refresh_token`) through boto3's unsigned
  `sso-oidc` client, run in a thread (boto3 blocks); `InvalidGrantException` and kin mean
  the refresh token is dead, and an expired client registration is refused before asking.

A dead login is an `AuthError` telling the user to sign in to Kiro again. Refresh happens
`refresh_margin` seconds (600, as JWG and C2C do) before expiry, one at a time (an
`asyncio.Lock`, waiters reusing the result, and the token file's sidecar lock against other
routers on the same file), after re-reading the store: when the IDE has
already rotated the tokens they are adopted with no network call, because refreshing the
same refresh token twice would invalidate the IDE's copy. Rotations are written back by the
store. No httpx or botocore exception leaves this module.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from providers.kiro.failures import PROVIDER, SIGN_IN_AGAIN
from providers.kiro.tokens import CredentialStore, KiroLogin, LoginKind
from router.errors import AuthError, ProviderError, UpstreamUnavailable
from router.provider import CredentialStatus
from router.toolkit.clock import token_expiry, utc_time
from router.toolkit.refresh import SingleFlightRefresh

SOCIAL_REFRESH_URL = "https://prod.{region}.auth.desktop.kiro.dev/refreshToken"
"""Kiro's desktop refresh endpoint; `{region}` is the login's region."""
REFRESH_MARGIN = 600.0
DEFAULT_EXPIRES_IN = 3600.0
"""Lifetime assumed when a refresh reply gives no `expiresIn` (JWG's default)."""
API_REGION = "us-east-1"
_DEAD_GRANTS = frozenset(
    {
        "InvalidGrantException",
        "ExpiredTokenException",
        "InvalidClientException",
        "UnauthorizedClientException",
        "AccessDeniedException",
    }
)

OidcClientFactory = Callable[[str, "str | None"], Any]
"""Builds an `sso-oidc` client for (region, endpoint_url); tests pass one with a Stubber attached."""


def default_oidc_client(region: str, endpoint_url: str | None) -> Any:
    """boto3's `sso-oidc` client, unsigned: `CreateToken` needs no AWS credentials (botocore does the same)."""
    import boto3  # type: ignore[import-untyped]
    from botocore import UNSIGNED  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    config = Config(
        signature_version=UNSIGNED, connect_timeout=10, read_timeout=30, retries={"max_attempts": 2}
    )
    return boto3.session.Session().client(
        "sso-oidc", region_name=region, endpoint_url=endpoint_url, config=config
    )


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a Kiro request needs: the bearer token, and the login's kind, region and profile."""

    access_token: str = field(repr=False)
    kind: LoginKind
    region: str
    profile_arn: str | None

    @property
    def request_profile_arn(self) -> str | None:
        """The `profileArn` to put in request bodies: social logins only, as C2C and JWG do."""
        return self.profile_arn if self.kind == "social" else None

    @property
    def api_region(self) -> str:
        """The chat API's region: the profile ARN's (`arn:aws:codewhisperer:<region>:…`), else us-east-1."""
        parts = (self.profile_arn or "").split(":")
        return parts[3] if len(parts) > 4 and parts[0] == "arn" and parts[3] else API_REGION


@dataclass(frozen=True, slots=True)
class AuthStatus(CredentialStatus):
    """`CredentialStatus` plus what `router status` shows; never a token."""

    path: str = ""
    kind: str | None = None
    region: str | None = None
    expires_at: float | None = None


@dataclass(frozen=True, slots=True)
class _Rotation:
    access_token: str
    refresh_token: str | None
    expires_in: float
    profile_arn: str | None = None


def _credentials(login: KiroLogin) -> Credentials:
    return Credentials(login.access_token, login.kind, login.region, login.profile_arn)


class TokenManager(SingleFlightRefresh[KiroLogin]):
    """Hands out fresh Kiro credentials from a `CredentialStore`; safe to share between requests.

    The single-flight rules (one refresh at a time, adopt tokens the IDE rotated, remember dead
    refresh tokens) are `router.toolkit.refresh`'s; this class says how Kiro logins refresh.
    """

    what = "Kiro"

    def __init__(
        self,
        store: CredentialStore,
        http: httpx.AsyncClient,
        *,
        refresh_url: str = SOCIAL_REFRESH_URL,
        oidc_endpoint_url: str | None = None,
        oidc_client_factory: OidcClientFactory = default_oidc_client,
        refresh_margin: float = REFRESH_MARGIN,
        clock: Callable[[], float] = time.time,
        headers: Mapping[str, str] | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        super().__init__(refresh_margin=refresh_margin, clock=clock, logger=logger or logging.getLogger(__name__))
        self.store = store
        self._http = http
        self._refresh_url = refresh_url
        self._oidc_endpoint_url = oidc_endpoint_url
        self._oidc_client_factory = oidc_client_factory
        self._headers = dict(headers or {})

    async def access(self) -> Credentials:
        """Credentials for the next request, refreshed first when they expire within the margin."""
        return _credentials(await self.fresh_login())

    async def refresh_after_403(self, stale: Credentials) -> Credentials:
        """New credentials after Kiro refused `stale` with 403, for one replay."""
        return _credentials(await self.replacing(stale.access_token))

    def status(self) -> AuthStatus:
        """A local, secret-free summary for the banner and `router status`."""
        where = self.where
        try:
            login = self.current()
        except AuthError as err:
            return AuthStatus(False, err.message, path=where)
        ok, detail = True, describe_login(login, where, self._clock())
        problem = self._registration_problem(login)
        dead = self.dead_reason(login)
        if problem is not None:
            ok, detail = False, problem
        elif dead is not None:
            ok, detail = False, dead.message
        return AuthStatus(
            ok, detail, path=where, kind=login.kind, region=login.region, expires_at=login.expires_at
        )

    # -- the hooks of `SingleFlightRefresh` -----------------------------------------------------

    def load(self) -> KiroLogin:
        """The login in the store, read now."""
        return self.store.load()

    @property
    def where(self) -> str:
        """Where the store keeps the login."""
        return self.store.where

    @property
    def shared_file(self) -> Path | None:
        """The IDE's token file (another router on it refreshes under the same lock); None for config tokens."""
        return self.store.shared_file

    async def refresh(self, login: KiroLogin) -> KiroLogin:
        """One refresh (IdC through SSO-OIDC, social through Kiro's endpoint); the rotation is stored."""
        rotation = await (self._refresh_idc(login) if login.kind == "idc" else self._refresh_social(login))
        rotated = login.rotated(
            rotation.access_token, rotation.refresh_token, self._clock() + rotation.expires_in, rotation.profile_arn
        )
        self._save(rotated)
        return rotated

    def _save(self, login: KiroLogin) -> None:
        """Persist a rotation; if that fails, keep serving from memory and say so."""
        try:
            self.store.save_rotation(login)
        except AuthError as err:
            self._log.warning("%s The refreshed Kiro tokens are kept in memory only.", err.message)
            return
        self._log.info("Refreshed the Kiro login in %s", self.store.where)

    # -- the two refresh flows -----------------------------------------------------------------

    def _dead_login(self, why: str, status: int | None = None) -> AuthError:
        return AuthError(
            f"The Kiro login in {self.store.where} can no longer be refreshed: {why}. {SIGN_IN_AGAIN}",
            provider=PROVIDER,
            status=status,
        )

    async def _refresh_social(self, login: KiroLogin) -> _Rotation:
        """Kiro's desktop refresh endpoint (plain HTTP: it is not an AWS service)."""
        if not login.refresh_token:
            raise self._dead_login("it has no refresh token")
        url = self._refresh_url.format(region=login.region)
        try:
            response = await self._http.post(
                url, json={"refreshToken": login.refresh_token}, headers=self._headers, timeout=30.0
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(
                f"Could not reach Kiro's token endpoint ({type(exc).__name__}); the refresh will be retried.",
                provider=PROVIDER,
            ) from None
        if response.status_code in (400, 401, 403):
            raise self._dead_login(
                f"Kiro refused the refresh token (HTTP {response.status_code})", response.status_code
            )
        body = _json(response)
        if response.status_code != 200 or not isinstance(body.get("accessToken"), str):
            raise UpstreamUnavailable(
                f"Refreshing the Kiro login failed (HTTP {response.status_code}); it will be retried.",
                provider=PROVIDER,
                status=response.status_code,
            )
        return _rotation(body)

    async def _refresh_idc(self, login: KiroLogin) -> _Rotation:
        """SSO-OIDC `CreateToken` through boto3, in a thread; botocore errors become router errors."""
        problem = self._registration_problem(login)
        if problem is not None:
            raise AuthError(problem, provider=PROVIDER)
        if not login.refresh_token:
            raise self._dead_login("it has no refresh token")
        try:
            reply = await asyncio.to_thread(self._create_token, login)
        except ClientError as exc:
            raise self._oidc_failure(exc) from None
        except ImportError:
            raise AuthError(
                "Refreshing an IAM Identity Center Kiro login needs boto3 (pip install boto3).",
                provider=PROVIDER,
            ) from None
        except BotoCoreError as exc:
            raise UpstreamUnavailable(
                f"Could not reach AWS SSO-OIDC to refresh the Kiro login ({type(exc).__name__}).",
                provider=PROVIDER,
            ) from None
        if not isinstance(reply, Mapping) or not isinstance(reply.get("accessToken"), str):
            raise UpstreamUnavailable("AWS SSO-OIDC answered without an access token.", provider=PROVIDER)
        return _rotation(reply)

    def _create_token(self, login: KiroLogin) -> Any:
        client = self._oidc_client_factory(login.region, self._oidc_endpoint_url)
        return client.create_token(
            grantType="refresh_token",
            clientId=login.client_id,
            clientSecret=login.client_secret,
            refreshToken=login.refresh_token,
        )

    def _oidc_failure(self, exc: Any) -> ProviderError:
        error = exc.response.get("Error", {}) if isinstance(getattr(exc, "response", None), Mapping) else {}
        code = str(error.get("Code") or "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _DEAD_GRANTS:
            return self._dead_login(
                f"AWS SSO-OIDC answered {code}", status if isinstance(status, int) else None
            )
        return UpstreamUnavailable(
            f"Refreshing the Kiro login through AWS SSO-OIDC failed ({code or 'unknown error'}); it will be retried.",
            provider=PROVIDER,
        )

    def _registration_problem(self, login: KiroLogin) -> str | None:
        """Why an IdC login cannot be refreshed before even asking: no or an expired registration."""
        if login.kind != "idc":
            return None
        where = login.registration_path or self.store.where
        if not (login.client_id and login.client_secret):
            return f"The Kiro client registration {where} is missing or incomplete. {SIGN_IN_AGAIN}"
        expires = login.registration_expires_at
        if expires is not None and expires <= self._clock():
            return f"The Kiro client registration in {where} expired on {utc_time(expires)}. {SIGN_IN_AGAIN}"
        return None


def _json(response: httpx.Response) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, Mapping) else {}


def _rotation(body: Mapping[str, Any]) -> _Rotation:
    expires_in = body.get("expiresIn")
    lifetime = (
        float(expires_in) if isinstance(expires_in, (int, float)) and expires_in > 0 else DEFAULT_EXPIRES_IN
    )
    refresh = body.get("refreshToken")
    profile = body.get("profileArn")
    return _Rotation(
        access_token=str(body["accessToken"]),
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        expires_in=lifetime,
        profile_arn=profile if isinstance(profile, str) and profile else None,
    )


def describe_login(login: KiroLogin, where: str, now: float) -> str:
    """One line about a login: kind, region, access-token expiry (relative and absolute), file."""
    head = f"Kiro {'IAM Identity Center' if login.kind == 'idc' else 'social'} login ({login.region})"
    timing = "access token expiry unknown" if login.expires_at is None else token_expiry(login.expires_at, now)
    return f"{head}; {timing}; {where}"
