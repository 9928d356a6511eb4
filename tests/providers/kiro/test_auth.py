"""Kiro credentials: the IDE's token cache, social refresh (respx) and IdC refresh (botocore Stubber).

The IdC tests build the sso-oidc client with the provider's own `default_oidc_client` and
attach a `Stubber` to it through the injectable factory, so the exact `create_token` call
the manager makes is checked, with no network.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from botocore import UNSIGNED  # type: ignore[import-untyped]
from botocore.exceptions import EndpointConnectionError  # type: ignore[import-untyped]
from botocore.stub import Stubber  # type: ignore[import-untyped]

from providers.kiro import tokens as tokens_module
from providers.kiro.auth import Credentials, TokenManager, default_oidc_client
from providers.kiro.tokens import (
    StaticCredentials,
    TokenFile,
    default_token_path,
    dump_like,
    iso_time,
    parse_time,
)
from router.errors import AuthError, ProviderError, UpstreamUnavailable
from router.toolkit.secretfile import write_private_text

NOW = 1_800_000_000.0
SOCIAL_URL = "https://prod.us-east-1.auth.desktop.kiro.dev/refreshToken"
OIDC_ENDPOINT = "https://oidc.test.invalid"
PROFILE = "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK"


def social_document(
    access: str = "aoa-old", refresh: str = "aor-old", expires: float = NOW + 60
) -> dict[str, Any]:
    """A token cache as the Kiro IDE writes it, plus fields the router must leave alone."""
    return {
        "accessToken": access,
        "refreshToken": refresh,
        "profileArn": PROFILE,
        "expiresAt": iso_time(expires),
        "authMethod": "social",
        "provider": "Gøøgle",
        "zzFuture": {"nested": [1, "two", None, True]},
    }


def idc_document(
    access: str = "aoa-old", refresh: str = "aor-old", expires: float = NOW + 60
) -> dict[str, Any]:
    return {
        "accessToken": access,
        "refreshToken": refresh,
        "expiresAt": iso_time(expires),
        "clientIdHash": "0123abcd",
        "authMethod": "IdC",
        "provider": "Enterprise",
        "region": "eu-central-1",
        "startUrl": "https://example.awsapps.com/start",
    }


def registration(expires: float = NOW + 86400 * 30) -> dict[str, Any]:
    return {
        "clientId": "client-id-1",
        "clientSecret": "client-secret-1",
        "expiresAt": iso_time(expires),
        "scopes": ["codewhisperer:completions"],
    }


def write_js(path: Path, document: dict[str, Any], indent: int | None = 2) -> str:
    """Write like JavaScript's JSON.stringify(x, null, indent) (compact when indent is None)."""
    if indent is None:
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    else:
        text = json.dumps(document, indent=indent, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return text


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    folder = tmp_path / ".aws" / "sso" / "cache"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def social_path(cache: Path) -> Path:
    path = cache / "kiro-auth-token.json"
    write_js(path, social_document())
    return path


@pytest.fixture
def idc_path(cache: Path) -> Path:
    path = cache / "kiro-auth-token.json"
    write_js(path, idc_document())
    write_js(cache / "0123abcd.json", registration())
    return path


@pytest.fixture
def kiro_auth() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def refreshed(**overrides: Any) -> dict[str, Any]:
    body = {"accessToken": "aoa-new", "refreshToken": "aor-new", "expiresIn": 3600, "profileArn": PROFILE}
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


class Oidc:
    """An sso-oidc client factory: the provider's own client, with a Stubber holding the planned replies."""

    def __init__(self) -> None:
        self.plans: list[tuple[str, Any]] = []
        self.calls: list[tuple[str, str | None]] = []
        self.stubbers: list[Any] = []

    def reply(self, **fields: Any) -> None:
        self.plans.append(
            (
                "ok",
                {
                    "accessToken": "aoa-idc-new",
                    "refreshToken": "aor-idc-new",
                    "expiresIn": 28800,
                    "tokenType": "Bearer",
                    **fields,
                },
            )
        )

    def fail(self, code: str, status: int = 400) -> None:
        self.plans.append(("error", (code, status)))

    def __call__(self, region: str, endpoint_url: str | None) -> Any:
        self.calls.append((region, endpoint_url))
        client = default_oidc_client(region, endpoint_url)
        stubber = Stubber(client)
        expected = {
            "grantType": "refresh_token",
            "clientId": "client-id-1",
            "clientSecret": "client-secret-1",
            "refreshToken": "aor-old",
        }
        kind, value = self.plans.pop(0)
        if kind == "ok":
            stubber.add_response("create_token", value, expected)
        else:
            code, status = value
            stubber.add_client_error(
                "create_token",
                service_error_code=code,
                service_message="nope",
                http_status_code=status,
                expected_params=expected,
            )
        stubber.activate()
        self.stubbers.append(stubber)
        return client


def manager(store: Any, http: httpx.AsyncClient, **options: Any) -> TokenManager:
    options.setdefault("oidc_endpoint_url", OIDC_ENDPOINT)
    return TokenManager(store, http, clock=lambda: NOW, **options)


def temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.endswith(".tmp")]


