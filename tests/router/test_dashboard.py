"""`GET /dashboard`: the page, its JSON and live tail, its auth, and a real headless Chromium on it.

The browser tests run the router on 127.0.0.1 in front of the fake OpenRouter, so the requests
the page shows went through the whole stack and the usage ledger. They need a `chromium` binary
and the `playwright` package; without them they are skipped, unless
`SWITCHYARD_REQUIRE_BROWSER` is set (as CI does), when they fail instead.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import yaml

from providers.openrouter.provider import OpenRouterProvider
from router.quota import QuotaWindow
from router.server import dashboard
from router.server.app import create_app
from router.server.config import parse_config
from router.server.dashboard import COOKIE, cookie_value
from router.server.runtime import Runtime
from tests.conftest import CLASSES, CONFIG, body, make_config
from tests.providers.openrouter.fake_openrouter import API_KEY, FakeOpenRouter
from tests.support.live import serve_asgi, served

TOKEN = "dashboard-test-token-0123456789"
HAIKU = "claude-haiku-4-5-20251001"
SONNET = "claude-sonnet-5"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 10_000


# ------------------------------------------------------------------------------- plain HTTP


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def client_for(runtime: Runtime) -> httpx.AsyncClient:
    runtime.dispatcher.backoff = 0.001
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://router")


@pytest.fixture
async def router() -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    runtime = Runtime(make_config(), CLASSES)
    client = await client_for(runtime)
    yield runtime, client
    await client.aclose()
    await runtime.aclose()


def section(page: str, name: str) -> str:
    """The HTML of one `<section id=name>` of the page."""
    found = re.search(rf'<section id="{name}">(.*?)</section>', page, re.S)
    assert found, f"no section {name}"
    return found.group(1)


async def test_page_shows_requests_with_tokens_accounts_and_routes(
        router: tuple[Runtime, httpx.AsyncClient]) -> None:
    runtime, client = router
    assert (await client.post("/v1/messages", json=body(SONNET))).status_code == 200
    assert (await client.post("/v1/messages/count_tokens", json=body(HAIKU))).status_code == 200
    response = await client.get("/dashboard")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    requests = section(page, "requests")
    # newest first: the count, then the reply with the scripted provider's usage (11 in, 3 cached, 7 out)
    rows = re.findall(r"<tr(?: class=\"[^\"]*\")?>(.*?)</tr>", requests.split("<tbody", 1)[1], re.S)
    assert len(rows) == 2
    assert HAIKU in rows[0] and "<td>count</td>" in rows[0] and "<td>other</td>" in rows[0]  # counts use no account
    cells = re.findall(r"<td[^>]*>(.*?)</td>", rows[1])
    assert cells[1:9] == [SONNET, "tier=sonnet", "scripted/default", "mid-model", "json", "11", "3", "7"]
    assert cells[-1] == "200"
    accounts = section(page, "accounts")
    assert "scripted/default" in accounts and "other/default" in accounts and "test provider" in accounts
    routes = section(page, "routes")
    for label, target in runtime.rules.table():
        assert label in routes and target.replace("->", "-&gt;") in routes
    assert "scripted/big-model:high -&gt; other/backup-model" in routes
    usage = section(page, "usage")
    assert "<svg" in usage and "<title>scripted " in usage and "ledger off" not in page
    assert "ledger on" in page and "no auth token (this machine only)" in page


async def test_accounts_show_cooldowns_and_quota_windows() -> None:
    clock = Clock(1_800_000_000.0)
    runtime = Runtime(make_config(), CLASSES, clock=clock)
    client = await client_for(runtime)
    try:
        runtime.cooldowns.report_quota("scripted", "default", [QuotaWindow("5 h", 42.0, resets_at=clock.now + 3900),
                                                                QuotaWindow("weekly", None, detail="12 of 50 runs")])
        runtime.cooldowns.strike("other", "default", None, retry_after=600, reason="usage limit reached")
        clock.now += 60
        page = (await client.get("/dashboard")).text
        state = (await client.get("/dashboard/api/state")).json()
    finally:
        await client.aclose()
        await runtime.aclose()
    rows = re.findall(r"<tr>(.*?)</tr>", section(page, "accounts").split("<tbody", 1)[1], re.S)
    scripted, other = rows
    assert '<td class="ok">ok</td>' in scripted
    assert "<li>5 h: 42% used, resets in 1 h 4 min</li><li>weekly: 12 of 50 runs</li>" in scripted
    assert "seen 1 min ago" in scripted
    assert '<td class="warn">cooling</td>' in other
    assert "<li>all models: 9 min (until 01-15 08:10 UTC): usage limit reached</li>" in other
    cooling = state["accounts"][1]["cooling"]
    assert [(c["model"], c["seconds"], c["reason"]) for c in cooling] == [(None, 540, "usage limit reached")]


async def test_every_value_is_escaped(make_harness: Any) -> None:
    hostile = '<img src=x onerror="alert(1)">'
    harness = make_harness(CONFIG.replace("scripted: {label: primary}", f"scripted: {{label: '{hostile}'}}"))
    model = "up-<script>alert(1)</script>"
    assert (await harness.http.post("/v1/messages", json=body(model))).status_code == 200
    page = (await harness.http.get("/dashboard")).text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert hostile not in page and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert re.findall(r"<script\b[^>]*>", page) == ['<script src="/dashboard/static/dashboard.js" defer>']
    state = (await harness.http.get("/dashboard/api/state")).json()
    assert state["recent"][0]["client_model"] == model  # JSON carries the value itself


async def test_state_json_sums_tokens_per_provider_per_day() -> None:
    clock = Clock(1_800_000_000.0)  # 2027-01-15 08:00 UTC
    runtime = Runtime(make_config(), CLASSES, clock=clock)
    client = await client_for(runtime)
    try:
        clock.now -= 86400  # yesterday: two to scripted (opus, sonnet), one to other (haiku)
        for model in ("claude-opus-4-8", SONNET, HAIKU):
            assert (await client.post("/v1/messages", json=body(model))).status_code == 200
        clock.now += 86400
        assert (await client.post("/v1/messages", json=body(SONNET))).status_code == 200
        state = (await client.get("/dashboard/api/state")).json()
    finally:
        await client.aclose()
        await runtime.aclose()
    assert state["ledger"] == {"enabled": True} and len(state["recent"]) == 4
    assert state["usage"]["days"][-2:] == ["2027-01-14", "2027-01-15"] and len(state["usage"]["days"]) == 14
    figures = {(e["day"], e["provider"]): (e["requests"], e["input_tokens"], e["cached_tokens"], e["output_tokens"])
               for e in state["usage"]["by_provider"]}
    assert figures == {("2027-01-14", "scripted"): (2, 22, 6, 14), ("2027-01-14", "other"): (1, 11, 3, 7),
                       ("2027-01-15", "scripted"): (1, 11, 3, 7)}
    assert [a["provider"] for a in state["accounts"]] == ["scripted", "other"]
    assert state["routes"][0] == {"when": "tier=opus", "use": "scripted/big-model:high -> other/backup-model"}


async def test_with_the_ledger_off_the_page_says_so(make_harness: Any) -> None:
    harness = make_harness(CONFIG + "ledger: {enabled: false}\n")
    assert harness.runtime.ledger is None
    assert (await harness.http.post("/v1/messages", json=body())).status_code == 200
    page = (await harness.http.get("/dashboard")).text
    assert 'data-ledger="off"' in page and "The usage ledger is off" in section(page, "requests")
    assert "scripted/default" in section(page, "accounts") and "tier=opus" in section(page, "routes")
    events = await harness.http.get("/dashboard/events")
    assert events.status_code == 404 and events.json()["error"]["type"] == "not_found_error"
    state = (await harness.http.get("/dashboard/api/state")).json()
    assert state["ledger"] == {"enabled": False} and state["recent"] == [] and state["usage"]["by_provider"] == []


async def test_a_configured_token_guards_every_dashboard_endpoint(make_harness: Any) -> None:
    http = make_harness(auth_token=TOKEN).http
    for path in ("/dashboard/api/state", "/dashboard/events"):
        refused = await http.get(path)
        assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"
    page = await http.get("/dashboard")
    assert page.status_code == 401 and "?token=" in page.text and TOKEN not in page.text
    opened = await http.get("/dashboard", headers={"x-api-key": TOKEN})
    assert opened.status_code == 200 and "auth token required" in opened.text and TOKEN not in opened.text
    assert (await http.get("/dashboard/api/state", headers={"authorization": f"Bearer {TOKEN}"})).status_code == 200
    assert (await http.get("/dashboard", headers={"x-api-key": TOKEN + "x"})).status_code == 401

    wrong = await http.get("/dashboard", params={"token": "nope"})
    assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    right = await http.get("/dashboard", params={"token": TOKEN})
    assert right.status_code == 303 and right.headers["location"] == "/dashboard"
    cookie = right.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={cookie_value(TOKEN)};") and TOKEN not in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/dashboard" in cookie

    jar = {"cookie": f"{COOKIE}={cookie_value(TOKEN)}"}
    assert (await http.get("/dashboard", headers=jar)).status_code == 200
    assert (await http.get("/dashboard/api/state", headers=jar)).status_code == 200
    assert (await http.get("/dashboard", headers={"cookie": f"{COOKIE}={cookie_value('other')}"})).status_code == 401
    # the cookie opens the dashboard only, never the API
    api = await http.post("/v1/messages", json=body(), headers={**jar, "x-api-key": cookie_value(TOKEN)})
    assert api.status_code == 401


async def test_static_files_are_served_and_nothing_else(router: tuple[Runtime, httpx.AsyncClient]) -> None:
    _, client = router
    script = await client.get("/dashboard/static/dashboard.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "EventSource" in script.text
    assert (await client.get("/dashboard/static/dashboard.css")).headers["content-type"].startswith("text/css")
    for name in ("dashboard.py", "default.yaml", "..%2Fapp.py"):
        missing = await client.get(f"/dashboard/static/{name}")
        assert missing.status_code == 404 and missing.json()["type"] == "error"


def test_live_tail_streams_each_request_and_ends_when_the_server_drains() -> None:
    runtime = Runtime(make_config(), CLASSES)
    with served(runtime) as (url, server), httpx.Client(base_url=url, timeout=10) as client:
        with client.stream("GET", "/dashboard/events") as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            lines = events.iter_lines()
            assert next(lines).startswith("retry:")
            poster = threading.Thread(target=lambda: client.post("/v1/messages", json=body(SONNET)))
            poster.start()
            event = next(line for line in lines if line.startswith("event: "))
            data = next(lines)
            poster.join(timeout=10)
            assert event == "event: request" and data.startswith("data: ")
            row = json.loads(data.removeprefix("data: "))
            assert (row["client_model"], row["provider"], row["upstream_model"]) == (SONNET, "scripted", "mid-model")
            assert (row["input_tokens"], row["cached_tokens"], row["output_tokens"], row["status"]) == (11, 3, 7, 200)
            started = time.monotonic()
            server.handle_exit(signal.SIGINT, None)  # Ctrl-C: the tail ends instead of holding the shutdown
            rest = list(lines)
            assert time.monotonic() - started < 5, "the live tail outlived the shutdown"
            assert not any(line.startswith("data: ") for line in rest)


# ------------------------------------------------------------------------------- Chromium


def _browser() -> tuple[str, Any]:
    """The chromium binary and playwright's sync API, or skip (fail under SWITCHYARD_REQUIRE_BROWSER)."""
    binary = os.environ.get("SWITCHYARD_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright import sync_api
    except ImportError:
        sync_api = None  # type: ignore[assignment]
    needs = (("a chromium binary (apt-get install chromium)", binary),
             ("the playwright package (pip install playwright)", sync_api))
    missing = [what for what, found in needs if not found]
    if missing:
        reason = f"the dashboard's browser tests need {' and '.join(missing)}"
        if os.environ.get("SWITCHYARD_REQUIRE_BROWSER"):
            pytest.fail(reason + ", and SWITCHYARD_REQUIRE_BROWSER is set")
        pytest.skip(reason)
    assert binary is not None
    return binary, sync_api


@pytest.fixture
def browser_page() -> Iterator[Any]:
    """A page in a fresh headless Chromium (its own profile folder), closed afterwards."""
    binary, sync_api = _browser()
    with tempfile.TemporaryDirectory() as profile, sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=binary, args=BROWSER_ARGS, headless=True)
        try:
            context.set_default_timeout(WAIT_MS)
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


