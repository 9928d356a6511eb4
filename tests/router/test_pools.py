"""Account pools and reset-aware cooldowns, end to end through the app.

Two Codex accounts are two fake Codex backends (each accepts only its own tokens), so "no
request reached the first account" is a count on its fake. Time is a controllable clock.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from providers.codex.provider import CodexProvider
from router.errors import ConfigError, RateLimited
from router.server.app import create_app
from router.server.config import parse_config
from router.server.cooldowns import MemoryStore, SqliteStore, Store
from router.server.runtime import Runtime
from tests.providers.codex.fake_backend import FakeCodex, chatgpt_tokens
from tests.support.live import serve_asgi
from tests.support.scripted import ScriptedProvider

CLASSES: dict[str, Any] = {"codex": CodexProvider, "scripted": ScriptedProvider}
BODY = {"model": "claude-sonnet-5", "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def usage_limit(resets_in: int) -> tuple[int, dict[str, Any]]:
    return 429, {"error": {"type": "usage_limit_reached", "message": "The usage limit has been reached",
                           "plan_type": "plus", "resets_in_seconds": resets_in}}


class Router:
    """A runtime over the given config, its app, and a client."""

    def __init__(self, text: str, clock: Clock, store: Store) -> None:
        self.runtime = Runtime(parse_config(yaml.safe_load(text), CLASSES, env={}), CLASSES, store=store, clock=clock)
        self.runtime.dispatcher.backoff = 0.0
        transport = httpx.ASGITransport(app=create_app(self.runtime))
        self.http = httpx.AsyncClient(transport=transport, base_url="http://router")

    async def ask(self, session: str | None = None, **extra: Any) -> httpx.Response:
        headers = {"x-claude-code-session-id": session} if session else {}
        return await self.http.post("/v1/messages", json={**BODY, **extra}, headers=headers)

    def scripted(self, account: str) -> ScriptedProvider:
        found = self.runtime.pools["scripted"].get(account)
        assert found is not None and isinstance(found.instance, ScriptedProvider)
        return found.instance

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.runtime.aclose()


@pytest.fixture
def codex_pair(tmp_path: Path) -> Iterator[tuple[FakeCodex, FakeCodex, str]]:
    """Two fake Codex backends, one per account, and the `providers:` config naming both accounts."""
    first, second = FakeCodex(), FakeCodex(tokens=chatgpt_tokens("acct-456", email="work@example.com"))
    with serve_asgi(first.app()) as url_a, serve_asgi(second.app()) as url_b:
        accounts = {}
        for name, fake, url in (("home", first, url_a), ("work", second, url_b)):
            auth = tmp_path / f"{name}.json"
            auth.write_text(json.dumps({"auth_mode": "chatgpt", "tokens": fake.tokens}))
            auth.chmod(0o600)
            accounts[name] = {"base_url": url, "token_url": f"{url}/oauth/token", "auth_file": str(auth)}
        yield first, second, json.dumps({"codex": {"accounts": accounts, "strategy": "fill-first"}})


@pytest.fixture
async def make_router() -> AsyncIterator[Any]:
    made: list[Router] = []

    def build(text: str, clock: Clock, store: Store | None = None) -> Router:
        router = Router(text, clock, store if store is not None else MemoryStore())
        made.append(router)
        return router

    yield build
    for router in made:
        await router.aclose()


async def test_a_used_up_account_is_skipped_until_its_reset(codex_pair: Any, make_router: Any) -> None:
    home, work, providers = codex_pair
    clock = Clock()
    router = make_router(f"providers: {providers}\ndefault: {{use: codex/gpt-5.5}}", clock)
    home.fail_next.append(usage_limit(600))

    first = await router.ask()
    assert first.status_code == 200, first.text
    assert (len(home.requests), len(work.requests)) == (1, 1)  # home said "used up"; work answered at once

    clock.now += 599
    assert (await router.ask()).status_code == 200
    assert (len(home.requests), len(work.requests)) == (1, 2)  # no request to the cooling account

    clock.now += 2  # past the reset the backend gave
    assert (await router.ask()).status_code == 200
    assert (len(home.requests), len(work.requests)) == (2, 2)  # fill-first: home is first again


async def test_a_dry_pool_falls_back_to_the_next_provider_at_once(codex_pair: Any, make_router: Any) -> None:
    home, work, providers = codex_pair
    clock = Clock()
    text = f"""
providers: {providers}
routes:
  - when: {{tier: sonnet}}
    use: codex/gpt-5.5
    fallback: [scripted/backup]
