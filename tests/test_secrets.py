"""Secrets never reach a log line, a client, or an upstream that has no business seeing them.

Every provider (Codex, Kiro with a social and with an IAM Identity Center login, OpenRouter)
runs at DEBUG (the root logger, `router`, `providers`, and httpx/httpcore too, which the
router itself keeps at WARNING) through a normal request, the refresh of an expired login, a
revoked login whose refresh fails, upstream errors that echo the credential back, and the
status commands. Then every log record (as captured, before the router's redacting handler,
and as that handler wrote it), everything written to stdout/stderr and every body a client
got is searched for each secret and its obvious fragments: nothing may be found. The fakes
mint distinctive tokens of their own on each refresh, so rotated tokens are searched for too;
the router's own `server.auth_token` must also never be passed upstream.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from providers.kiro.tokens import iso_time
from router.server import app as app_module
from router.server import cli
from router.server.app import create_app
from router.server.config import parse_config
from router.server.cooldowns import MemoryStore
from router.server.logs import QUIET_LIBRARIES, configure_logging
from router.server.plugins import make_plugin_manager, provider_classes
from router.server.runtime import Runtime
from tests.conftest import Harness, body
from tests.providers.codex.fake_backend import FakeCodex
from tests.providers.kiro.fake_kiro import PROFILE_ARN, FakeKiro
from tests.providers.openrouter.fake_openrouter import FakeOpenRouter
from tests.support.live import serve_asgi
from tests.support.scripted import text_reply

CLASSES = provider_classes(make_plugin_manager(autoload=False))
ROUTER_TOKEN = "inbound-SWYrouterToken-5c2e9a7f13d84b06"
WRONG_TOKEN = "inbound-SWYwrongToken00-8d1f4b2a6c9e7035"
OPENROUTER_KEY = "sk-or-v1-SWYopenrouterKey-4f8a2c6e1b9d7350a3e5"
OTHER_OPENROUTER_KEY = "sk-or-v1-SWYsomeoneElse-0e9d8c7b6a5f4e3d2c1b"
KIRO_CLIENT_ID = "SWYkiroClientId-7a3c9e1f"
KIRO_CLIENT_SECRET = "eyJraWQiOiJTV1kifQ.SWYkiroClientSecret-b8d2f6a04c1e9357.SWYsig"
DEBUG_LOGGERS = ("router", "providers", "httpx", "httpcore")
"""Loggers forced to DEBUG on top of the root logger (httpx and httpcore against the router's own set-up)."""


# -- the secrets and where they must not be -------------------------------------------------------------


def fragments(secret: str) -> set[str]:
    """A secret, its first and last 12 characters, and each longer dot-separated part (of a JWT)."""
    parts = {secret, secret[:12], secret[-12:]}
    return parts | {part for part in secret.split(".") if len(part) >= 12}


def found(text: str, secrets: Iterable[str]) -> list[str]:
    """Every fragment of `secrets` that occurs in `text`, with some context."""
    hits = []
    for secret in secrets:
        for fragment in sorted(fragments(secret)):
            at = text.find(fragment)
            if at >= 0:
                hits.append(f"{fragment!r} in ...{text[max(0, at - 80):at + len(fragment) + 40]!r}...")
    return hits


@dataclass
class Captured:
    """What the router wrote: raw log records, the redacting handler's lines, stdout/stderr, client bodies."""

    caplog: pytest.LogCaptureFixture
    capfd: pytest.CaptureFixture[str]
    handler_output: io.StringIO
    bodies: list[str] = field(default_factory=list)
    printed: list[str] = field(default_factory=list)

    def sources(self) -> dict[str, str]:
        out, err = self.capfd.readouterr()
        self.printed += [out, err]
        records = "\n".join(
            f"{record.name} {record.getMessage()} {record.args!r} {record.exc_text or ''}"
            for record in self.caplog.records
        )
        return {
            "log records": self.caplog.text + "\n" + records,
            "the router's log handler": self.handler_output.getvalue(),
            "stdout/stderr": "\n".join(self.printed),
            "client bodies": "\n".join(self.bodies),
        }

    def assert_clean(self, secrets: Iterable[str]) -> None:
        wanted = [secret for secret in secrets if secret]
        sources = self.sources()
        leaks = {name: hits for name, text in sources.items() if (hits := found(text, wanted))}
        assert not leaks, leaks
        assert self.caplog.records  # the search looked at something, with debug lines let through:
        assert all(logging.getLogger(name).isEnabledFor(logging.DEBUG) for name in ("", *DEBUG_LOGGERS))


@pytest.fixture
def captured(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> Iterator[Captured]:
    """The router's own logging set-up at debug (as `router serve --log-level debug`), plus caplog,
    with httpx and httpcore at debug too; every logger touched is put back afterwards."""
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access", *DEBUG_LOGGERS, *QUIET_LIBRARIES)
    saved = {name: (lg.handlers[:], lg.level, lg.propagate, lg.disabled)
             for name in names for lg in [logging.getLogger(name)]}
    stream = io.StringIO()
    configure_logging("debug", stream)
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG)
    for name in DEBUG_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    yield Captured(caplog, capfd, stream)
    for name, (handlers, level, propagate, disabled) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:], logger.level, logger.propagate, logger.disabled = handlers, level, propagate, disabled