@pytest.fixture
def openrouter_config() -> Iterator[tuple[FakeOpenRouter, dict[str, Any]]]:
    fake = FakeOpenRouter()
    with serve_asgi(fake.app()) as backend:
        config = yaml.safe_load(f"""
server: {{retries: 0}}
providers:
  openrouter: {{api_key: {API_KEY}, base_url: "{backend}", anthropic_endpoint: false}}
routes:
  - when: {{tier: haiku}}
    use: openrouter/meta-llama/llama-3.3-70b-instruct:free
  - when: {{tier: sonnet, thinking: true}}
    use: openrouter/anthropic/claude-sonnet-4.5
  - when: {{tier: sonnet}}
    use: openrouter/openai/gpt-5
default: {{use: openrouter/openai/gpt-5}}
""")
        yield fake, config


def live_router(config: dict[str, Any], **server: Any) -> Runtime:
    config["server"].update(server)
    classes: dict[str, Any] = {"openrouter": OpenRouterProvider}
    return Runtime(parse_config(config, classes, env={}), classes)


def ask(url: str, model: str, token: str | None = None) -> None:
    headers = {"x-api-key": token} if token else {}
    reply = httpx.post(f"{url}/v1/messages", json=body(model), headers=headers, timeout=10, trust_env=False)
    assert reply.status_code == 200, reply.text