# -- the token file ---------------------------------------------------------------------------------


def test_default_path_and_env_override() -> None:
    assert default_token_path({"HOME": "/h"}) == Path("/h/.aws/sso/cache/kiro-auth-token.json")
    assert default_token_path({"HOME": "/h", "KIRO_AUTH_FILE": "/x/tok.json"}) == Path("/x/tok.json")


def test_social_login_loads(social_path: Path) -> None:
    login = TokenFile(social_path).load()
    assert (login.kind, login.region, login.profile_arn, login.expires_at) == (
        "social",
        "us-east-1",
        PROFILE,
        NOW + 60,
    )
    assert "aoa-old" not in repr(login) and "aor-old" not in repr(login)


def test_idc_login_reads_its_companion_registration(idc_path: Path) -> None:
    login = TokenFile(idc_path).load()
    assert login.kind == "idc" and login.region == "eu-central-1"
    assert (login.client_id, login.client_secret) == ("client-id-1", "client-secret-1")
    assert login.registration_expires_at == NOW + 86400 * 30
    assert login.registration_path == str(idc_path.parent / "0123abcd.json")
    assert "client-secret-1" not in repr(login)


def test_inline_client_credentials_make_an_idc_login(cache: Path) -> None:
    path = cache / "kiro-auth-token.json"
    write_js(path, {**social_document(), "authMethod": "builder-id", "clientId": "c", "clientSecret": "s"})
    assert TokenFile(path).load().kind == "idc"


@pytest.mark.parametrize("text", [None, "{not json", "[1]", '{"refreshToken": "r"}'])
def test_unusable_files_say_where_and_how_to_sign_in(cache: Path, text: str | None) -> None:
    path = cache / "kiro-auth-token.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(AuthError) as caught:
        TokenFile(path).load()
    assert str(path) in caught.value.message and "Sign in to Kiro again" in caught.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-01-15T08:00:00.000Z", 1_800_000_000.0),
        ("2027-01-15T08:00:00Z", 1_800_000_000.0),
        ("2027-01-15T08:00:00", 1_800_000_000.0),
        (1_800_000_000, 1_800_000_000.0),
        (1_800_000_000_000, 1_800_000_000.0),
        ("soon", None),
        (None, None),
    ],
)
def test_expiry_formats(value: Any, expected: float | None) -> None:
    assert parse_time(value) == expected


def test_layouts_are_reproduced() -> None:
    document = {"a": "x", "b": 1, "c": [1, 2], "d": {"e": None}}
    for text in (
        json.dumps(document, indent=2),
        json.dumps(document, indent=4) + "\n",
        json.dumps(document, separators=(",", ":")),
        json.dumps(document),
    ):
        assert dump_like(document, text) == text


# -- social refresh --------------------------------------------------------------------------------