# -- the fakes, minting distinctive tokens ------------------------------------------------------------------


def jwt(claims: dict[str, Any], signature: str) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.{signature}"


def codex_tokens(generation: int, *, expires_in: float = 3600) -> dict[str, str]:
    auth = {"chatgpt_account_id": "acct-swy", "chatgpt_plan_type": "plus"}
    exp = int(time.time() + expires_in)
    return {
        "id_token": jwt({"email": "dev@example.com", "exp": exp, "https://api.openai.com/auth": auth,
                         "nonce": f"SWYcodexIdNonce{generation:02d}"}, f"SWYcodexIdSig{generation:02d}x7Qm"),
        "access_token": jwt({"exp": exp, "https://api.openai.com/auth": auth, "jti": f"SWYcodexJti{generation:02d}"},
                            f"SWYcodexAccessSig{generation:02d}k3Vz"),
        "refresh_token": f"rt_SWYcodexRefresh{generation:02d}_9fK2mQ7xLp4Wn8Rt",
        "account_id": "acct-swy",
    }


@dataclass
class SecretCodex(FakeCodex):
    """FakeCodex minting `codex_tokens`; a refused refresh echoes the refresh token it was given."""

    minted: list[dict[str, str]] = field(default_factory=list)

    async def token(self, request: Request) -> Response:
        data = json.loads(await request.body())
        given = data.get("refresh_token")
        if data.get("grant_type") != "refresh_token" or given != self.tokens["refresh_token"]:
            return JSONResponse({"error": {"code": "refresh_token_reused",
                                           "message": f"refresh token {given} was already used"}}, 401)
        self.refreshes += 1
        self.tokens = codex_tokens(self.refreshes + 1)
        self.minted.append(self.tokens)
        return JSONResponse({key: self.tokens[key] for key in ("id_token", "access_token", "refresh_token")})


@dataclass
class SecretKiro(FakeKiro):
    """FakeKiro with Kiro-shaped tokens, and AWS SSO-OIDC's `CreateToken` (`POST /token`) for IdC logins."""

    def app(self) -> Starlette:
        app = super().app()
        app.router.routes.append(Route("/token", self.create_token, methods=["POST"]))
        return app

    @property
    def access_token(self) -> str:
        return f"aoaSWYkiroAccess{self.generation:02d}Xq7Lm2Np9Rt4Vw6Yz"

    @property
    def refresh_token(self) -> str:
        return f"aorSWYkiroRefresh{self.generation:02d}Bc3Df5Gh8Jk1Mn0Pq"

    def tokens_so_far(self) -> list[str]:
        return [token for generation in range(1, self.generation + 1)
                for token in (f"aoaSWYkiroAccess{generation:02d}Xq7Lm2Np9Rt4Vw6Yz",
                              f"aorSWYkiroRefresh{generation:02d}Bc3Df5Gh8Jk1Mn0Pq")]

    async def refresh(self, request: Request) -> Response:
        given = json.loads(await request.body()).get("refreshToken")
        if given != self.refresh_token:
            return JSONResponse({"message": f"Invalid refresh token provided: {given}"}, 401)
        return await super().refresh(request)  # Starlette keeps the body it read

    async def create_token(self, request: Request) -> Response:
        data = json.loads(await request.body())
        if (data.get("clientId"), data.get("clientSecret")) != (KIRO_CLIENT_ID, KIRO_CLIENT_SECRET):
            return JSONResponse({"error": "invalid_client", "error_description": f"unknown {data.get('clientSecret')}"},
                                401, headers={"x-amzn-errortype": "InvalidClientException"})
        if data.get("grantType") != "refresh_token" or data.get("refreshToken") != self.refresh_token:
            return JSONResponse({"error": "invalid_grant",
                                 "error_description": f"Invalid refresh token {data.get('refreshToken')}"},
                                400, headers={"x-amzn-errortype": "InvalidGrantException"})
        self.refreshes += 1
        self.generation += 1
        return JSONResponse({"accessToken": self.access_token, "refreshToken": self.refresh_token,
                             "expiresIn": 3600, "tokenType": "Bearer"})