def test_chromium_shows_requests_accounts_routes_and_the_live_tail(
        browser_page: Any, openrouter_config: tuple[FakeOpenRouter, dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard, "REFRESH_SECONDS", 1)
    fake, config = openrouter_config
    page = browser_page
    runtime = live_router(config)
    with served(runtime) as (url, server):
        ask(url, HAIKU)  # 1200 prompt tokens of which 1024 cached, 42 out, cost 0.00123
        response = page.goto(f"{url}/dashboard")
        assert response.status == 200
        first = page.locator("#request-rows tr").first
        assert first.locator("td").all_inner_texts()[1:10] == [
            HAIKU, "tier=haiku", "openrouter/default", "meta-llama/llama-3.3-70b-instruct:free", "json",
            "176", "1,024", "42", "0.00123"]
        accounts = page.locator("#accounts tbody tr").all_inner_texts()
        assert len(accounts) == 1 and accounts[0].startswith("openrouter/default\tok\t")
        routes = page.locator("#routes tbody tr").all_inner_texts()
        assert [r.split("\t")[1:] for r in routes] == [
            ["tier=haiku", "openrouter/meta-llama/llama-3.3-70b-instruct:free"],
            ["tier=sonnet thinking", "openrouter/anthropic/claude-sonnet-4.5"],
            ["tier=sonnet", "openrouter/openai/gpt-5"],
            ["default", "openrouter/openai/gpt-5"]]
        assert page.locator("#providers tbody tr").first.inner_text().startswith("openrouter\tok")
        assert page.locator("#usage svg rect title").first.text_content().startswith("openrouter ")
        assert "openrouter" in page.locator("#usage-totals").inner_text()

        page.locator("#live-status.on", has_text="live").wait_for()  # the EventSource is open
        page.evaluate("window.sameDocument = true")
        fake.usage = {"prompt_tokens": 300, "completion_tokens": 9, "total_tokens": 309,
                      "prompt_tokens_details": {"cached_tokens": 0}}
        ask(url, SONNET)
        page.locator("#request-rows tr:nth-child(2)").wait_for()  # locators, not wait_for_function: CSP forbids eval
        live = page.locator("#request-rows tr").first
        assert "new" in (live.get_attribute("class") or "")
        assert live.locator("td").all_inner_texts()[1:9] == [
            SONNET, "tier=sonnet", "openrouter/default", "openai/gpt-5", "json", "300", "0", "9"]
        assert page.evaluate("window.sameDocument") is True  # shown without a reload

        # the state sections refresh in place: a cooldown and the second request's tokens appear
        assert server.loop is not None
        server.loop.call_soon_threadsafe(lambda: runtime.cooldowns.strike(
            "openrouter", "default", None, retry_after=600, reason="credits used up"))
        page.locator("#accounts td.warn", has_text="cooling").wait_for()
        assert "credits used up" in page.locator("#accounts tbody tr").first.inner_text()
        assert page.locator("#usage-totals td").all_inner_texts()[:5] == ["openrouter", "2", "476", "1,024", "51"]
        assert page.evaluate("window.sameDocument") is True
        page.goto("about:blank")  # closes the live tail, which would hold the server's shutdown


def test_chromium_needs_the_token_once_then_keeps_a_cookie(
        browser_page: Any, openrouter_config: tuple[FakeOpenRouter, dict[str, Any]]) -> None:
    _, config = openrouter_config
    page = browser_page
    with served(live_router(config, auth_token=TOKEN)) as (url, _):
        ask(url, HAIKU, TOKEN)
        refused = page.goto(f"{url}/dashboard")
        assert refused.status == 401 and "Token needed" in page.inner_text("h1")
        assert page.goto(f"{url}/dashboard?token=wrong").status == 401
        assert page.context.cookies() == []

        opened = page.goto(f"{url}/dashboard?token={TOKEN}")
        assert opened.status == 200 and page.url == f"{url}/dashboard"  # the token left the address bar
        assert page.locator("#request-rows tr").first.locator("td").nth(1).inner_text() == HAIKU
        (cookie,) = page.context.cookies()
        assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
            COOKIE, True, "Strict", "/dashboard")
        assert TOKEN not in cookie["value"]
        assert page.evaluate("document.cookie") == ""  # HttpOnly: no script can read it

        page.locator("#live-status.on", has_text="live").wait_for()  # the EventSource is open
        ask(url, SONNET, TOKEN)
        page.locator("#request-rows tr:nth-child(2)").wait_for()  # locators, not wait_for_function: CSP forbids eval
        assert page.goto(f"{url}/dashboard").status == 200  # the cookie alone opens it later
        page.goto("about:blank")
