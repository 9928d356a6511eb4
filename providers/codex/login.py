"""Interactive ChatGPT sign-in for `router login codex`: browser (PKCE) and device-code flows, and logout.

The browser flow runs a tiny HTTP server on 127.0.0.1 for the OAuth redirect. It is
`asyncio.start_server` with a few lines of request-line parsing rather than starlette and
uvicorn: it serves three GET paths to one browser for a few minutes, needs no routing,
middleware or lifespan, and must start and stop inside one coroutine on a chosen port with
a clear error when the port is taken, which a raw server makes simple.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import html
import secrets
import time
import webbrowser
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx

from providers.codex.auth import (
    AUTHORIZE_PATH,
    CALLBACK_PATH,
    CALLBACK_PORT,
    CLIENT_ID,
    DEVICE_CODE_LIFETIME,
    DEVICE_REDIRECT_PATH,
    DEVICE_TOKEN_PATH,
    DEVICE_USERCODE_PATH,
    DEVICE_VERIFY_PATH,
    FALLBACK_CALLBACK_PORT,
    ISSUER,
    ORIGINATOR,
    SCOPES,
    exchange_code,
    json_body,
    post,
)
from providers.codex.tokens import PROVIDER, AuthFile, LogoutOutcome, TokenSet, logout
from router.errors import AuthError, PermissionDenied, ProviderError, UpstreamUnavailable

__all__ = ["LogoutOutcome", "browser_login", "device_login", "logout"]

Say = Callable[[str], None]
_READ_TIMEOUT = 10.0
_BAD_REQUEST = (
    TimeoutError,
    ValueError,
    ConnectionError,
    asyncio.IncompleteReadError,
    asyncio.LimitOverrunError,
)


@dataclass(frozen=True, slots=True)
class Pkce:
    """A PKCE pair: the verifier stays here, the S256 challenge goes into the authorize URL."""

    verifier: str
    challenge: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_pkce() -> Pkce:
    """A fresh verifier (64 random bytes, base64url) and its SHA-256 challenge."""
    verifier = _b64url(secrets.token_bytes(64))
    return Pkce(verifier, _b64url(hashlib.sha256(verifier.encode("ascii")).digest()))


def authorize_url(
    issuer: str, client_id: str, redirect_uri: str, pkce: Pkce, state: str, *, scopes: str = SCOPES
) -> str:
    """The sign-in page URL, with the query parameters the Codex CLI sends, in its order."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scopes,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
        "id_token_add_organizations": "true",
        "codex_cli_simplified_flow": "true",
        "state": state,
        "originator": ORIGINATOR,
    }
    return f"{issuer}{AUTHORIZE_PATH}?{urlencode(params, quote_via=quote, safe='')}"


def _save(auth_file: AuthFile, fields: Mapping[str, str]) -> TokenSet:
    return auth_file.write_login(
        id_token=fields["id_token"],
        access_token=fields["access_token"],
        refresh_token=fields["refresh_token"],
        now=time.time(),
    )