# -- one provider behind the router -----------------------------------------------------------------------


class Side(Protocol):
    """One provider's fake upstream, its config section, and what it knows."""

    name: str
    target: str
    model: str

    def settings(self) -> dict[str, Any]: ...
    def secrets(self) -> list[str]: ...
    def refreshes(self) -> int: ...
    def revoke(self) -> None: ...
    def fail(self, status: int) -> None: ...
    def upstream_headers(self) -> list[dict[str, str]]: ...


class CodexSide:
    name, target, model = "codex", "codex/gpt-5.5", "claude-opus-4-8"

    def __init__(self, stack: ExitStack, folder: Path, *, expired: bool) -> None:
        self.fake = SecretCodex(tokens=codex_tokens(1))
        self.fake.minted = [self.fake.tokens]
        stored = dict(self.fake.tokens)
        if expired:
            stored = {**codex_tokens(0, expires_in=-60), "refresh_token": self.fake.tokens["refresh_token"]}
            self.fake.minted.append(stored)
        self.auth_file = folder / "codex-home" / "auth.json"
        self.auth_file.parent.mkdir(parents=True)
        self.auth_file.write_text(json.dumps({"auth_mode": "chatgpt", "OPENAI_API_KEY": None, "tokens": stored,
                                              "last_refresh": "2026-11-01T00:00:00Z"}, indent=2))
        self.auth_file.chmod(0o600)
        self.url = stack.enter_context(serve_asgi(self.fake.app()))

    def settings(self) -> dict[str, Any]:
        return {"base_url": self.url, "token_url": f"{self.url}/oauth/token", "auth_file": str(self.auth_file)}

    def secrets(self) -> list[str]:
        return [value for tokens in self.fake.minted for key, value in tokens.items() if key != "account_id"]

    def refreshes(self) -> int:
        return self.fake.refreshes

    def revoke(self) -> None:
        self.fake.tokens = codex_tokens(90)  # signed in elsewhere: the router's tokens are dead
        self.fake.minted.append(self.fake.tokens)

    def fail(self, status: int) -> None:
        access = self.fake.tokens["access_token"]
        bodies = {
            429: {"error": {"type": "usage_limit_reached", "message": f"The usage limit has been reached for {access}",
                            "resets_in_seconds": 60}},
            500: {"error": {"message": f"internal error; request had authorization: Bearer {access}"}},
            400: {"error": {"message": f"Invalid request from token {access}", "type": "invalid_request_error"}},
        }
        self.fake.fail_next.append((status, bodies[status]))

    def upstream_headers(self) -> list[dict[str, str]]:
        return self.fake.headers


