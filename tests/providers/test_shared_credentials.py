"""Two router processes on one login file send one refresh between them (issue 13, item 6).

Refresh tokens are single-use: when two processes both find the access token expired and
both refresh, the second is refused for good (`refresh_token_reused`) and its user is signed
out. Here two real OS processes (this module run with `python -m`, each building the
provider's own `TokenManager` on the shared file) fire concurrent requests for a token at
once, against a fake token endpoint on 127.0.0.1 that takes a while to answer (so the
refreshes would overlap) and refuses any refresh token it has seen before, as the real one
does. Meanwhile a poller keeps reading the file: it must always be whole JSON, mode 0600.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.providers.codex.fake_backend import chatgpt_tokens
from tests.support.live import router_env, serve_asgi

ROOT = Path(__file__).resolve().parents[2]
REQUESTS_PER_PROCESS = 8
REFRESH_DELAY = 0.4
"""How long the fake endpoint takes to answer: long enough for both processes to be refreshing at once."""
PROCESS_TIMEOUT = 60.0
REUSED = {"error": {"code": "refresh_token_reused",
                    "message": "Your refresh token has already been used to generate a new access token."}}
"""The OpenAI token endpoint's answer to a spent refresh token, sent with HTTP 401 (as codex-rs sees it)."""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the cross-process lock is POSIX flock")


# -- the fake token endpoints ------------------------------------------------------------------


@dataclass
class Authority:
    """A token endpoint whose refresh tokens work once: a second use is refused and counted."""

    kind: str
    generation: int = 1
    received: int = 0
    """Refresh requests that reached the endpoint, granted or not."""
    reused: int = 0
    spent: set[str] = field(default_factory=set)

    def refresh_token(self, generation: int) -> str:
        return chatgpt_tokens(generation=generation)["refresh_token"] if self.kind == "codex" else f"aor-{generation}"

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/oauth/token", self.codex, methods=["POST"]),
            Route("/refreshToken", self.kiro, methods=["POST"]),
        ])

    async def _rotate(self, token: Any) -> int | None:
        """The new generation, or None when `token` is spent or unknown (checked and spent at once)."""
        self.received += 1
        if token in self.spent or token != self.refresh_token(self.generation):
            self.reused += 1
            return None
        self.spent.add(token)
        await asyncio.sleep(REFRESH_DELAY)
        self.generation += 1
        return self.generation

    async def codex(self, request: Request) -> Response:
        body = json.loads(await request.body())
        generation = await self._rotate(body.get("refresh_token"))
        if generation is None:
            return JSONResponse(REUSED, 401)
        tokens = chatgpt_tokens(generation=generation)
        return JSONResponse({name: tokens[name] for name in ("id_token", "access_token", "refresh_token")})

    async def kiro(self, request: Request) -> Response:
        body = json.loads(await request.body())
        generation = await self._rotate(body.get("refreshToken"))
        if generation is None:
            return JSONResponse({"message": "Invalid refresh token provided"}, 401)
        return JSONResponse({"accessToken": f"aoa-{generation}", "refreshToken": f"aor-{generation}",
                             "expiresIn": 3600})


# -- the shared files ----------------------------------------------------------------------------


def codex_file(path: Path, *, expired: bool) -> None:
    tokens = chatgpt_tokens(expires_in=-60 if expired else 3600, generation=1)
    document = {"OPENAI_API_KEY": None, "tokens": tokens, "last_refresh": "2026-01-01T00:00:00.000000Z",
                "auth_mode": "chatgpt"}
    path.write_text(json.dumps(document, indent=2))
    path.chmod(0o600)


def kiro_file(path: Path, *, expired: bool) -> None:
    moment = time.gmtime(time.time() + (-60 if expired else 3600))
    document = {"accessToken": "aoa-1", "refreshToken": "aor-1",
                "expiresAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", moment), "region": "us-east-1",
                "profileArn": "arn:aws:codewhisperer:us-east-1:123456789012:profile/TEST", "authMethod": "social"}
    path.write_text(json.dumps(document, indent=2))
    path.chmod(0o600)


def access_token_in(kind: str, path: Path) -> str:
    document = json.loads(path.read_text())
    return str(document["tokens"]["access_token"] if kind == "codex" else document["accessToken"])


@dataclass
class Poll:
    """What the poller saw of the shared file while the processes ran."""

    reads: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class Poller:
    path: Path
    seen: Poll = field(default_factory=Poll)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        lock = self.path.with_name(self.path.name + ".lock")
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                mode = stat.S_IMODE(os.stat(self.path).st_mode)
                json.loads(self.path.read_text(encoding="utf-8"))
                lock_mode = stat.S_IMODE(os.stat(lock).st_mode) if lock.exists() else 0o600
            except (OSError, ValueError) as exc:
                self.seen.problems.append(f"{type(exc).__name__}: {exc}")
            else:
                if mode != 0o600 or lock_mode != 0o600:
                    self.seen.problems.append(f"modes {mode:o} (file) {lock_mode:o} (lock)")
            self.seen.reads += 1
            time.sleep(0.002)


@pytest.fixture
def authority() -> Iterator[tuple[Authority, str]]:
    state = Authority(kind="")
    with serve_asgi(state.app()) as url:
        yield state, url