def _page(title: str, text: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    title: str = ""
    text: str = ""
    location: str | None = None

    def encode(self) -> bytes:
        body = _page(self.title, self.text).encode("utf-8")
        head = [
            f"HTTP/1.1 {self.status} {HTTPStatus(self.status).phrase}",
            "Content-Type: text/html; charset=utf-8",
            f"Content-Length: {len(body)}",
            "Cache-Control: no-store",
            "Connection: close",
        ]
        if self.location:
            head.append(f"Location: {self.location}")
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def callback_error(error: str, description: str) -> ProviderError:
    """The error a sign-in page redirected back with, as the router reports it."""
    if error == "access_denied" and "missing_codex_entitlement" in description:
        return PermissionDenied(
            "Codex is not enabled for this ChatGPT workspace (missing_codex_entitlement). Ask a workspace "
            "admin to enable Codex, or sign in with another account.",
            provider=PROVIDER,
        )
    detail = f": {description[:300]}" if description else ""
    return AuthError(f"Sign-in failed ({error[:80]}){detail}", provider=PROVIDER)


class _Callback:
    """The local redirect endpoint of one browser login; `outcome` resolves once it is decided."""

    def __init__(self, state: str, finish_login: Callable[[str, str], Awaitable[TokenSet]]) -> None:
        self.redirect_uri = ""
        self._state = state
        self._finish_login = finish_login
        self._busy = False
        self._connections: set[asyncio.Task[Any]] = set()
        self._idle: set[asyncio.Task[Any]] = set()
        self.outcome: asyncio.Future[TokenSet] = asyncio.get_running_loop().create_future()
        self.success_seen = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer one HTTP request, then close the connection."""
        task = asyncio.current_task()
        assert task is not None  # the server runs each connection in its own task
        self._connections.add(task)
        self._idle.add(task)
        try:
            target = await asyncio.wait_for(_read_target(reader), _READ_TIMEOUT)
            self._idle.discard(task)
            writer.write((await self._route(target)).encode())
            await writer.drain()
        except _BAD_REQUEST:
            pass
        finally:
            self._idle.discard(task)
            self._connections.discard(task)
            writer.close()

    async def close(self) -> None:
        """Drop connections still waiting for a request (a browser's idle socket must not outlive
        the login), and let those already answering finish their reply."""
        for task in self._idle:
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    def _finish(self, result: TokenSet | BaseException) -> None:
        if self.outcome.done():
            return
        if isinstance(result, BaseException):
            self.outcome.set_exception(result)
        else:
            self.outcome.set_result(result)

    async def _route(self, target: str) -> _Reply:
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query))
        if parts.path == CALLBACK_PATH:
            return await self._callback(query)
        if parts.path == "/success":
            self.success_seen.set()
            return _Reply(200, "Signed in", "You are signed in to Codex. You can close this tab.")
        if parts.path == "/cancel":
            self._finish(AuthError("The sign-in was cancelled.", provider=PROVIDER))
            return _Reply(200, "Sign-in cancelled", "You can close this tab.")
        return _Reply(404, "Not found", "Nothing here.")

    async def _callback(self, query: Mapping[str, str]) -> _Reply:
        if not secrets.compare_digest(query.get("state", ""), self._state):
            return _Reply(
                400, "Sign-in failed", "State mismatch: this reply belongs to another sign-in attempt."
            )
        if self._busy or self.outcome.done():
            return _Reply(409, "Already handled", "This sign-in has already been handled.")
        if "error" in query:
            problem = callback_error(query["error"], query.get("error_description", ""))
            self._finish(problem)
            return _Reply(403, "Sign-in failed", problem.message)
        if not query.get("code"):
            self._finish(AuthError("The sign-in reply carried no authorization code.", provider=PROVIDER))
            return _Reply(400, "Sign-in failed", "The reply carried no authorization code.")
        return await self._complete(query["code"])

    async def _complete(self, code: str) -> _Reply:
        self._busy = True
        try:
            tokens = await self._finish_login(code, self.redirect_uri)
        except ProviderError as err:
            self._finish(err)
            return _Reply(502, "Sign-in failed", err.message)
        self._finish(tokens)
        return _Reply(302, "Signed in", "Redirecting.", location="/success")


async def _read_target(reader: asyncio.StreamReader) -> str:
    """The request target of a GET, after reading (and ignoring) the headers."""
    head = await reader.readuntil(b"\r\n\r\n")
    method, target, _version = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    if method != "GET":
        raise ValueError(method)
    return target


async def _listen(
    handler: Callable[..., Awaitable[None]], ports: Sequence[int]
) -> tuple[asyncio.Server, int]:
    """A server on the first free port of `ports` on 127.0.0.1 (the registered redirect ports)."""
    reasons = []
    for port in ports:
        try:
            return await asyncio.start_server(handler, "127.0.0.1", port), port
        except OSError as exc:
            reasons.append(f"{port}: {exc.strerror or exc}")
    raise AuthError(
        f"Cannot start the sign-in callback server on 127.0.0.1, ports {' and '.join(map(str, ports))} are "
        f"unavailable ({'; '.join(reasons)}). Is another `codex login` or `router login codex` running? "
        "Finish or stop it, or use the device-code sign-in.",
        provider=PROVIDER,
    )


async def browser_login(
    auth_file: AuthFile,
    http: httpx.AsyncClient,
    *,
    issuer: str = ISSUER,
    token_url: str | None = None,
    client_id: str = CLIENT_ID,
    ports: Sequence[int] = (CALLBACK_PORT, FALLBACK_CALLBACK_PORT),
    open_browser: Callable[[str], object] = webbrowser.open,
    say: Say = print,
    timeout: float = 300.0,
    linger: float = 2.0,
    scopes: str = SCOPES,
    headers: Mapping[str, str] | None = None,
) -> TokenSet:
    """Sign in through the browser (authorization code + PKCE) and write `auth_file`.

    `open_browser` receives the sign-in URL; the URL is also shown through `say` for
    machines where no browser opens. After success the server stays up for `linger`
    seconds (or until the browser has loaded `/success`) so the redirect lands.
    """
    pkce, state = new_pkce(), _b64url(secrets.token_bytes(32))

    async def finish_login(code: str, redirect_uri: str) -> TokenSet:
        fields = await exchange_code(
            http,
            token_url or f"{issuer}/oauth/token",
            client_id=client_id,
            code=code,
            verifier=pkce.verifier,
            redirect_uri=redirect_uri,
            headers=headers,
        )
        return _save(auth_file, fields)

    callback = _Callback(state, finish_login)
    server, port = await _listen(callback.serve, ports)
    callback.redirect_uri = f"http://localhost:{port}{CALLBACK_PATH}"
    try:
        url = authorize_url(issuer, client_id, callback.redirect_uri, pkce, state, scopes=scopes)
        say(f"Sign in to ChatGPT in your browser. If it does not open, visit:\n{url}")
        with contextlib.suppress(webbrowser.Error, OSError):
            open_browser(url)
        tokens = await _await_outcome(callback.outcome, timeout, callback.redirect_uri)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(callback.success_seen.wait(), linger)
        return tokens
    finally:
        server.close()
        await callback.close()
        await server.wait_closed()


async def _await_outcome(outcome: asyncio.Future[TokenSet], timeout: float, redirect_uri: str) -> TokenSet:
    try:
        return await asyncio.wait_for(outcome, timeout)
    except TimeoutError:
        raise AuthError(
            f"The sign-in timed out after {timeout:g} s without a reply at {redirect_uri}. Run `router login "
            "codex` again, or use the device-code sign-in on a machine without a browser.",
            provider=PROVIDER,
        ) from None


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """What the user types at the verification page, and how often to poll for their approval."""

    device_auth_id: str
    user_code: str
    interval: float


async def request_device_code(
    http: httpx.AsyncClient, issuer: str, client_id: str, headers: Mapping[str, str]
) -> DeviceCode:
    """Ask the issuer for a user code; 404 means device sign-in is not enabled there."""
    response = await post(http, f"{issuer}{DEVICE_USERCODE_PATH}", headers, json={"client_id": client_id})
    if response.status_code == 404:
        raise AuthError(
            "Device-code sign-in is not enabled on this server; use the browser sign-in.", provider=PROVIDER
        )
    body = json_body(response)
    if response.status_code != 200 or not isinstance(body, dict):
        raise UpstreamUnavailable(
            f"Requesting a device code failed with HTTP {response.status_code}.", provider=PROVIDER
        )
    device_id, user_code = body.get("device_auth_id"), body.get("user_code") or body.get("usercode")
    if not isinstance(device_id, str) or not isinstance(user_code, str):
        raise UpstreamUnavailable("The device-code reply lacks its id or user code.", provider=PROVIDER)
    return DeviceCode(device_id, user_code, _seconds(body.get("interval"), default=5.0))


def _seconds(value: Any, *, default: float) -> float:
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return default


async def poll_device_grant(
    http: httpx.AsyncClient, issuer: str, code: DeviceCode, lifetime: float, headers: Mapping[str, str]
) -> tuple[str, str]:
    """Poll until the user approves; the (authorization code, PKCE verifier) the issuer generated."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + lifetime
    body = {"device_auth_id": code.device_auth_id, "user_code": code.user_code}
    while True:
        response = await post(http, f"{issuer}{DEVICE_TOKEN_PATH}", headers, json=body)
        if response.status_code == 200:
            grant = json_body(response)
            if isinstance(grant, dict) and isinstance(grant.get("authorization_code"), str):
                return grant["authorization_code"], str(grant.get("code_verifier", ""))
            raise UpstreamUnavailable(
                "The device sign-in reply lacks its authorization code.", provider=PROVIDER
            )
        if response.status_code not in (403, 404):
            raise UpstreamUnavailable(
                f"Device sign-in polling failed with HTTP {response.status_code}.", provider=PROVIDER
            )
        if loop.time() + code.interval >= deadline:
            raise AuthError(
                f"The device code expired after {lifetime / 60:g} min without approval. Run the sign-in again.",
                provider=PROVIDER,
            )
        await asyncio.sleep(code.interval)


async def device_login(
    auth_file: AuthFile,
    http: httpx.AsyncClient,
    *,
    issuer: str = ISSUER,
    token_url: str | None = None,
    client_id: str = CLIENT_ID,
    say: Say = print,
    lifetime: float = DEVICE_CODE_LIFETIME,
    headers: Mapping[str, str] | None = None,
) -> TokenSet:
    """Sign in on a machine without a browser: the user approves a code elsewhere; writes `auth_file`."""
    extra = dict(headers or {})
    code = await request_device_code(http, issuer, client_id, extra)
    say(
        f"To sign in, open {issuer}{DEVICE_VERIFY_PATH} on any device and enter the code {code.user_code} "
        f"(it expires in {lifetime / 60:g} minutes)."
    )
    authorization_code, verifier = await poll_device_grant(http, issuer, code, lifetime, extra)
    fields = await exchange_code(
        http,
        token_url or f"{issuer}/oauth/token",
        client_id=client_id,
        code=authorization_code,
        verifier=verifier,
        redirect_uri=f"{issuer}{DEVICE_REDIRECT_PATH}",
        headers=extra,
    )
    return _save(auth_file, fields)