class KiroSide:
    name, target, model = "kiro", "kiro/claude-sonnet-4.5", "claude-sonnet-4-5"

    def __init__(self, stack: ExitStack, folder: Path, *, expired: bool, idc: bool = False) -> None:
        self.fake = SecretKiro()
        self.idc = idc
        self.token_file = folder / ".aws" / "sso" / "cache" / "kiro-auth-token.json"
        self.token_file.parent.mkdir(parents=True)
        document: dict[str, Any] = {
            "accessToken": self.fake.access_token, "refreshToken": self.fake.refresh_token,
            "profileArn": PROFILE_ARN, "expiresAt": iso_time(time.time() + (-60 if expired else 3600)),
        }
        if idc:
            document |= {"authMethod": "IdC", "provider": "BuilderId", "region": "us-east-1",
                         "clientIdHash": "swyclienthash"}
            registration = {"clientId": KIRO_CLIENT_ID, "clientSecret": KIRO_CLIENT_SECRET,
                            "expiresAt": iso_time(time.time() + 86400 * 30)}
            (self.token_file.parent / "swyclienthash.json").write_text(json.dumps(registration, indent=2))
        else:
            document |= {"authMethod": "social", "provider": "Github"}
        self.token_file.write_text(json.dumps(document, indent=2))
        self.url = stack.enter_context(serve_asgi(self.fake.app()))

    def settings(self) -> dict[str, Any]:
        return {"api_url": self.url, "social_refresh_url": f"{self.url}/refreshToken",
                "oidc_endpoint_url": self.url, "token_file": str(self.token_file)}

    def secrets(self) -> list[str]:
        return [*self.fake.tokens_so_far(), KIRO_CLIENT_SECRET]

    def refreshes(self) -> int:
        return self.fake.refreshes

    def revoke(self) -> None:
        self.fake.generation += 1  # rotated elsewhere: the router's access and refresh tokens are dead

    def fail(self, status: int) -> None:
        access = self.fake.access_token
        bodies = {
            429: {"message": f"Rate exceeded for {access}", "reason": None, "__type": "ThrottlingException"},
            500: {"message": f"Encountered an unexpected error; Authorization: Bearer {access}", "reason": None},
            400: {"message": f"Improperly formed request from {access}.", "reason": None},
        }
        self.fake.fail_next.append((status, bodies[status]))

    def upstream_headers(self) -> list[dict[str, str]]:
        return [*self.fake.headers, *self.fake.refresh_headers]


class OpenRouterSide:
    name, target, model = "openrouter", "openrouter/anthropic/claude-sonnet-4.5", "claude-haiku-4-5"

    def __init__(self, stack: ExitStack, folder: Path, *, expired: bool) -> None:
        self.fake = FakeOpenRouter(api_key=OPENROUTER_KEY)
        self.url = stack.enter_context(serve_asgi(self.fake.app()))

    def settings(self) -> dict[str, Any]:
        return {"api_key": OPENROUTER_KEY, "base_url": self.url}

    def secrets(self) -> list[str]:
        return [OPENROUTER_KEY]

    def refreshes(self) -> int:
        return 0

    def revoke(self) -> None:
        self.fake.api_key = OTHER_OPENROUTER_KEY  # the router's key was deleted

    def fail(self, status: int) -> None:
        self.fake.fail(status, {429: f"Rate limit exceeded for key {OPENROUTER_KEY}",
                                500: f"Internal Server Error (key {OPENROUTER_KEY})",
                                400: f"Invalid request with Authorization: Bearer {OPENROUTER_KEY}"}[status])

    def upstream_headers(self) -> list[dict[str, str]]:
        return [*self.fake.headers, *self.fake.messages_headers]


SIDES: dict[str, Callable[..., Side]] = {
    "codex": CodexSide,
    "kiro": KiroSide,
    "kiro-idc": lambda stack, folder, *, expired: KiroSide(stack, folder, expired=expired, idc=True),
    "openrouter": OpenRouterSide,
}
REFRESHING = ("codex", "kiro", "kiro-idc")


def config_data(side: Side, transport: str) -> dict[str, Any]:
    return {
        "server": {"retries": 1, "upstream_transport": transport, "auth_token": ROUTER_TOKEN},
        "providers": {side.name: side.settings()},
        "default": {"use": side.target},
    }


