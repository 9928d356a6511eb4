"""ChatGPT OAuth for the Codex provider: the token file, the token manager, and the login flows.

The token endpoint is mocked with respx on a fake issuer; the browser login's local
callback server is real and is driven over a raw socket, as a browser would.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import respx

from providers.codex.auth import AuthStatus, Credentials, TokenManager, classify_refresh_failure
from providers.codex.login import browser_login, device_login, logout, new_pkce
from providers.codex.tokens import AuthFile, default_auth_path, default_opencode_path, jwt_identity, rfc3339
from router.errors import AuthError, PermissionDenied, ProviderError, UpstreamUnavailable

ISSUER = "https://auth.test"
TOKEN_URL = f"{ISSUER}/oauth/token"
CLIENT_ID = "app_test_client"
NOW = 1_800_000_000.0
AUTH_CLAIMS = "https://api.openai.com/auth"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(**claims: Any) -> str:
    """An unsigned JWT carrying `claims` (the router never verifies signatures)."""
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}.sig"


def access_jwt(exp: float, tag: str = "a") -> str:
    """An access token expiring at `exp`; `tag` makes tokens distinct."""
    auth = {"chatgpt_account_id": "acct-123", "chatgpt_plan_type": "plus"}
    return make_jwt(exp=int(exp), jti=tag, **{AUTH_CLAIMS: auth})


def id_jwt(tag: str = "i") -> str:
    auth = {"chatgpt_account_id": "acct-123", "chatgpt_plan_type": "plus"}
    return make_jwt(email="dev@example.com", jti=tag, **{AUTH_CLAIMS: auth})


OLD_ACCESS = access_jwt(NOW - 60, "old")
OLD_ID = id_jwt("old")
NEW_ACCESS = access_jwt(NOW + 3600, "new")
NEW_ID = id_jwt("new")


def codex_document(access: str = OLD_ACCESS, refresh: str = "rt-old", **extra: Any) -> dict[str, Any]:
    """An auth.json as the Codex CLI writes it, plus fields the router must leave alone."""
    return {
        "OPENAI_API_KEY": None,
        "tokens": {
            "id_token": OLD_ID,
            "access_token": access,
            "refresh_token": refresh,
            "account_id": "acct-123",
            "future_token_field": {"kept": True},
        },
        "last_refresh": "2027-01-01T00:00:00.123456789Z",
        "agent_identity": None,
        "zz_unknown": [1, "two", {"three": 3.5}],
        "auth_mode": "chatgpt",
        **extra,
    }


def write_auth(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2))


def refreshed(**overrides: Any) -> dict[str, Any]:
    body = {"id_token": NEW_ID, "access_token": NEW_ACCESS, "refresh_token": "rt-new"}
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not None}


@pytest.fixture
def auth_path(tmp_path: Path) -> Path:
    path = tmp_path / "codex" / "auth.json"
    path.parent.mkdir()
    write_auth(path, codex_document())
    return path


@pytest.fixture
def issuer() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=ISSUER, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def manager(path: Path, http: httpx.AsyncClient, **options: Any) -> TokenManager:
    return TokenManager(AuthFile(path), http, TOKEN_URL, CLIENT_ID, clock=lambda: NOW, **options)


# --- the token file -------------------------------------------------------------------------


def test_default_paths_follow_codex_home_and_xdg(tmp_path: Path) -> None:
    assert default_auth_path({"CODEX_HOME": "/opt/codex", "HOME": "/h"}) == Path("/opt/codex/auth.json")
    assert default_auth_path({"HOME": "/h"}) == Path("/h/.codex/auth.json")
    assert default_opencode_path({"HOME": "/h"}) == Path("/h/.local/share/opencode/auth.json")
    assert default_opencode_path({"XDG_DATA_HOME": "/d", "HOME": "/h"}) == Path("/d/opencode/auth.json")


def test_load_reads_tokens_and_claims(auth_path: Path) -> None:
    tokens = AuthFile(auth_path).load()
    assert (tokens.access_token, tokens.refresh_token, tokens.account_id) == (
        OLD_ACCESS,
        "rt-old",
        "acct-123",
    )
    assert tokens.expires_at == NOW - 60
    assert tokens.last_refresh is not None
    who = tokens.identity
    assert (who.email, who.plan, who.account_id) == ("dev@example.com", "plus", "acct-123")


def test_reprs_never_show_tokens(auth_path: Path) -> None:
    tokens = AuthFile(auth_path).load()
    shown = repr(tokens) + repr(Credentials(tokens.access_token, "acct-123"))
    assert OLD_ACCESS not in shown and "rt-old" not in shown and OLD_ID not in shown


def test_jwt_identity_tolerates_garbage() -> None:
    assert jwt_identity("not-a-jwt").expires_at is None
    assert jwt_identity("a.!!!.c").email is None
    assert jwt_identity(make_jwt(**{"https://api.openai.com/profile": {"email": "p@x"}})).email == "p@x"


def test_missing_file_says_where_and_how_to_log_in(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "auth.json"
    with pytest.raises(AuthError) as caught:
        AuthFile(path).load()
    assert str(path) in caught.value.message
    assert "router login codex" in caught.value.message


@pytest.mark.parametrize(
    "document",
    [
        {"OPENAI_API_KEY": "sk-test-secret-key-123"},
        {"auth_mode": "apikey", "OPENAI_API_KEY": "sk-test-secret-key-123"},
    ],
)
def test_api_key_file_is_not_a_chatgpt_login(tmp_path: Path, document: dict[str, Any]) -> None:
    path = tmp_path / "auth.json"
    write_auth(path, document)
    with pytest.raises(AuthError) as caught:
        AuthFile(path).load()
    message = caught.value.message
    assert "API key" in message and str(path) in message and "router login codex" in message
    assert "sk-test-secret-key-123" not in message


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"tokens": {"refresh_token": "rt"}}'])
def test_unusable_file_is_an_auth_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "auth.json"
    path.write_text(text)
    with pytest.raises(AuthError) as caught:
        AuthFile(path).load()
    assert str(path) in caught.value.message and "router login codex" in caught.value.message


def test_write_login_creates_private_dir_and_file(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "home" / "auth.json"
    tokens = AuthFile(path).write_login(id_token=NEW_ID, access_token=NEW_ACCESS, refresh_token="rt", now=NOW)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["auth_mode"] == "chatgpt" and document["OPENAI_API_KEY"] is None
    assert document["tokens"]["account_id"] == tokens.account_id == "acct-123"
    assert AuthFile(path).load().access_token == NEW_ACCESS


# --- the token manager ----------------------------------------------------------------------


async def test_fresh_token_needs_no_network(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    write_auth(auth_path, codex_document(access=NEW_ACCESS))
    route = issuer.post("/oauth/token").respond(200, json=refreshed())
    credentials = await manager(auth_path, http).access()
    assert credentials == Credentials(NEW_ACCESS, "acct-123")
    assert route.call_count == 0


async def test_refreshes_shortly_before_expiry(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    write_auth(auth_path, codex_document(access=access_jwt(NOW + 120, "soon")))
    route = issuer.post("/oauth/token").respond(200, json=refreshed())
    credentials = await manager(auth_path, http, headers={"originator": "codex_cli_rs"}).access()
    assert credentials.access_token == NEW_ACCESS
    request = route.calls.last.request
    assert request.headers["content-type"] == "application/json"
    assert request.headers["originator"] == "codex_cli_rs"
    assert json.loads(request.content) == {
        "client_id": CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_token": "rt-old",
    }


@pytest.mark.parametrize(("age_days", "calls"), [(7, 0), (9, 1)])
async def test_token_without_exp_refreshes_after_eight_days(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient, age_days: int, calls: int
) -> None:
    document = codex_document(access="opaque-access-token")
    document["last_refresh"] = rfc3339(NOW - age_days * 86400)
    write_auth(auth_path, document)
    route = issuer.post("/oauth/token").respond(200, json=refreshed())
    await manager(auth_path, http).access()
    assert route.call_count == calls


async def test_single_flight_under_concurrency(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    async def slow_refresh(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.02)
        return httpx.Response(200, json=refreshed())

    route = issuer.post("/oauth/token").mock(side_effect=slow_refresh)
    tokens = manager(auth_path, http)
    results = await asyncio.gather(*(tokens.access() for _ in range(20)))
    assert route.call_count == 1
    assert {credentials.access_token for credentials in results} == {NEW_ACCESS}


async def test_refresh_after_401_refreshes_once(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    write_auth(auth_path, codex_document(access=access_jwt(NOW + 3000, "revoked")))
    route = issuer.post("/oauth/token").respond(200, json=refreshed())
    tokens = manager(auth_path, http)
    stale = await tokens.access()
    assert route.call_count == 0
    replay = await asyncio.gather(tokens.refresh_after_401(stale), tokens.refresh_after_401(stale))
    assert [credentials.access_token for credentials in replay] == [NEW_ACCESS, NEW_ACCESS]
    assert route.call_count == 1


async def test_abandoned_request_still_saves_the_rotation(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    async def slow_refresh(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return httpx.Response(200, json=refreshed())

    route = issuer.post("/oauth/token").mock(side_effect=slow_refresh)
    tokens = manager(auth_path, http)
    abandoned = asyncio.ensure_future(tokens.access())
    await asyncio.sleep(0.01)
    abandoned.cancel()
    with pytest.raises(asyncio.CancelledError):
        await abandoned
    assert (await tokens.access()).access_token == NEW_ACCESS
    assert AuthFile(auth_path).load().refresh_token == "rt-new"
    assert route.call_count == 1


async def test_refresh_after_401_adopts_tokens_rotated_on_disk(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    write_auth(auth_path, codex_document(access=access_jwt(NOW + 3000, "revoked")))
    route = issuer.post("/oauth/token").respond(200, json=refreshed())
    tokens = manager(auth_path, http)
    stale = await tokens.access()
    write_auth(auth_path, codex_document(access=NEW_ACCESS, refresh="rt-rotated-by-cli"))
    assert (await tokens.refresh_after_401(stale)).access_token == NEW_ACCESS
    assert route.call_count == 0


async def test_concurrent_callers_share_a_failed_attempt(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    async def failing(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.02)
        return httpx.Response(500)

    route = issuer.post("/oauth/token").mock(side_effect=failing)
    tokens = manager(auth_path, http)
    results = await asyncio.gather(*(tokens.access() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(result, UpstreamUnavailable) for result in results)
    assert route.call_count == 1


async def test_rotation_written_back_leaving_everything_else_intact(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    before = json.loads(auth_path.read_text())
    issuer.post("/oauth/token").respond(200, json=refreshed())
    await manager(auth_path, http).access()
    text = auth_path.read_text()
    after = json.loads(text)
    assert text.startswith('{\n  "OPENAI_API_KEY": null,\n  "tokens": {\n    "id_token"')
    assert list(after) == list(before) and list(after["tokens"]) == list(before["tokens"])
    assert after["tokens"]["access_token"] == NEW_ACCESS
    assert after["tokens"]["id_token"] == NEW_ID
    assert after["tokens"]["refresh_token"] == "rt-new"
    assert after["last_refresh"] == "2027-01-15T08:00:00.000000Z"
    for document in (before, after):
        for name in ("access_token", "id_token", "refresh_token"):
            del document["tokens"][name]
        del document["last_refresh"]
    assert after == before


async def test_rotation_keeps_tokens_the_endpoint_did_not_return(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    issuer.post("/oauth/token").respond(200, json=refreshed(id_token=None, refresh_token=None))
    await manager(auth_path, http).access()
    tokens = json.loads(auth_path.read_text())["tokens"]
    assert (tokens["access_token"], tokens["id_token"], tokens["refresh_token"]) == (
        NEW_ACCESS,
        OLD_ID,
        "rt-old",
    )


async def test_rotation_fills_a_missing_account_id(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    document = codex_document()
    document["tokens"]["account_id"] = None
    write_auth(auth_path, document)
    issuer.post("/oauth/token").respond(200, json=refreshed())
    assert (await manager(auth_path, http).access()).account_id == "acct-123"
    assert json.loads(auth_path.read_text())["tokens"]["account_id"] == "acct-123"


async def test_written_file_is_private_and_no_temp_file_remains(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    auth_path.chmod(0o644)
    issuer.post("/oauth/token").respond(200, json=refreshed())
    await manager(auth_path, http).access()
    assert stat.S_IMODE(auth_path.stat().st_mode) == 0o600
    assert sorted(os.listdir(auth_path.parent)) == ["auth.json", "auth.json.lock"]  # the refresh's lock stays
    assert stat.S_IMODE((auth_path.parent / "auth.json.lock").stat().st_mode) == 0o600


async def test_rereads_file_before_refreshing(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    route = issuer.post("/oauth/token").respond(200, json=refreshed())
    tokens = manager(auth_path, http)
    assert tokens.status().ok  # loads the expiring tokens into memory
    write_auth(auth_path, codex_document(access=NEW_ACCESS, refresh="rt-rotated-by-cli"))
    credentials = await tokens.access()
    assert credentials.access_token == NEW_ACCESS
    assert route.call_count == 0


async def test_reused_refresh_token_fails_for_good_until_the_file_changes(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    body = {"error": {"code": "refresh_token_reused", "message": "already used"}}
    route = issuer.post("/oauth/token").respond(401, json=body)
    tokens = manager(auth_path, http)
    for _ in range(2):
        with pytest.raises(AuthError) as caught:
            await tokens.access()
        assert "router login codex" in caught.value.message and "already used" in caught.value.message
    assert route.call_count == 1
    assert not tokens.status().ok
    write_auth(auth_path, codex_document(access=NEW_ACCESS, refresh="rt-after-login"))
    assert (await tokens.access()).access_token == NEW_ACCESS
    assert route.call_count == 1


async def test_a_named_accounts_dead_refresh_says_to_sign_that_account_in(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    issuer.post("/oauth/token").respond(401, json={"error": {"code": "refresh_token_reused"}})
    tokens = TokenManager(AuthFile(auth_path, "work"), http, TOKEN_URL, CLIENT_ID, clock=lambda: NOW)
    with pytest.raises(AuthError) as caught:
        await tokens.access()
    assert "Log in again with `router login codex --account work`." in caught.value.message
    assert "codex login" not in caught.value.message.replace("router login codex", "")


async def test_a_refresh_is_bounded_well_below_a_long_replys_timeout(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    """A refresh holds the file's cross-process lock: a hung one must not keep other routers waiting."""
    route = issuer.post("/oauth/token").respond(200, json=refreshed())
    await manager(auth_path, http).access()
    assert route.calls.last.request.extensions["timeout"]["read"] == 30.0


