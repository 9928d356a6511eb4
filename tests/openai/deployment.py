"""All three fake backends behind one `router serve`, for the OpenAI dialect's end-to-end tests.

Each model name reaches its backend the way a client would name it: a Claude tier (opus on
Codex, sonnet on Kiro) or a `provider/model` target (OpenRouter). The default brains of the
fakes call a Bash tool when asked to "run" something and quote its output when it comes back.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.providers.codex.fake_backend import FakeCodex
from tests.providers.kiro.fake_kiro import Brain as KiroBrain
from tests.providers.kiro.fake_kiro import FakeKiro
from tests.providers.kiro.fake_kiro import default_brain as kiro_default
from tests.providers.kiro.test_end_to_end import write_codex_auth, write_token_file
from tests.providers.openrouter.fake_openrouter import API_KEY, FakeOpenRouter
from tests.providers.openrouter.fake_openrouter import Brain as OpenRouterBrain
from tests.providers.openrouter.fake_openrouter import default_brain as openrouter_default
from tests.support.live import router_env, router_serving, serve_asgi

UPSTREAMS = {
    "codex": "claude-opus-4-8",
    "kiro": "claude-sonnet-4-6",
    "openrouter": "openrouter/anthropic/claude-haiku-4.5",
}
"""Backend name -> the model name a client uses to reach it (tier, tier, provider/model)."""
MARKERS = {"codex": "codex-e2e-42", "kiro": "kiro-e2e-42", "openrouter": "openrouter-e2e-42"}
"""What each fake's Bash call prints (its command is `echo <name>-e2e-$((6*7))`)."""
TOKEN = "router-test-token"
"""The router's own client token (`server.auth_token`): OpenAI clients send it as a bearer token."""


@dataclass
class Deployment:
    codex: FakeCodex
    kiro: FakeKiro
    openrouter: FakeOpenRouter
    url: str
    state: Path

    def requests_of(self, upstream: str) -> list[Any]:
        """The bodies the named fake received, in order."""
        requests: dict[str, list[Any]] = {"codex": self.codex.requests, "kiro": self.kiro.requests,
                                          "openrouter": self.openrouter.requests}
        return list(requests[upstream])

    def rows(self, wanted: Callable[[dict[str, Any]], bool], count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
        """The ledger rows `wanted` picks, once there are `count` of them (the ledger writes in the background)."""
        deadline, rows = time.monotonic() + timeout, []
        while time.monotonic() < deadline:
            rows = [row for row in self.ledger() if wanted(row)]
            if len(rows) >= count:
                break
            time.sleep(0.05)
        return rows

    def ledger(self) -> list[dict[str, Any]]:
        """Every row of the router's usage ledger, oldest first."""
        (path,) = self.state.rglob("usage.sqlite3")
        with sqlite3.connect(path) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute("SELECT * FROM requests ORDER BY id")]


@contextmanager
def deployed(tmp_path: Path, *, token: str = TOKEN, kiro_brain: KiroBrain = kiro_default,
             openrouter_brain: OpenRouterBrain = openrouter_default, first_routes: str = "") -> Iterator[Deployment]:
    codex, kiro, openrouter = FakeCodex(), FakeKiro(brain=kiro_brain), FakeOpenRouter(brain=openrouter_brain)
    token_file = tmp_path / ".aws" / "sso" / "cache" / "kiro-auth-token.json"
    write_token_file(token_file, kiro)
    codex_auth = tmp_path / "codex-home" / "auth.json"
    write_codex_auth(codex_auth, dict(codex.tokens))
    with ExitStack() as stack:
        kiro_url = stack.enter_context(serve_asgi(kiro.app()))
        codex_url = stack.enter_context(serve_asgi(codex.app()))
        openrouter_url = stack.enter_context(serve_asgi(openrouter.app()))
        config = tmp_path / "config.yaml"
        config.write_text(f"""
server: {{retries: 0, auth_token: {token}}}
providers:
  kiro:
    api_url: {kiro_url}
    social_refresh_url: {kiro_url}/refreshToken
    token_file: {token_file}
  codex:
    base_url: {codex_url}
    token_url: {codex_url}/oauth/token
    auth_file: {codex_auth}
  openrouter:
    api_key: ${{OPENROUTER_API_KEY}}
    base_url: {openrouter_url}
routes:
{first_routes}  - when: {{tier: opus}}
    use: codex/gpt-5.5
    effort: high
  - when: {{tier: sonnet}}
    use: kiro/claude-sonnet-4.5
  - when: {{tier: haiku}}
    use: openrouter/anthropic/claude-haiku-4.5
""")
        state = tmp_path / "state"
        env = router_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg"), XDG_STATE_HOME=str(state),
                         OPENROUTER_API_KEY=API_KEY)
        serving = stack.enter_context(router_serving(config, tmp_path, env))
        yield Deployment(codex, kiro, openrouter, serving.url, state)