class Router:
    """The router in process, for one side, with every client body kept for the search."""

    def __init__(self, side: Side, transport: str, captured: Captured) -> None:
        self.side = side
        self.captured = captured
        self.runtime = Runtime(parse_config(config_data(side, transport), CLASSES, env={}), CLASSES,
                               store=MemoryStore())
        self.runtime.dispatcher.backoff = 0.001
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(self.runtime)),
                                      base_url="http://router")

    async def call(self, method: str, path: str, token: str = ROUTER_TOKEN, **kwargs: Any) -> httpx.Response:
        response = await self.http.request(method, path, headers={"x-api-key": token}, **kwargs)
        self.captured.bodies.append(response.text)
        return response

    async def ask(self, *, stream: bool = False) -> httpx.Response:
        return await self.call("POST", "/v1/messages", json=body(self.side.model, stream=stream))

    async def statuses(self) -> None:
        """What the banner, `router status` and /health say, into the searched output."""
        for name, status in self.runtime.credential_statuses().items():
            self.captured.bodies.append(f"{name} {status}")
        for provider in self.runtime.providers.values():
            self.captured.bodies.append(str(await provider.usage_report()))
        await self.call("GET", "/health")

    def assert_clean(self) -> None:
        self.captured.assert_clean([*self.side.secrets(), ROUTER_TOKEN, WRONG_TOKEN])
        forwarded = json.dumps(self.side.upstream_headers())
        assert ROUTER_TOKEN not in forwarded and WRONG_TOKEN not in forwarded  # the inbound token stays here

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.runtime.aclose()


@pytest.fixture
async def make_router(tmp_path: Path, upstream_transport: str,
                      captured: Captured) -> AsyncIterator[Callable[..., Router]]:
    with ExitStack() as stack:
        made: list[Router] = []

        def build(kind: str, *, expired: bool = False) -> Router:
            router = Router(SIDES[kind](stack, tmp_path, expired=expired), upstream_transport, captured)
            made.append(router)
            return router

        yield build
        for router in made:
            await router.aclose()


def error_type(response: httpx.Response) -> str:
    data = response.json()
    assert data["type"] == "error", data
    return str(data["error"]["type"])


# -- the paths, for every provider ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(SIDES))
async def test_a_normal_request_leaks_nothing(make_router: Callable[..., Router], kind: str) -> None:
    router = make_router(kind)
    answered = await router.ask()
    assert answered.status_code == 200, answered.text
    assert answered.json()["content"][-1]["type"] == "text"
    streamed = await router.ask(stream=True)
    assert streamed.status_code == 200 and "event: message_stop" in streamed.text
    assert (await router.call("POST", "/v1/messages/count_tokens", json=body(router.side.model))).status_code == 200
    assert (await router.call("GET", "/v1/models")).status_code == 200
    refused = await router.call("POST", "/v1/messages", token=WRONG_TOKEN, json=body(router.side.model))
    assert refused.status_code == 401 and error_type(refused) == "authentication_error"
    await router.statuses()
    assert router.side.refreshes() == 0
    router.assert_clean()


@pytest.mark.parametrize("kind", REFRESHING)
async def test_refreshing_an_expired_login_leaks_nothing(make_router: Callable[..., Router], kind: str) -> None:
    router = make_router(kind, expired=True)
    await router.statuses()  # before: expired
    answered = await router.ask()
    assert answered.status_code == 200, answered.text
    assert router.side.refreshes() == 1
    assert (await router.ask(stream=True)).status_code == 200
    await router.statuses()  # after: the rotated tokens
    assert router.side.refreshes() == 1
    router.assert_clean()


@pytest.mark.parametrize("kind", list(SIDES))
async def test_a_revoked_login_whose_refresh_fails_leaks_nothing(make_router: Callable[..., Router],
                                                                 kind: str) -> None:
    router = make_router(kind)
    assert (await router.ask()).status_code == 200
    router.side.revoke()
    refused = await router.ask()
    assert refused.status_code == 401 and error_type(refused) == "authentication_error", refused.text
    again = await router.ask(stream=True)  # the dead login is remembered, not refreshed again
    assert again.status_code == 401, again.text
    await router.statuses()
    router.assert_clean()


@pytest.mark.parametrize("kind", list(SIDES))
async def test_upstream_errors_echoing_the_credential_leak_nothing(make_router: Callable[..., Router],
                                                                    kind: str) -> None:
    router = make_router(kind)
    expected = {500: (500, 529), 400: (400,), 429: (429,)}
    for status in (500, 400, 429):  # 429 last: it cools the account down
        for stream in (False, True):
            for _ in range(2 if status == 500 else 1):  # a 500 is retried once
                router.side.fail(status)
            response = await router.ask(stream=stream)
            if not stream:
                assert response.status_code in expected[status] or response.status_code >= 500, response.text
                error_type(response)
    await router.statuses()
    router.assert_clean()