async def test_fresh_token_needs_no_network(
    social_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    write_js(social_path, social_document(expires=NOW + 3600))
    route = kiro_auth.post(SOCIAL_URL).respond(200, json=refreshed())
    credentials = await manager(TokenFile(social_path), http).access()
    assert credentials == Credentials("aoa-old", "social", "us-east-1", PROFILE)
    assert route.call_count == 0


async def test_social_refresh_ahead_of_expiry_writes_back_only_the_tokens(
    social_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    original = social_path.read_text(encoding="utf-8")
    route = kiro_auth.post(SOCIAL_URL).respond(200, json=refreshed())
    tokens = manager(TokenFile(social_path), http, headers={"user-agent": "KiroIDE-0.7.45-abc"})
    credentials = await tokens.access()
    assert credentials.access_token == "aoa-new"
    request = route.calls.last.request
    assert json.loads(request.content) == {"refreshToken": "aor-old"}
    assert request.headers["user-agent"] == "KiroIDE-0.7.45-abc"
    expected = (
        original.replace("aoa-old", "aoa-new")
        .replace("aor-old", "aor-new")
        .replace(iso_time(NOW + 60), iso_time(NOW + 3600))
    )
    assert social_path.read_text(encoding="utf-8") == expected
    assert stat.S_IMODE(social_path.stat().st_mode) == 0o600
    assert temp_files(social_path.parent) == []


async def test_compact_files_stay_compact(
    social_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    original = write_js(social_path, social_document(), indent=None)
    kiro_auth.post(SOCIAL_URL).respond(200, json=refreshed())
    await manager(TokenFile(social_path), http).access()
    expected = (
        original.replace("aoa-old", "aoa-new")
        .replace("aor-old", "aor-new")
        .replace(iso_time(NOW + 60), iso_time(NOW + 3600))
    )
    assert social_path.read_text(encoding="utf-8") == expected


async def test_a_reply_without_refresh_token_or_lifetime_keeps_the_old_one(
    social_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    kiro_auth.post(SOCIAL_URL).respond(200, json=refreshed(refreshToken=None, expiresIn=None))
    await manager(TokenFile(social_path), http).access()
    document = json.loads(social_path.read_text())
    assert document["refreshToken"] == "aor-old" and document["accessToken"] == "aoa-new"
    assert document["expiresAt"] == iso_time(NOW + 3600)


async def test_refresh_url_uses_the_login_region(
    cache: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    path = cache / "kiro-auth-token.json"
    write_js(path, {**social_document(), "region": "eu-west-1"})
    route = kiro_auth.post("https://auth.test/eu-west-1/refresh").respond(200, json=refreshed())
    await manager(TokenFile(path), http, refresh_url="https://auth.test/{region}/refresh").access()
    assert route.call_count == 1


@pytest.mark.parametrize("status", [400, 401, 403])
async def test_refused_social_refresh_means_sign_in_again(
    social_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient, status: int
) -> None:
    write_js(social_path, social_document(expires=NOW - 10))
    route = kiro_auth.post(SOCIAL_URL).respond(status, json={"message": "Invalid refresh token"})
    tokens = manager(TokenFile(social_path), http)
    with pytest.raises(AuthError, match="Sign in to Kiro again"):
        await tokens.access()
    with pytest.raises(AuthError):
        await tokens.access()
    assert route.call_count == 1, "a dead refresh token is not tried again"
    assert not tokens.status().ok


@pytest.mark.parametrize(
    "failure", [httpx.Response(500), httpx.Response(200, text="not json"), httpx.ConnectError("x")]
)
async def test_transient_social_failures_are_retryable_and_never_httpx_errors(
    social_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient, failure: Any
) -> None:
    write_js(social_path, social_document(expires=NOW - 10))
    kiro_auth.post(SOCIAL_URL).mock(side_effect=[failure])
    with pytest.raises(UpstreamUnavailable) as caught:
        await manager(TokenFile(social_path), http).access()
    assert caught.value.retryable


async def test_failed_refresh_while_still_valid_uses_the_current_token(
    social_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    kiro_auth.post(SOCIAL_URL).respond(503)
    assert (await manager(TokenFile(social_path), http).access()).access_token == "aoa-old"


async def test_missing_refresh_token_is_an_auth_error(
    social_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    write_js(social_path, {**social_document(expires=NOW - 10), "refreshToken": ""})
    with pytest.raises(AuthError, match="no refresh token"):
        await manager(TokenFile(social_path), http).access()


async def test_write_failure_keeps_the_rotation_in_memory(
    social_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(path: Path, text: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tokens_module, "write_private_text", refuse)
    route = kiro_auth.post(SOCIAL_URL).respond(200, json=refreshed())
    tokens = manager(TokenFile(social_path), http)
    assert (await tokens.access()).access_token == "aoa-new"
    assert (await tokens.access()).access_token == "aoa-new"
    assert route.call_count == 1


# -- the IDE rotating tokens, concurrency, 403 --------------------------------------------------------


async def test_tokens_the_ide_rotated_are_adopted_without_a_refresh(
    social_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    write_js(social_path, social_document(expires=NOW + 3600))
    route = kiro_auth.post(SOCIAL_URL).respond(200, json=refreshed())
    tokens = manager(TokenFile(social_path), http)
    await tokens.access()
    write_js(social_path, social_document("aoa-ide", "aor-ide", expires=NOW + 7200))
    stale = Credentials("aoa-old", "social", "us-east-1", PROFILE)
    assert (await tokens.refresh_after_403(stale)).access_token == "aoa-ide"
    assert route.call_count == 0


async def test_near_expiry_reread_adopts_before_refreshing(
    social_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    write_js(social_path, social_document(expires=NOW + 3600))
    route = kiro_auth.post(SOCIAL_URL).respond(200, json=refreshed())
    clock = [NOW]
    tokens = TokenManager(TokenFile(social_path), http, clock=lambda: clock[0])
    await tokens.access()
    write_js(social_path, social_document("aoa-ide", "aor-ide", expires=NOW + 7200))
    clock[0] = NOW + 3500
    assert (await tokens.access()).access_token == "aoa-ide"
    assert route.call_count == 0


async def test_single_flight_under_concurrency(
    social_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.02)
        return httpx.Response(200, json=refreshed())

    route = kiro_auth.post(SOCIAL_URL).mock(side_effect=slow)
    tokens = manager(TokenFile(social_path), http)
    results = await asyncio.gather(*(tokens.access() for _ in range(20)))
    assert route.call_count == 1
    assert {c.access_token for c in results} == {"aoa-new"}


async def test_concurrent_callers_share_a_failed_attempt(
    social_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    write_js(social_path, social_document(expires=NOW - 10))

    async def failing(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.02)
        return httpx.Response(500)

    route = kiro_auth.post(SOCIAL_URL).mock(side_effect=failing)
    tokens = manager(TokenFile(social_path), http)
    results = await asyncio.gather(*(tokens.access() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(r, UpstreamUnavailable) for r in results)
    assert route.call_count == 1


async def test_403_refreshes_once_and_hands_out_new_credentials(
    social_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    write_js(social_path, social_document(expires=NOW + 3600))
    route = kiro_auth.post(SOCIAL_URL).respond(200, json=refreshed())
    tokens = manager(TokenFile(social_path), http)
    stale = await tokens.access()
    assert route.call_count == 0
    fresh = await asyncio.gather(tokens.refresh_after_403(stale), tokens.refresh_after_403(stale))
    assert [c.access_token for c in fresh] == ["aoa-new", "aoa-new"]
    assert route.call_count == 1
    assert (await tokens.access()).access_token == "aoa-new"
    assert json.loads(social_path.read_text())["accessToken"] == "aoa-new"


# -- IdC refresh through boto3's sso-oidc client -----------------------------------------------------


def test_the_default_oidc_client_is_unsigned_and_points_where_asked() -> None:
    client = default_oidc_client("eu-central-1", OIDC_ENDPOINT)
    assert client.meta.region_name == "eu-central-1"
    assert client.meta.endpoint_url == OIDC_ENDPOINT
    assert client.meta.config.signature_version is UNSIGNED


async def test_idc_refresh_calls_create_token_and_writes_back(
    idc_path: Path, http: httpx.AsyncClient
) -> None:
    oidc = Oidc()
    oidc.reply()
    registration_before = (idc_path.parent / "0123abcd.json").read_text()
    original = idc_path.read_text()
    tokens = manager(TokenFile(idc_path), http, oidc_client_factory=oidc)
    credentials = await tokens.access()
    assert credentials == Credentials("aoa-idc-new", "idc", "eu-central-1", None)
    assert credentials.request_profile_arn is None
    assert oidc.calls == [("eu-central-1", OIDC_ENDPOINT)]
    oidc.stubbers[0].assert_no_pending_responses()
    expected = (
        original.replace("aoa-old", "aoa-idc-new")
        .replace("aor-old", "aor-idc-new")
        .replace(iso_time(NOW + 60), iso_time(NOW + 28800))
    )
    assert idc_path.read_text() == expected
    assert (idc_path.parent / "0123abcd.json").read_text() == registration_before
    assert stat.S_IMODE(idc_path.stat().st_mode) == 0o600 and temp_files(idc_path.parent) == []


async def test_idc_reply_without_a_new_refresh_token_keeps_the_old_one(
    idc_path: Path, http: httpx.AsyncClient
) -> None:
    oidc = Oidc()
    oidc.plans.append(("ok", {"accessToken": "aoa-idc-new", "expiresIn": 3600, "tokenType": "Bearer"}))
    await manager(TokenFile(idc_path), http, oidc_client_factory=oidc).access()
    assert json.loads(idc_path.read_text())["refreshToken"] == "aor-old"


@pytest.mark.parametrize("code", ["InvalidGrantException", "ExpiredTokenException", "InvalidClientException"])
async def test_idc_refused_grant_means_sign_in_again(
    idc_path: Path, http: httpx.AsyncClient, code: str
) -> None:
    write_js(idc_path, idc_document(expires=NOW - 10))
    oidc = Oidc()
    oidc.fail(code)
    tokens = manager(TokenFile(idc_path), http, oidc_client_factory=oidc)
    with pytest.raises(AuthError) as caught:
        await tokens.access()
    assert code in caught.value.message and "Sign in to Kiro again" in caught.value.message
    with pytest.raises(AuthError):
        await tokens.access()
    assert len(oidc.calls) == 1


async def test_idc_server_errors_are_retryable(idc_path: Path, http: httpx.AsyncClient) -> None:
    write_js(idc_path, idc_document(expires=NOW - 10))
    oidc = Oidc()
    oidc.fail("InternalServerException", 500)
    with pytest.raises(UpstreamUnavailable):
        await manager(TokenFile(idc_path), http, oidc_client_factory=oidc).access()


async def test_botocore_errors_never_escape(idc_path: Path, http: httpx.AsyncClient) -> None:
    write_js(idc_path, idc_document(expires=NOW - 10))

    def unreachable(region: str, endpoint_url: str | None) -> Any:
        raise EndpointConnectionError(endpoint_url=endpoint_url or "")

    with pytest.raises(ProviderError) as caught:
        await manager(TokenFile(idc_path), http, oidc_client_factory=unreachable).access()
    assert isinstance(caught.value, UpstreamUnavailable)


async def test_expired_registration_is_refused_before_asking(idc_path: Path, http: httpx.AsyncClient) -> None:
    write_js(idc_path, idc_document(expires=NOW - 10))
    write_js(idc_path.parent / "0123abcd.json", registration(expires=NOW - 3600))
    oidc = Oidc()
    tokens = manager(TokenFile(idc_path), http, oidc_client_factory=oidc)
    with pytest.raises(AuthError) as caught:
        await tokens.access()
    assert "registration" in caught.value.message and "expired" in caught.value.message
    assert "Sign in to Kiro again" in caught.value.message
    assert oidc.calls == []
    status = tokens.status()
    assert not status.ok and "expired" in status.detail


async def test_missing_registration_is_an_auth_error(idc_path: Path, http: httpx.AsyncClient) -> None:
    write_js(idc_path, idc_document(expires=NOW - 10))
    (idc_path.parent / "0123abcd.json").unlink()
    with pytest.raises(AuthError, match="missing"):
        await manager(TokenFile(idc_path), http, oidc_client_factory=Oidc()).access()


async def test_idc_403_refresh(idc_path: Path, http: httpx.AsyncClient) -> None:
    write_js(idc_path, idc_document(expires=NOW + 3600))
    oidc = Oidc()
    oidc.reply()
    tokens = manager(TokenFile(idc_path), http, oidc_client_factory=oidc)
    stale = await tokens.access()
    assert oidc.calls == []
    assert (await tokens.refresh_after_403(stale)).access_token == "aoa-idc-new"
    assert len(oidc.calls) == 1


# -- status, static credentials, credentials ----------------------------------------------------------


async def test_status_never_shows_a_token(social_path: Path, http: httpx.AsyncClient) -> None:
    status = manager(TokenFile(social_path), http).status()
    assert status.ok and status.kind == "social" and status.region == "us-east-1"
    assert status.expires_at == NOW + 60 and status.path == str(social_path)
    assert "in 1 min" in status.detail and str(social_path) in status.detail
    shown = repr(status) + status.detail
    assert "aoa-old" not in shown and "aor-old" not in shown


async def test_status_of_a_missing_login(cache: Path, http: httpx.AsyncClient) -> None:
    status = manager(TokenFile(cache / "absent.json"), http).status()
    assert not status.ok and "No Kiro login found" in status.detail


async def test_static_credentials_refresh_in_memory(
    tmp_path: Path, kiro_auth: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    route = kiro_auth.post(SOCIAL_URL).respond(200, json=refreshed())
    store = StaticCredentials(refresh_token="aor-old", profile_arn=PROFILE)
    tokens = manager(store, http)
    credentials = await tokens.access()
    assert credentials.access_token == "aoa-new" and credentials.request_profile_arn == PROFILE
    assert store.load().refresh_token == "aor-new"
    assert route.call_count == 1
    assert "aor" not in repr(store)
    assert tokens.status().path == "the router config"
    assert list(tmp_path.iterdir()) == []


def test_static_credentials_need_a_token() -> None:
    with pytest.raises(AuthError):
        StaticCredentials()


async def test_static_access_token_without_expiry_is_used_as_is(http: httpx.AsyncClient) -> None:
    credentials = await manager(StaticCredentials(access_token="aoa-given"), http).access()
    assert credentials.access_token == "aoa-given"


@pytest.mark.parametrize(
    ("kind", "profile", "region", "body_profile"),
    [
        ("social", PROFILE, "us-east-1", PROFILE),
        (
            "social",
            "arn:aws:codewhisperer:eu-central-1:1:profile/X",
            "eu-central-1",
            "arn:aws:codewhisperer:eu-central-1:1:profile/X",
        ),
        ("idc", PROFILE, "us-east-1", None),
        ("social", None, "us-east-1", None),
        ("social", "not-an-arn", "us-east-1", "not-an-arn"),
    ],
)
def test_credentials_api_region_and_profile(
    kind: Any, profile: str | None, region: str, body_profile: str | None
) -> None:
    credentials = Credentials("t", kind, "eu-west-1", profile)
    assert credentials.api_region == region
    assert credentials.request_profile_arn == body_profile
    assert "'t'" not in repr(credentials)


def test_no_temp_files_are_left_when_writing_fails(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = cache / "kiro-auth-token.json"
    write_js(path, social_document())

    def broken_replace(src: str, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_private_text(path, "{}")
    assert temp_files(cache) == []