"""
    router = make_router(text, clock)
    home.fail_next.append(usage_limit(3600))
    work.fail_next.append(usage_limit(1800))
    assert (await router.ask()).status_code == 200
    assert len(router.scripted("default").calls) == 1

    reply = await router.ask()
    assert reply.status_code == 200
    assert reply.json()["content"][0]["text"] == "echo: hi"
    assert (len(home.requests), len(work.requests)) == (1, 1)  # the dry pool was skipped, not asked again
    assert [route.model for _request, route in router.scripted("default").calls] == ["backup", "backup"]


async def test_everything_dry_is_one_429_with_the_earliest_reset(codex_pair: Any, make_router: Any) -> None:
    home, work, providers = codex_pair
    clock = Clock()
    router = make_router(f"providers: {providers}\ndefault: {{use: codex/gpt-5.5}}", clock)
    home.fail_next.append(usage_limit(3600))
    work.fail_next.append(usage_limit(1800))

    reply = await router.ask()
    assert reply.status_code == 429
    assert reply.headers["retry-after"] == "1800"
    error = reply.json()
    assert error["type"] == "error" and error["error"]["type"] == "rate_limit_error"
    message = error["error"]["message"]
    assert "codex/gpt-5.5 account home" in message and "codex/gpt-5.5 account work" in message

    clock.now += 600
    again = await router.ask()
    assert again.status_code == 429 and again.headers["retry-after"] == "1200"
    assert (len(home.requests), len(work.requests)) == (1, 1)  # answered from the cooldowns alone


SCRIPTED_PAIR = """
providers:
  scripted:
    accounts: {a: {label: A}, b: {label: B}}
default: {use: scripted/m}
"""


async def test_sticky_sessions_keep_their_account_and_move_only_when_it_cools(make_router: Any) -> None:
    router = make_router(SCRIPTED_PAIR, Clock())
    for _ in range(3):
        for session in ("s1", "s2"):
            assert (await router.ask(session)).status_code == 200
    a, b = router.scripted("a"), router.scripted("b")
    assert {r.session_id for r, _ in a.calls} | {r.session_id for r, _ in b.calls} == {"s1", "s2"}
    assert len({r.session_id for r, _ in a.calls}) == 1 and len({r.session_id for r, _ in b.calls}) == 1
    assert len(a.calls) == len(b.calls) == 3  # new sessions were spread, then each stayed put

    held = a if a.calls[0][0].session_id == "s1" else b
    moved_to = b if held is a else a
    held.queue([RateLimited("slow down", retry_after=60)])
    assert (await router.ask("s1")).status_code == 200
    assert moved_to.calls[-1][0].session_id == "s1"
    assert (await router.ask("s1")).status_code == 200
    assert moved_to.calls[-1][0].session_id == "s1"  # it stays on its new account


async def test_a_restart_keeps_cooldowns_and_sessions(tmp_path: Path, make_router: Any) -> None:
    clock = Clock()
    path = tmp_path / "state" / "router.sqlite3"
    router = make_router(SCRIPTED_PAIR.replace("default:", "    strategy: fill-first\ndefault:"), clock,
                         SqliteStore(path, clock=clock))
    router.scripted("a").queue([RateLimited("used up", retry_after=900)])
    assert (await router.ask()).status_code == 200
    await router.aclose()

    restarted = make_router(SCRIPTED_PAIR.replace("default:", "    strategy: fill-first\ndefault:"), clock,
                            SqliteStore(path, clock=clock))
    assert (await restarted.ask()).status_code == 200
    assert (len(restarted.scripted("a").calls), len(restarted.scripted("b").calls)) == (0, 1)
    health = (await restarted.http.get("/health")).json()
    cooling = {entry["account"]: entry["cooling"] for entry in health["accounts"]}
    assert cooling["b"] == [] and cooling["a"][0]["reason"] == "used up" and cooling["a"][0]["seconds"] == 900


async def test_a_model_limit_leaves_the_accounts_other_models_usable(make_router: Any) -> None:
    text = """
providers: {scripted: {accounts: [default]}}
routes:
  - when: {tier: sonnet}
    use: scripted/m1
  - when: {tier: opus}
    use: scripted/m2
"""
    router = make_router(text, Clock())
    provider = router.scripted("default")
    provider.queue([RateLimited("m1 at capacity", retry_after=120, scope="model")])
    assert (await router.ask()).status_code == 429
    assert (await router.ask(model="claude-opus-5")).status_code == 200
    assert (await router.ask()).status_code == 429
    assert [route.model for _request, route in provider.calls] == ["m1", "m2"]


CAPTURES = Path(__file__).resolve().parents[1] / "fixtures" / "claude-code"
LANES = """
providers:
  scripted: {}
  other: {}
routes:
  - when: {background: true}
    use: other/small
  - when: {tier: "*", images: true}
    use: other/vision
  - when: {long_context: true}
    use: other/long
  - when: {tier: opus, thinking: true}
    use: scripted/deep
    effort: high
  - when: {tools: false}
    use: other/chat