# -- the commands: status, accounts, check, models, login -----------------------------------------------------


@pytest.mark.parametrize("kind", list(SIDES))
def test_the_status_commands_leak_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, captured: Captured,
                                          kind: str) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    secrets = [ROUTER_TOKEN]
    if kind == "codex":  # a login opencode keeps, for `router login codex --import opencode`
        imported = codex_tokens(50)
        secrets += [imported["access_token"], imported["refresh_token"]]
        opencode = tmp_path / "data" / "opencode" / "auth.json"
        opencode.parent.mkdir(parents=True)
        opencode.write_text(json.dumps({"openai": {"type": "oauth", "refresh": imported["refresh_token"],
                                                   "access": imported["access_token"],
                                                   "expires": int(time.time() * 1000) + 3_600_000}}))
    with ExitStack() as stack:
        side = SIDES[kind](stack, tmp_path, expired=kind in REFRESHING)
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config_data(side, "httpx")))
        for args in (["check"], ["status"], ["accounts"], ["models"]):
            assert cli.main([*args, "--config", str(path)]) == 0, args
        assert side.refreshes() == (1 if kind in REFRESHING else 0)  # listing the models needed a fresh login
        signed_in = cli.main(["login", side.name, "--config", str(path)])  # "already signed in as ..."
        assert signed_in == (2 if kind == "openrouter" else 0)  # OpenRouter has no login: it takes a key
        config, classes, _, origin = cli.load(path)
        runtime = Runtime(config, classes)
        banner = io.StringIO()
        cli.banner(config, runtime, origin, banner)
        asyncio.run(runtime.aclose())
        captured.bodies.append(banner.getvalue())
        if kind == "codex":
            assert cli.main(["login", "codex", "--import", "opencode", "--force", "--config", str(path)]) == 0
            assert cli.main(["status", "--config", str(path)]) == 0
        captured.assert_clean([*side.secrets(), *secrets])
    printed = "\n".join(captured.printed)
    assert "config is valid" in printed and f"{side.name:<12} ok" in printed


# -- the inbound token --------------------------------------------------------------------------------------


@pytest.mark.parametrize("given", [
    "inbound-SWYrouterToken-5c2e9a7f13d84b07",  # same length, last character differs
    "inbound-SWYrouterToken",  # a prefix: shorter
    ROUTER_TOKEN + "x",  # longer
    "",
])
async def test_a_wrong_inbound_token_is_refused_without_echo(make_harness: Callable[..., Harness],
                                                             given: str) -> None:
    harness = make_harness(auth_token=ROUTER_TOKEN)
    for headers in ({"x-api-key": given}, {"authorization": f"Bearer {given}"}):
        response = await harness.http.post("/v1/messages", json=body(), headers=headers)
        assert response.status_code == 401 and error_type(response) == "authentication_error"
        assert ROUTER_TOKEN not in response.text and (not given or given not in response.text)
    assert harness.scripted.calls == []


async def test_the_inbound_token_is_compared_as_bytes_in_constant_time(
    make_harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(app_module.hmac, "compare_digest", spy)
    harness = make_harness(auth_token="tökén-ünïcode")
    harness.scripted.queue(text_reply("hi"))
    # non-ASCII bytes on the wire; str compare_digest would raise TypeError on them (a 500)
    for value in ("wrong-ascii-token".encode(), "wröng-tökén".encode(), b"\xff\xfe\x80"):
        response = await harness.http.post("/v1/messages", json=body(), headers={"x-api-key": value})
        assert response.status_code == 401 and error_type(response) == "authentication_error"
    ok = await harness.http.post("/v1/messages", json=body(), headers={"x-api-key": "tökén-ünïcode".encode("latin-1")})
    assert ok.status_code == 200, ok.text
    assert len(compared) == 4 and all(isinstance(a, bytes) and isinstance(b, bytes) for a, b in compared)
    ascii_token = make_harness(auth_token=ROUTER_TOKEN)
    response = await ascii_token.http.get("/v1/models", headers={"x-api-key": "ünïcödé".encode()})
    assert response.status_code == 401 and error_type(response) == "authentication_error"
