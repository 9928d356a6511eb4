"""`router usage` against what the backends reported: requests through the real app on two
providers (fake Codex and fake OpenRouter, each reporting usage; OpenRouter's also a cost),
then the command's totals, grouped every way, must equal the sums of those reports."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.server import cli
from router.server.app import create_app
from router.server.config import load_config
from router.server.ledger import ledger_file
from router.server.plugins import make_plugin_manager, provider_classes
from router.server.runtime import Runtime, state_dir
from tests.providers.codex.fake_backend import FakeCodex
from tests.providers.openrouter.fake_openrouter import API_KEY, FakeOpenRouter
from tests.support.live import serve_asgi

OPUS, SONNET = "claude-opus-4-8", "claude-sonnet-4-5"
CODEX_REPORTED = {"input_tokens": 1200, "cached_tokens": 1024, "output_tokens": 42}
"""What the fake Codex reports for every reply (`response.completed`; its input includes the cached part)."""
OPENROUTER_USAGE = {"prompt_tokens": 3000, "completion_tokens": 77, "total_tokens": 3077, "cost": 0.0042,
                    "prompt_tokens_details": {"cached_tokens": 500, "cache_write_tokens": 0}}


@dataclass
class Deployment:
    config: Path
    codex: FakeCodex
    openrouter: FakeOpenRouter


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    codex, openrouter = FakeCodex(), FakeOpenRouter(usage=OPENROUTER_USAGE)
    with serve_asgi(codex.app()) as codex_url, serve_asgi(openrouter.app()) as openrouter_url:
        auth = tmp_path / "codex-auth.json"
        auth.write_text(json.dumps({"auth_mode": "chatgpt", "tokens": codex.tokens}))
        auth.chmod(0o600)
        config = tmp_path / "config.yaml"
        config.write_text(f"""
server: {{retries: 0}}
providers:
  codex: {{base_url: "{codex_url}", token_url: "{codex_url}/oauth/token", auth_file: "{auth}"}}
  openrouter: {{api_key: {API_KEY}, base_url: "{openrouter_url}", anthropic_endpoint: false}}
routes:
  - when: {{tier: opus}}
    use: codex/gpt-5.5
  - when: {{tier: sonnet}}
    use: openrouter/anthropic/claude-sonnet-4.5
