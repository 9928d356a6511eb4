from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import pytest
import yaml

from router.server.app import create_app
from router.server.config import Config, parse_config
from router.server.runtime import Runtime
from router.transport.support import fast_transport_supported
from tests.support.scripted import OtherProvider, ScriptedProvider

os.environ.setdefault("SWITCHYARD_NO_PLUGIN_AUTOLOAD", "1")

FIXTURES = Path(__file__).parent / "fixtures"
CLAUDE_CODE = FIXTURES / "claude-code"

CONFIG = """
server: {ping_interval: 0.2, retries: 1, shutdown_grace: 0.3}
providers: {scripted: {label: primary}, other: {}}
routes:
  - when: {tier: opus}
    use: scripted/big-model
    effort: high
    fallback: [other/backup-model]
  - when: {tier: sonnet}
    use: scripted/mid-model
  - when: {tier: haiku}
    use: other/small-model
  - when: {model: "up-*"}
    use: scripted/{model}
default: {use: scripted/default-model}
"""

CLASSES = {"scripted": ScriptedProvider, "other": OtherProvider}


@pytest.fixture(autouse=True)
def _state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test keeps router state (cooldowns, stored logins) in its own directory, never the user's."""
    folder = tmp_path / "switchyard-state"
    monkeypatch.setenv("SWITCHYARD_STATE_DIR", str(folder))
    return folder


def claude_code_requests() -> list[Path]:
    """Every captured Claude Code request body (the HEAD probes hold `null`)."""
    return sorted(p for p in CLAUDE_CODE.glob("*/*.json") if p.name != "index.json" and json.loads(p.read_text()))


def make_config(text: str = CONFIG, **server: Any) -> Config:
    data = yaml.safe_load(text)
    data.setdefault("server", {}).update(server)
    return parse_config(data, CLASSES, env={})


class Harness:
    """A runtime, its app, an httpx client and an SDK client wired through ASGI."""

    def __init__(self, config: Config) -> None:
        self.runtime = Runtime(config, CLASSES)
        self.runtime.dispatcher.backoff = 0.001
        self.app = create_app(self.runtime)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://router")
        # the SDK brings its own HTTP stack (httpx2 in current releases), so it gets its own ASGI transport
        self.sdk_http = _sdk_client(self.app)
        self.sdk = anthropic.AsyncAnthropic(api_key="sk-test", base_url="http://router", http_client=self.sdk_http,
                                            max_retries=0)

    @property
    def scripted(self) -> ScriptedProvider:
        provider = self.runtime.providers["scripted"]
        assert isinstance(provider, ScriptedProvider)
        return provider

    @property
    def other(self) -> OtherProvider:
        provider = self.runtime.providers["other"]
        assert isinstance(provider, OtherProvider)
        return provider

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.sdk_http.aclose()
        await self.runtime.aclose()


def _sdk_client(app: Any) -> Any:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://router")


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness(make_config())
    yield h
    await h.aclose()


@pytest.fixture
async def make_harness() -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def build(text: str = CONFIG, **server: Any) -> Harness:
        h = Harness(make_config(text, **server))
        made.append(h)
        return h

    yield build
    for h in made:
        await h.aclose()


@pytest.fixture(params=["fast", "httpx"])
def upstream_transport(request: pytest.FixtureRequest) -> str:
    """The `server.upstream_transport` of a live router under test: a test taking it runs on both."""
    if request.param == "fast":  # else the router would quietly fall back, and [fast] test httpx's transport twice
        assert fast_transport_supported() is None, fast_transport_supported()
    return str(request.param)


def body(model: str = "claude-opus-4-8", text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 256, "messages": [{"role": "user", "content": text}], **extra}