default: {use: scripted/main}
"""


def captured(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CAPTURES / name).read_text())
    return data


@pytest.mark.parametrize(
    ("capture", "served_by"),
    [
        ("nonessential/02-title-generation-haiku.json", "other/small"),
        ("default/02-main-turn-opus.json", "scripted/deep"),
        ("think/03-tool-result-turn-opus.json", "scripted/deep"),
        ("sonnet/02-main-turn-sonnet.json", "scripted/main"),
        ("haiku/03-tool-result-turn-haiku.json", "scripted/main"),
    ],
)
async def test_lanes_route_the_captured_claude_code_requests(
    capture: str, served_by: str, make_router: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.scripted import OtherProvider

    monkeypatch.setitem(CLASSES, "other", OtherProvider)
    router = make_router(LANES, Clock())
    body = captured(capture)
    reply = await router.http.post("/v1/messages", content=json.dumps(body, separators=(",", ":")),
                                   headers={"content-type": "application/json"})
    assert reply.status_code == 200, reply.text
    provider, model = served_by.split("/")
    calls = router.runtime.pools[provider].first.instance.calls  # type: ignore[attr-defined]
    assert [route.model for _request, route in calls] == [model]


async def test_a_screenshot_and_a_long_prompt_take_their_lanes(make_router: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.scripted import OtherProvider

    monkeypatch.setitem(CLASSES, "other", OtherProvider)
    router = make_router(LANES.replace("default: {use: scripted/main}", "default: {use: scripted/main}\nserver: {long_context_tokens: 50000}"), Clock())
    body = captured("sonnet/03-tool-result-turn-sonnet.json")
    shot = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo=" * 2000}}
    with_image = {**body, "messages": [*body["messages"], {"role": "user", "content": [shot, {"type": "text", "text": "see"}]}]}
    long_text = {**body, "messages": [*body["messages"], {"role": "user", "content": "x " * 150_000}]}
    for data in (with_image, long_text):
        reply = await router.http.post("/v1/messages", content=json.dumps(data), headers={"content-type": "application/json"})
        assert reply.status_code == 200, reply.text
    other = router.runtime.pools["other"].first.instance
    assert [route.model for _request, route in other.calls] == ["vision", "long"]  # type: ignore[attr-defined]


async def test_a_full_rate_limit_window_cools_the_account_before_any_request_fails(
    codex_pair: Any, make_router: Any
) -> None:
    home, work, providers = codex_pair
    clock = Clock()
    router = make_router(f"providers: {providers}\ndefault: {{use: codex/gpt-5.5}}", clock)
    home.reply_headers = {
        "x-codex-primary-used-percent": "100", "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-at": str(int(clock.now + 5400)),
        "x-codex-secondary-used-percent": "41.5", "x-codex-secondary-window-minutes": "10080",
    }
    assert (await router.ask()).status_code == 200  # served, but the reply said the 5 h window is used up
    assert (await router.ask()).status_code == 200
    assert (len(home.requests), len(work.requests)) == (1, 1)

    health = (await router.http.get("/health")).json()
    state = next(entry for entry in health["accounts"] if entry["account"] == "home")
    assert state["ok"] is False and state["cooling"][0]["seconds"] == 5400
    assert {(w["window_minutes"], w["used_percent"]) for w in state["quota"]} == {(300, 100.0), (10080, 41.5)}


async def test_a_failing_quota_record_fails_no_reply(
    codex_pair: Any, make_router: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The sink a provider is given never raises, so no provider needs to guard the call."""
    home, _, providers = codex_pair
    router = make_router(f"providers: {providers}\ndefault: {{use: codex/gpt-5.5}}", Clock())
    home.reply_headers = {"x-codex-primary-used-percent": "12", "x-codex-primary-window-minutes": "300"}

    def broken(*args: Any) -> None:
        raise RuntimeError("store broke")

    monkeypatch.setattr(router.runtime.cooldowns, "report_quota", broken)
    assert (await router.ask()).status_code == 200
    assert "recording the quota figures of codex/home failed" in caplog.text


async def test_the_access_log_names_the_account_never_a_secret(
    codex_pair: Any, make_router: Any, caplog: pytest.LogCaptureFixture
) -> None:
    home, work, providers = codex_pair
    router = make_router(f"providers: {providers}\ndefault: {{use: codex/gpt-5.5}}", Clock())
    home.fail_next.append(usage_limit(600))
    with caplog.at_level("INFO", logger="router.access"):
        assert (await router.ask()).status_code == 200
    (line,) = [r.getMessage() for r in caplog.records if r.name == "router.access"]
    assert "account=work" in line and "status=200" in line
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for fake in (home, work):
        assert fake.tokens["access_token"] not in logged and fake.tokens["refresh_token"] not in logged


def test_a_rule_naming_an_account_the_pool_lacks_stops_the_start() -> None:
    text = SCRIPTED_PAIR.replace("default: {use: scripted/m}", "routes:\n  - {when: {tier: opus}, use: scripted/m, accounts: [c]}")
    with pytest.raises(ConfigError, match=r"routes\[0\]\.accounts\.scripted: no account 'c' \(accounts of scripted: a, b\)"):
        Runtime(parse_config(yaml.safe_load(text), CLASSES, env={}), CLASSES, store=MemoryStore())