""")
        yield Deployment(config, codex, openrouter)


def body(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": "hello there"}], **extra}


async def serve_requests(deployment: Deployment) -> list[httpx.Response]:
    """Two replies from each provider (one JSON, one stream) and an OpenRouter failure, through the app."""
    runtime = Runtime(load_config(deployment.config, provider_classes(make_plugin_manager())),
                      provider_classes(make_plugin_manager()))
    deployment.openrouter.fail_next.append((400, {"error": {"code": 400, "message": "bad input"}}, {}))
    responses = []
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)),
                                     base_url="http://router") as client:
            for request in (body(SONNET), body(OPUS), body(OPUS, stream=True), body(SONNET), body(SONNET, stream=True)):
                responses.append(await client.post("/v1/messages", json=request))
    finally:
        await runtime.aclose()
    return responses


def usage(deployment: Deployment, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert cli.main(["usage", "--config", str(deployment.config), *args]) == 0
    out = capsys.readouterr().out
    return json.loads(out) if "--json" in args else out


def reported(requests: int, input_tokens: int, output_tokens: int, cached: int, cost: float | None,
             errors: int) -> dict[str, Any]:
    return {"requests": requests, "input_tokens": input_tokens, "output_tokens": output_tokens,
            "cached_tokens": cached, "cost": cost, "errors": errors}


async def test_usage_equals_what_the_backends_reported(deployment: Deployment,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    responses = await serve_requests(deployment)
    assert [r.status_code for r in responses] == [400, 200, 200, 200, 200], [r.text for r in responses]
    assert len(deployment.codex.requests) == 2 and len(deployment.openrouter.requests) == 3

    # each backend's report, in Anthropic's terms (input excludes the cached part), summed per provider
    codex_input = CODEX_REPORTED["input_tokens"] - CODEX_REPORTED["cached_tokens"]
    codex = reported(2, 2 * codex_input, 2 * CODEX_REPORTED["output_tokens"], 2 * CODEX_REPORTED["cached_tokens"],
                     None, 0)
    cached = OPENROUTER_USAGE["prompt_tokens_details"]["cached_tokens"]
    openrouter = reported(3, 2 * (OPENROUTER_USAGE["prompt_tokens"] - cached), 2 * OPENROUTER_USAGE["completion_tokens"],
                          2 * cached, 2 * OPENROUTER_USAGE["cost"], 1)
    both = {name: codex[name] + openrouter[name] for name in ("requests", "input_tokens", "output_tokens",
                                                               "cached_tokens", "errors")}

    (total,) = usage(deployment, capsys, "--json")
    assert total == {"key": None, **both, "cost": pytest.approx(openrouter["cost"])}

    by_provider = {group.pop("key"): group for group in usage(deployment, capsys, "--by", "provider", "--json")}
    assert by_provider == {"codex": codex, "openrouter": {**openrouter, "cost": pytest.approx(openrouter["cost"])}}

    by_model = {group["key"]: group["requests"] for group in usage(deployment, capsys, "--by", "model", "--json")}
    assert by_model == {"codex/gpt-5.5": 2, "openrouter/anthropic/claude-sonnet-4.5": 3}
    by_account = {group["key"]: group["output_tokens"] for group in usage(deployment, capsys, "--by", "account", "--json")}
    # the failed request has no account: none's reply began (its provider and model are the route's)
    assert by_account == {"codex/default": codex["output_tokens"], "openrouter/default": openrouter["output_tokens"],
                          None: 0}
    by_rule = {group["key"]: group["errors"] for group in usage(deployment, capsys, "--by", "rule", "--json")}
    assert by_rule == {"tier=opus": 0, "tier=sonnet": 1}
    (day,) = usage(deployment, capsys, "--by", "day", "--json")
    assert day["key"] == datetime.now(UTC).strftime("%Y-%m-%d") and day["requests"] == 5

    table = usage(deployment, capsys, "--by", "provider").splitlines()
    assert table[0].startswith("usage since ") and ", by provider" in table[0]
    assert table[1].split() == ["provider", "requests", "input", "output", "cached", "cost", "errors"]
    assert table[2].split() == ["openrouter", "3", f"{openrouter['input_tokens']:,}", str(openrouter["output_tokens"]),
                                f"{openrouter['cached_tokens']:,}", f"{openrouter['cost']:.6f}", "1"]
    assert table[3].split() == ["codex", "2", str(codex["input_tokens"]), str(codex["output_tokens"]),
                                f"{codex['cached_tokens']:,}", "-", "0"]
    assert table[4].split() == ["total", "5", f"{both['input_tokens']:,}", str(both["output_tokens"]),
                                f"{both['cached_tokens']:,}", f"{openrouter['cost']:.6f}", "1"]


async def test_since_bounds_the_totals(deployment: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    await serve_requests(deployment)
    assert usage(deployment, capsys, "--since", "30m", "--json")[0]["requests"] == 5
    tomorrow = datetime.fromtimestamp(time.time() + 86400, UTC).strftime("%Y-%m-%d")
    assert usage(deployment, capsys, "--since", tomorrow, "--json")[0]["requests"] == 0
    assert usage(deployment, capsys, "--since", tomorrow, "--by", "provider", "--json") == []


def test_a_bad_since_is_an_error(deployment: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["usage", "--config", str(deployment.config), "--since", "last week"]) == 2
    err = capsys.readouterr().err
    assert "--since" in err and "7d" in err


def test_nothing_recorded_yet_is_all_zero_and_creates_no_file(deployment: Deployment,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    (total,) = usage(deployment, capsys, "--json")
    assert total == {"key": None, **reported(0, 0, 0, 0, None, 0)}
    assert usage(deployment, capsys).splitlines()[-1].split() == ["total", "0", "0", "0", "0", "-", "0"]
    assert not ledger_file(state_dir()).exists()


def test_a_disabled_ledger_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("ledger: {enabled: false}\n")
    assert cli.main(["usage", "--config", str(config)]) == 1
    assert "ledger.enabled: false" in capsys.readouterr().err