async def test_transient_failure_is_retried_on_the_next_call(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    route = issuer.post("/oauth/token")
    route.side_effect = [httpx.Response(500, text="oops"), httpx.Response(200, json=refreshed())]
    tokens = manager(auth_path, http)
    with pytest.raises(UpstreamUnavailable):
        await tokens.access()
    assert (await tokens.access()).access_token == NEW_ACCESS
    assert route.call_count == 2


async def test_transport_errors_do_not_escape_as_httpx(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    issuer.post("/oauth/token").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(UpstreamUnavailable) as caught:
        await manager(auth_path, http).access()
    assert not isinstance(caught.value, httpx.HTTPError)


async def test_failed_early_refresh_keeps_using_the_valid_token(
    auth_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    still_valid = access_jwt(NOW + 100, "valid")
    write_auth(auth_path, codex_document(access=still_valid))
    issuer.post("/oauth/token").respond(503)
    assert (await manager(auth_path, http).access()).access_token == still_valid


@pytest.mark.parametrize(
    ("status", "body", "permanent"),
    [
        (400, {"error": "refresh_token_expired", "error_description": "expired"}, True),
        (400, {"code": "refresh_token_invalidated"}, True),
        (400, {"error": {"code": "refresh_token_reused"}}, True),
        (401, {"error": "whatever"}, True),
        (400, {"error": "temporarily_unavailable"}, False),
        (502, None, False),
    ],
)
def test_refresh_failure_classification(status: int, body: Any, permanent: bool) -> None:
    error = classify_refresh_failure(status, body, "/x/auth.json")
    assert isinstance(error, AuthError if permanent else UpstreamUnavailable)
    assert ("router login codex" in error.message) is permanent


def test_status_describes_the_login_without_secrets(auth_path: Path, http: httpx.AsyncClient) -> None:
    write_auth(auth_path, codex_document(access=NEW_ACCESS))
    status = manager(auth_path, http).status()
    assert isinstance(status, AuthStatus) and status.ok
    shown = status.detail + repr(status)
    for secret in (NEW_ACCESS, OLD_ID, "rt-old"):
        assert secret not in shown
    assert "dev@example.com" in shown and "plus" in shown and str(auth_path) in shown
    assert "in 1 h" in status.detail and "2027-01-15 09:00 UTC" in status.detail


def test_status_of_a_missing_login(tmp_path: Path, http: httpx.AsyncClient) -> None:
    status = manager(tmp_path / "auth.json", http).status()
    assert not status.ok and "router login codex" in status.detail


# --- opencode import and logout -------------------------------------------------------------


def opencode_store(tmp_path: Path, **entry: Any) -> Path:
    source = tmp_path / "opencode" / "auth.json"
    source.parent.mkdir()
    openai = {"type": "oauth", "refresh": "rt-opencode", "access": NEW_ACCESS, "expires": 1, **entry}
    source.write_text(json.dumps({"anthropic": {"type": "api", "key": "k"}, "openai": openai}))
    return source


def test_import_from_opencode_writes_a_codex_login(tmp_path: Path) -> None:
    target = tmp_path / "codex-home" / "auth.json"
    tokens = AuthFile(target).import_from(opencode_store(tmp_path, accountId="acct-oc"), now=NOW)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    loaded = AuthFile(target).load()
    assert (loaded.access_token, loaded.refresh_token, loaded.id_token) == (
        NEW_ACCESS,
        "rt-opencode",
        NEW_ACCESS,
    )
    assert loaded.account_id == tokens.account_id == "acct-oc"


def test_import_refuses_to_replace_a_login_unless_forced(auth_path: Path, tmp_path: Path) -> None:
    source = opencode_store(tmp_path)
    with pytest.raises(AuthError, match="already holds"):
        AuthFile(auth_path).import_from(source, now=NOW)
    assert AuthFile(auth_path).load().refresh_token == "rt-old"
    AuthFile(auth_path).import_from(source, now=NOW, force=True)
    assert AuthFile(auth_path).load().refresh_token == "rt-opencode"


def test_import_needs_an_openai_oauth_entry(tmp_path: Path) -> None:
    source = tmp_path / "opencode.json"
    source.write_text(json.dumps({"openai": {"type": "api", "key": "sk-x"}}))
    with pytest.raises(AuthError, match="no ChatGPT"):
        AuthFile(tmp_path / "auth.json").import_from(source, now=NOW)
    with pytest.raises(AuthError, match="No opencode credentials"):
        AuthFile(tmp_path / "auth.json").import_from(tmp_path / "missing.json", now=NOW)


def test_logout_removes_only_the_routers_own_file(auth_path: Path, tmp_path: Path) -> None:
    outcome = logout(AuthFile(auth_path))
    assert not outcome.removed and auth_path.exists() and "codex logout" in outcome.message
    own = tmp_path / "own" / "auth.json"
    AuthFile(own).write_login(id_token=NEW_ID, access_token=NEW_ACCESS, refresh_token="rt", now=NOW)
    assert logout(AuthFile(own)).removed and not own.exists()
    assert not logout(AuthFile(own)).removed


# --- browser login --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def http_get(port: int, target: str) -> tuple[int, dict[str, str], str]:
    """A bare GET to the callback server, the way a browser's redirect arrives."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.decode().partition("\r\n\r\n")
    status_line, *lines = head.split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}
    return int(status_line.split()[1]), headers, body


class Browser:
    """Stands in for `webbrowser.open`: remembers the URL and answers the way the issuer would."""

    def __init__(self, **reply: str) -> None:
        self.reply = reply
        self.url = ""
        self.pages: list[tuple[int, dict[str, str], str]] = []
        self.task: asyncio.Task[None] | None = None

    def __call__(self, url: str) -> bool:
        self.url = url
        self.task = asyncio.get_running_loop().create_task(self.redirect())
        return True

    @property
    def query(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(urlsplit(self.url).query).items()}

    async def redirect(self) -> None:
        callback = urlsplit(self.query["redirect_uri"])
        params = {"state": self.query["state"], **self.reply}
        page = await http_get(callback.port or 80, f"{callback.path}?{urlencode(params)}")
        self.pages.append(page)
        if page[0] == 302:
            self.pages.append(await http_get(callback.port or 80, page[1]["location"]))


async def test_browser_login_exchanges_the_code_and_writes_the_file(
    tmp_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    route = issuer.post("/oauth/token").respond(200, json=refreshed(refresh_token="rt-login"))
    path, port, browser = tmp_path / "home" / "auth.json", free_port(), Browser(code="the-code")
    said: list[str] = []
    tokens = await browser_login(
        AuthFile(path),
        http,
        issuer=ISSUER,
        client_id=CLIENT_ID,
        ports=(port,),
        open_browser=browser,
        say=said.append,
    )
    assert tokens.refresh_token == "rt-login" and tokens.account_id == "acct-123"
    assert browser.task is not None
    await browser.task
    assert [page[0] for page in browser.pages] == [302, 200]
    query = browser.query
    assert urlsplit(browser.url).path == "/oauth/authorize" and browser.url in said[0]
    assert query["redirect_uri"] == f"http://localhost:{port}/auth/callback"
    assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256" and "offline_access" in query["scope"]
    form = {key: values[0] for key, values in parse_qs(route.calls.last.request.content.decode()).items()}
    assert form["grant_type"] == "authorization_code" and form["code"] == "the-code"
    assert form["redirect_uri"] == query["redirect_uri"] and form["client_id"] == CLIENT_ID
    assert b64url(hashlib.sha256(form["code_verifier"].encode()).digest()) == query["code_challenge"]
    assert AuthFile(path).load().refresh_token == "rt-login"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_browser_login_without_codex_entitlement(
    tmp_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    route = issuer.post("/oauth/token").respond(200, json=refreshed())
    browser = Browser(error="access_denied", error_description="missing_codex_entitlement for workspace")
    with pytest.raises(PermissionDenied, match="Codex is not enabled for this ChatGPT workspace"):
        await browser_login(
            AuthFile(tmp_path / "auth.json"),
            http,
            issuer=ISSUER,
            ports=(free_port(),),
            open_browser=browser,
            say=print,
        )
    assert browser.task is not None
    await browser.task
    assert browser.pages[0][0] == 403 and "not enabled" in browser.pages[0][2]
    assert route.call_count == 0 and not (tmp_path / "auth.json").exists()


async def test_browser_login_falls_back_to_the_second_port(tmp_path: Path, issuer: respx.MockRouter) -> None:
    issuer.post("/oauth/token").respond(200, json=refreshed())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        fallback, browser = free_port(), Browser(code="c")
        async with httpx.AsyncClient() as http:
            await browser_login(
                AuthFile(tmp_path / "auth.json"),
                http,
                issuer=ISSUER,
                ports=(busy.getsockname()[1], fallback),
                open_browser=browser,
                say=print,
            )
    assert browser.query["redirect_uri"] == f"http://localhost:{fallback}/auth/callback"


async def test_browser_login_with_both_ports_busy(tmp_path: Path, http: httpx.AsyncClient) -> None:
    with socket.socket() as first, socket.socket() as second:
        for busy in (first, second):
            busy.bind(("127.0.0.1", 0))
            busy.listen()
        ports = (first.getsockname()[1], second.getsockname()[1])
        with pytest.raises(AuthError) as caught:
            await browser_login(
                AuthFile(tmp_path / "auth.json"), http, ports=ports, open_browser=print, say=print
            )
    assert f"{ports[0]} and {ports[1]}" in caught.value.message


async def test_browser_login_times_out_and_ignores_foreign_state(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    port = free_port()
    strays: list[asyncio.Task[tuple[int, dict[str, str], str]]] = []

    def wrong_state(url: str) -> None:
        strays.append(asyncio.get_running_loop().create_task(http_get(port, "/auth/callback?state=x&code=y")))

    with pytest.raises(AuthError, match="timed out"):
        await browser_login(
            AuthFile(tmp_path / "auth.json"),
            http,
            ports=(port,),
            open_browser=wrong_state,
            say=print,
            timeout=0.3,
        )
    assert (await strays[0])[0] == 400
    assert not (tmp_path / "auth.json").exists()


async def test_browser_login_cancel(tmp_path: Path, http: httpx.AsyncClient) -> None:
    port = free_port()
    pages: list[tuple[int, dict[str, str], str]] = []

    async def cancel() -> None:
        pages.append(await http_get(port, "/auth/callback?state=forged&code=c"))
        pages.append(await http_get(port, "/cancel"))

    tasks: list[asyncio.Task[None]] = []

    def opener(url: str) -> None:
        tasks.append(asyncio.get_running_loop().create_task(cancel()))

    with pytest.raises(AuthError, match="cancelled"):
        await browser_login(
            AuthFile(tmp_path / "auth.json"), http, ports=(port,), open_browser=opener, say=print
        )
    await tasks[0]
    assert [page[0] for page in pages] == [400, 200]


def test_pkce_challenge_is_s256_of_the_verifier() -> None:
    pkce = new_pkce()
    assert 43 <= len(pkce.verifier) <= 128
    assert pkce.challenge == b64url(hashlib.sha256(pkce.verifier.encode()).digest())


# --- device-code login ----------------------------------------------------------------------


async def test_device_login_polls_then_exchanges(
    tmp_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    issuer.post("/api/accounts/deviceauth/usercode").respond(
        200, json={"device_auth_id": "dev-1", "user_code": "ABCD-1234", "interval": "0"}
    )
    grant = {"authorization_code": "auth-code", "code_challenge": "ch", "code_verifier": "server-verifier"}
    poll = issuer.post("/api/accounts/deviceauth/token")
    poll.side_effect = [httpx.Response(403), httpx.Response(404), httpx.Response(200, json=grant)]
    exchange = issuer.post("/oauth/token").respond(200, json=refreshed(refresh_token="rt-device"))
    said: list[str] = []
    tokens = await device_login(
        AuthFile(tmp_path / "auth.json"), http, issuer=ISSUER, client_id=CLIENT_ID, say=said.append
    )
    assert tokens.refresh_token == "rt-device" and poll.call_count == 3
    assert "ABCD-1234" in said[0] and f"{ISSUER}/codex/device" in said[0]
    assert json.loads(poll.calls.last.request.content) == {
        "device_auth_id": "dev-1",
        "user_code": "ABCD-1234",
    }
    form = {key: values[0] for key, values in parse_qs(exchange.calls.last.request.content.decode()).items()}
    assert form["redirect_uri"] == f"{ISSUER}/deviceauth/callback"
    assert (form["code"], form["code_verifier"]) == ("auth-code", "server-verifier")
    assert AuthFile(tmp_path / "auth.json").load().refresh_token == "rt-device"


async def test_device_login_not_enabled(
    tmp_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    issuer.post("/api/accounts/deviceauth/usercode").respond(404)
    with pytest.raises(AuthError, match="not enabled"):
        await device_login(AuthFile(tmp_path / "auth.json"), http, issuer=ISSUER, say=print)


async def test_device_code_expires(tmp_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient) -> None:
    issuer.post("/api/accounts/deviceauth/usercode").respond(
        200, json={"device_auth_id": "dev-1", "usercode": "WXYZ", "interval": 0}
    )
    issuer.post("/api/accounts/deviceauth/token").respond(403)
    with pytest.raises(AuthError, match="expired"):
        await device_login(AuthFile(tmp_path / "auth.json"), http, issuer=ISSUER, say=print, lifetime=0.05)


async def test_login_errors_are_router_errors(
    tmp_path: Path, issuer: respx.MockRouter, http: httpx.AsyncClient
) -> None:
    issuer.post("/api/accounts/deviceauth/usercode").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ProviderError) as caught:
        await device_login(AuthFile(tmp_path / "auth.json"), http, issuer=ISSUER, say=print)
    assert not isinstance(caught.value, httpx.HTTPError)