# -- the two processes -----------------------------------------------------------------------------


def run_two_processes(kind: str, path: Path, url: str, mode: str, tmp: Path) -> tuple[list[dict[str, Any]], Poll]:
    """Both processes' results (one list per process), once both ran their requests at the same moment."""
    go = tmp / "go"
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.providers.test_shared_credentials", kind, str(path), url, mode,
             str(tmp / f"ready-{index}"), str(go)],
            cwd=ROOT, env=router_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for index in range(2)
    ]
    poller = Poller(path)
    thread = threading.Thread(target=poller.run, daemon=True)
    try:
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while not all((tmp / f"ready-{i}").exists() for i in range(2)) and time.monotonic() < deadline:
            if any(child.poll() is not None for child in children):
                break
            time.sleep(0.01)
        thread.start()
        go.touch()
        results = []
        for child in children:
            out, err = child.communicate(timeout=PROCESS_TIMEOUT)
            assert child.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        poller.stop.set()
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=10)
        if thread.is_alive():
            thread.join(timeout=10)
    return results, poller.seen


@pytest.mark.parametrize("kind", ["codex", "kiro"])
@pytest.mark.parametrize("mode", ["expired", "refused"])
def test_two_processes_on_one_login_file_refresh_once(
    kind: str, mode: str, authority: tuple[Authority, str], tmp_path: Path
) -> None:
    """`expired`: the file's access token is past its expiry, so every request needs a refresh first.

    `refused`: the token looks fresh but the backend refused it (401 for Codex, 403 for Kiro),
    so every request asks for a replacement.
    """
    state, url = authority
    state.kind = kind
    path = tmp_path / "login" / ("auth.json" if kind == "codex" else "kiro-auth-token.json")
    path.parent.mkdir(mode=0o700)
    (codex_file if kind == "codex" else kiro_file)(path, expired=mode == "expired")
    original = access_token_in(kind, path)

    results, seen = run_two_processes(kind, path, url, mode, tmp_path)

    assert state.received == 1, f"{state.received} refreshes reached the token endpoint"
    assert state.reused == 0, "a spent refresh token was sent again"
    errors = [r for process in results for r in process["results"] if "error" in r]
    assert errors == []
    tokens = {r["access_token"] for process in results for r in process["results"]}
    assert len(tokens) == 1 and original not in tokens, "both processes use the one rotated token"
    assert tokens == {access_token_in(kind, path)}, "and it is the one in the file"
    assert len(results[0]["results"]) == len(results[1]["results"]) == REQUESTS_PER_PROCESS
    assert seen.reads > 0 and seen.problems == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.with_name(path.name + ".lock").stat().st_mode) == 0o600


# -- what each process runs ------------------------------------------------------------------------


async def _child(kind: str, path: Path, url: str, mode: str, ready: Path, go: Path) -> dict[str, Any]:
    """Load the login, say so, wait for the signal, then ask for a token from several requests at once."""
    async with httpx.AsyncClient(trust_env=False, timeout=30.0) as http:
        one = await _token_source(kind, path, url, mode, http)
        ready.touch()
        deadline = time.monotonic() + PROCESS_TIMEOUT
        while not go.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        answers = await asyncio.gather(*(one() for _ in range(REQUESTS_PER_PROCESS)), return_exceptions=True)
    results: list[dict[str, str]] = []
    for answer in answers:
        if isinstance(answer, BaseException):
            results.append({"error": type(answer).__name__, "message": str(answer)})
        else:
            results.append({"access_token": answer})
    return {"results": results}


async def _token_source(
    kind: str, path: Path, url: str, mode: str, http: httpx.AsyncClient
) -> Callable[[], Awaitable[str]]:
    """What one request does for its token, with the login already loaded (as a running router has it).

    `expired`: ask for credentials (a refresh is due); `refused`: ask to replace the ones the
    backend refused, as the provider does on its 401 (Codex) or 403 (Kiro).
    """
    if kind == "codex":
        from providers.codex.auth import TokenManager as CodexTokens
        from providers.codex.tokens import AuthFile

        codex = CodexTokens(AuthFile(path), http, token_url=f"{url}/oauth/token")
        codex.current()
        stale = await codex.access() if mode == "refused" else None

        async def codex_token() -> str:
            if stale is None:
                return (await codex.access()).access_token
            return (await codex.refresh_after_401(stale)).access_token

        return codex_token
    from providers.kiro.auth import TokenManager as KiroTokens
    from providers.kiro.tokens import TokenFile

    kiro = KiroTokens(TokenFile(path), http, refresh_url=f"{url}/refreshToken")
    kiro.current()
    refused = await kiro.access() if mode == "refused" else None

    async def kiro_token() -> str:
        if refused is None:
            return (await kiro.access()).access_token
        return (await kiro.refresh_after_403(refused)).access_token

    return kiro_token


if __name__ == "__main__":
    arguments = sys.argv[1:]
    outcome = asyncio.run(_child(arguments[0], Path(arguments[1]), arguments[2], arguments[3],
                                 Path(arguments[4]), Path(arguments[5])))
    print(json.dumps(outcome))
