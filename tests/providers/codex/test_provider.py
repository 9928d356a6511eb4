"""The Codex provider's I/O shell, against a respx-mocked backend, token endpoint and catalogue.

Translation itself is covered in test_translate.py, the token file/manager in test_auth.py,
and what every provider must do (event grammar, closing the upstream response, mapping
transport failures, 429/5xx flags, secrets kept out of errors) in the contract suite
(tests/contract, harness in contract.py). These tests drive `CodexProvider` through that
harness for what is Codex's own: what goes on the wire (URL, headers, body), the 401 refresh
and replay, the retry without reasoning, Codex's failure shapes, the model catalogue,
credential status, login import/logout, and the plugin registration.
"""

from __future__ import annotations

import gzip
import json
import logging
import stat
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from providers.codex.models import FALLBACK_MODELS
from providers.codex.provider import CLIENT_VERSION, CodexProvider, CodexRouteOptions, CodexSettings
from providers.codex.tokens import default_opencode_path
from router.anthropic.decode import parse_request
from router.anthropic.signatures import encode_signature
from router.server.config import parse_config
from router.conversation import Request, Signature
from router.errors import AuthError, ConfigError, ContextTooLong, Overloaded, ProviderError, RateLimited
from router.errors import UpstreamRejected, UpstreamUnavailable
from router.events import MessageStart, MessageStop, TextDelta, TextStart
from router.server.plugins import make_plugin_manager, provider_classes
from router.provider import DEFAULT_ACCOUNT, LoginOptions, ModelInfo, ProviderContext
from router.quota import QuotaWindow
from router.route import Route
from router.testing.scripted import ScriptedBody, json_response, scripted_response
from tests.providers.codex import streams
from tests.providers.codex.contract import (
    BASE,
    CATALOGUE,
    CONTEXT,
    MODEL,
    CodexHarness,
    Pairs,
    auth_document,
    catalogue_entry,
    sse,
)
from tests.providers.codex.fake_backend import chatgpt_tokens, check_request, jwt
from tests.providers.conftest import Opened

SESSION = "5b0f3c1e-7d2a-4f6b-9c8e-1a2b3c4d5e6f"
BLOB = "gAAAAABoQ1xYz-not-verifiable-by-this-account_0123456789abcdef=="

Codex = CodexHarness


# -- wire helpers ------------------------------------------------------------------------------------


def streamed(events: Pairs, *, fail: Exception | None = None) -> tuple[httpx.Response, ScriptedBody]:
    """A 200 SSE reply (no content-type, like the real backend) and its body, to check it gets closed."""
    return scripted_response(200, sse(events), fail=fail)


failing = json_response


def sent(call: Any) -> dict[str, Any]:
    """The JSON body of one recorded request."""
    request = cast(httpx.Request, call.request)
    return cast(dict[str, Any], json.loads(request.content))


def items_of(body: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    return [item for item in body["input"] if item.get("type") == kind]


# -- requests ------------------------------------------------------------------------------------------


def request(
    *messages: dict[str, Any], session_id: str | None = SESSION, **extra: Any
) -> Request:
    data = {
        "model": "claude-opus-4-8",
        "max_tokens": 4096,
        "messages": list(messages) or [{"role": "user", "content": "hello"}],
        "system": [{"type": "text", "text": "You are Claude Code."}],
        **extra,
    }
    return parse_request(data, session_id=session_id)


BASH = {
    "name": "Bash",
    "description": "Run a shell command",
    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
}


def with_signed_thinking() -> Request:
    """A follow-up turn whose assistant turn carries reasoning Codex signed (and now cannot verify)."""
    signature = encode_signature(Signature("codex", MODEL, BLOB))
    return request(
        {"role": "user", "content": "first question"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Considering.", "signature": signature},
                {"type": "text", "text": "first answer"},
            ],
        },
        {"role": "user", "content": "second question"},
        thinking={"type": "enabled", "budget_tokens": 8000},
    )


# -- the provider under test --------------------------------------------------------------------------


@pytest.fixture
def make(tmp_path: Path, opened: Opened) -> Callable[..., Codex]:
    return lambda **options: opened(CodexHarness(tmp_path, **options))


@pytest.fixture
def codex(make: Callable[..., Codex]) -> Codex:
    return make()


def text_reply() -> tuple[httpx.Response, ScriptedBody]:
    return streamed(streams.PLAIN_TEXT)


# -- the request on the wire ----------------------------------------------------------------------------


async def test_request_goes_to_responses_with_the_codex_headers(codex: Codex) -> None:
    response, _ = text_reply()
    codex.serve(response)
    await codex.run(request())
    assert codex.responses.call_count == 1
    sent_request = codex.responses.calls.last.request
    assert str(sent_request.url) == f"{BASE}/responses"
    headers = sent_request.headers
    assert headers["authorization"] == f"Bearer {codex.access}"
    assert headers["chatgpt-account-id"] == "acct-123"
    assert headers["originator"] == "codex_cli_rs"
    assert headers["session_id"] == SESSION
    assert headers["accept"] == "text/event-stream"
    assert headers["content-type"] == "application/json"
    assert headers["version"] == CLIENT_VERSION
    assert headers["user-agent"].startswith(f"codex_cli_rs/{CLIENT_VERSION} (")


async def test_body_passes_the_backends_rules(codex: Codex) -> None:
    response, _ = text_reply()
    codex.serve(response)
    await codex.run(request(tools=[BASH]))
    body = sent(codex.responses.calls.last)
    assert check_request(body) is None
    assert body["store"] is False and body["stream"] is True
    assert body["instructions"] == "You are Claude Code."
    assert body["model"] == MODEL
    assert body["prompt_cache_key"] == SESSION
    assert body["reasoning"]["effort"] == "high"  # the route's effort
    assert [tool["name"] for tool in body["tools"]] == ["Bash"]
    for rejected in ("max_output_tokens", "max_tokens", "temperature", "metadata", "service_tier"):
        assert rejected not in body


async def test_without_a_session_there_is_no_session_header_or_cache_key(codex: Codex) -> None:
    response, _ = text_reply()
    codex.serve(response)
    await codex.run(request(session_id=None))
    assert "session_id" not in codex.responses.calls.last.request.headers
    assert "prompt_cache_key" not in sent(codex.responses.calls.last)


@pytest.mark.parametrize(
    ("settings_fast", "route_options", "tier"),
    [
        (False, {}, None),
        (True, {}, "priority"),
        (False, {"fast": True}, "priority"),
        (True, {"fast": False}, None),
        (True, {"fast": None}, "priority"),
    ],
    ids=["off", "settings", "route-on", "route-off-beats-settings", "route-unset"],
)
async def test_service_tier_follows_settings_and_route_options(
    make: Callable[..., Codex], settings_fast: bool, route_options: dict[str, Any], tier: str | None
) -> None:
    codex = make(fast=settings_fast)
    response, _ = text_reply()
    codex.serve(response)
    await codex.run(request(), route=Route("codex", MODEL, "high", CodexRouteOptions(**route_options) if route_options else None))
    body = sent(codex.responses.calls.last)
    assert body.get("service_tier") == tier
    assert check_request(body) is None


@pytest.mark.parametrize(
    ("entries", "route", "effort"),
    [
        ([catalogue_entry(MODEL, ("low", "medium"))], Route("codex", MODEL, "xhigh"), "medium"),
        ([catalogue_entry(MODEL, ("low", "medium", "high", "xhigh"))], Route("codex", MODEL, "xhigh"), "xhigh"),
        ([catalogue_entry(MODEL, ("medium", "high"))], Route("codex", MODEL, "low"), "medium"),
        ([catalogue_entry(MODEL, ("low", "medium", "high"), "low")], Route("codex", MODEL), "low"),
        # a model missing from the live list: the built-in entry (gpt-5.6-sol defaults to low) decides
        ([catalogue_entry(MODEL, ("low",))], Route("codex", "gpt-5.6-sol"), "low"),
        ([catalogue_entry(MODEL, ("low",))], Route("codex", "gpt-5.6-sol", "ultra"), "ultra"),
    ],
    ids=["clamped-down", "supported", "raised-to-weakest", "model-default", "fallback-default", "fallback-ultra"],
)
async def test_effort_is_clamped_to_the_catalogue(
    make: Callable[..., Codex], entries: list[dict[str, Any]], route: Route, effort: str
) -> None:
    codex = make(catalogue={"models": entries})
    response, _ = text_reply()
    codex.serve(response)
    await codex.run(request(), route=route)
    assert sent(codex.responses.calls.last)["reasoning"]["effort"] == effort


# -- replies -------------------------------------------------------------------------------------------


async def test_keepalive_comments_and_done_marker_are_skipped(codex: Codex) -> None:
    chunks = [b": keep-alive\n\n", sse(streams.PLAIN_TEXT[:4]), b": ping\n\n", sse(streams.PLAIN_TEXT[4:]),
              b"data: [DONE]\n\n"]
    codex.serve(httpx.Response(200, stream=ScriptedBody(*chunks)))
    events = await codex.run(request())
    assert isinstance(events[0], MessageStart) and isinstance(events[-1], MessageStop)


# -- 401: refresh once and replay -------------------------------------------------------------------------


async def test_401_refreshes_once_and_replays_with_the_new_token(codex: Codex) -> None:
    rejected, rejected_body = failing(401, {"error": {"message": "token expired", "code": "token_expired"}})
    ok, ok_body = text_reply()
    codex.serve(rejected, ok)
    fresh = chatgpt_tokens(generation=2)
    codex.token.mock(return_value=httpx.Response(200, json={k: fresh[k] for k in ("id_token", "access_token", "refresh_token")}))

    events = await codex.run(request())

    assert isinstance(events[-1], MessageStop)
    assert codex.token.call_count == 1
    grant = json.loads(codex.token.calls.last.request.content)
    assert grant["grant_type"] == "refresh_token" and grant["refresh_token"] == codex.tokens["refresh_token"]
    first, second = codex.responses.calls
    assert first.request.headers["authorization"] == f"Bearer {codex.access}"
    assert second.request.headers["authorization"] == f"Bearer {fresh['access_token']}"
    assert first.request.content == second.request.content  # the very same body is replayed
    on_disk = json.loads(codex.auth_path.read_text())
    assert on_disk["tokens"]["access_token"] == fresh["access_token"]
    assert on_disk["tokens"]["refresh_token"] == fresh["refresh_token"]
    assert stat.S_IMODE(codex.auth_path.stat().st_mode) == 0o600
    assert rejected_body.closed and ok_body.closed


async def test_401_after_the_cli_rotated_the_file_adopts_its_tokens_without_a_refresh(codex: Codex) -> None:
    rotated = chatgpt_tokens(generation=7)

    def backend(req: httpx.Request) -> httpx.Response:
        if codex.responses.call_count == 0:
            codex.auth_path.write_text(json.dumps(auth_document(rotated)))  # the Codex CLI refreshed meanwhile
            return failing(401, {"detail": "Unauthorized"})[0]
        return text_reply()[0]

    codex.responses.side_effect = backend
    await codex.run(request())
    assert codex.responses.call_count == 2
    assert codex.token.call_count == 0
    assert codex.responses.calls.last.request.headers["authorization"] == f"Bearer {rotated['access_token']}"


async def test_401_twice_gives_up_after_one_refresh(codex: Codex) -> None:
    first, first_body = failing(401, {"detail": "Unauthorized"})
    second, second_body = failing(401, {"detail": "Unauthorized"})
    codex.serve(first, second)
    fresh = chatgpt_tokens(generation=2)
    codex.token.mock(return_value=httpx.Response(200, json={k: fresh[k] for k in ("id_token", "access_token", "refresh_token")}))

    events, error = await codex.failure(request())

    assert events == []
    assert isinstance(error, AuthError)
    assert "log in again" in error.message
    assert codex.token.call_count == 1 and codex.responses.call_count == 2
    assert first_body.closed and second_body.closed
    for secret in (*codex.secrets(), fresh["access_token"]):
        assert secret not in error.message


async def test_401_with_a_dead_refresh_token_says_to_log_in_again(codex: Codex) -> None:
    rejected, rejected_body = failing(401, {"detail": "Unauthorized"})
    codex.serve(rejected)
    codex.token.mock(return_value=httpx.Response(401, json={"error": {"code": "refresh_token_reused"}}))
    _, error = await codex.failure(request())
    assert isinstance(error, AuthError)
    assert "router login codex" in error.message
    assert codex.responses.call_count == 1 and codex.token.call_count == 1
    assert rejected_body.closed


async def test_missing_login_fails_before_any_request(make: Callable[..., Codex]) -> None:
    codex = make(write_auth=False)
    _, error = await codex.failure(request())
    assert isinstance(error, AuthError) and "router login codex" in error.message
    assert codex.responses.call_count == 0


# -- reasoning the backend cannot verify -------------------------------------------------------------------


async def test_unverifiable_reasoning_is_resent_once_without_reasoning_items(codex: Codex) -> None:
    bodies: list[ScriptedBody] = []

    def backend(req: httpx.Request) -> httpx.Response:
        problem = check_request(json.loads(req.content))  # the fake backend refuses a foreign blob
        response, body = failing(400, problem) if problem else streamed(streams.PLAIN_TEXT)
        bodies.append(body)
        return response

    codex.responses.side_effect = backend
    events = await codex.run(with_signed_thinking())

    assert isinstance(events[-1], MessageStop)
    first, second = (sent(call) for call in codex.responses.calls)
    assert [item["encrypted_content"] for item in items_of(first, "reasoning")] == [BLOB]
    assert items_of(second, "reasoning") == []
    assert items_of(second, "message") == items_of(first, "message")  # only the reasoning was left out
    assert all(body.closed for body in bodies) and len(bodies) == 2


async def test_unverifiable_reasoning_is_not_retried_twice(codex: Codex) -> None:
    invalid = {"error": {"message": f"The encrypted content {BLOB} could not be verified.",
                         "type": "invalid_request_error", "param": None, "code": "invalid_encrypted_content"}}
    codex.serve(failing(400, invalid)[0], failing(400, invalid)[0], text_reply()[0])
    _, error = await codex.failure(with_signed_thinking())
    assert isinstance(error, UpstreamRejected)
    assert codex.responses.call_count == 2
    assert BLOB not in error.message


# -- failures --------------------------------------------------------------------------------------------

USAGE_LIMIT = {
    "error": {
        "type": "usage_limit_reached",
        "message": "The usage limit has been reached",
        "plan_type": "plus",
        "resets_at": int(time.time()) + 13872,
        "eligible_promo": None,
        "resets_in_seconds": 13872,
    }
}


@pytest.mark.parametrize(
    ("status", "document", "expected"),
    [
        (429, USAGE_LIMIT, RateLimited),
        (503, {"error": {"message": "Our servers are currently overloaded.", "code": "server_is_overloaded"}},
         Overloaded),
        (400, {"detail": "Unsupported parameter: max_output_tokens"}, UpstreamRejected),
    ],
    ids=["usage-limit", "503-overloaded", "400-rejected"],
)
async def test_http_failures_become_router_errors(
    codex: Codex, status: int, document: Any, expected: type[ProviderError]
) -> None:
    response, body = failing(status, document)
    codex.serve(response)
    events, error = await codex.failure(request())
    assert events == []
    assert type(error) is expected
    assert error.upstream_status == status and error.provider == "codex"
    assert codex.responses.call_count == 1 and codex.token.call_count == 0
    assert body.closed


async def test_usage_limit_carries_its_reset_time(codex: Codex) -> None:
    codex.serve(failing(429, USAGE_LIMIT)[0])
    _, error = await codex.failure(request())
    assert isinstance(error, RateLimited) and error.scope == "account"
    assert error.retry_after is not None and 13872 - 600 < error.retry_after <= 13872  # from resets_at
    assert "plus plan" in error.message


async def test_context_overflow_uses_anthropics_wording(codex: Codex) -> None:
    codex.serve(failing(400, CONTEXT)[0])
    _, error = await codex.failure(request())
    assert isinstance(error, ContextTooLong)
    assert "prompt is too long" in error.message and "272,000" in error.message


async def test_stream_cut_before_completed_is_unavailable_after_the_partial_events(codex: Codex) -> None:
    response, body = streamed(streams.CUT_OFF)
    codex.serve(response)
    events, error = await codex.failure(request())
    assert events == [MessageStart(MODEL), TextStart(), TextDelta("Partial")]
    assert isinstance(error, UpstreamUnavailable) and error.retryable
    assert body.closed


async def test_failure_event_inside_a_200_stream(codex: Codex) -> None:
    response, body = streamed(streams.USAGE_LIMIT)
    codex.serve(response)
    _, error = await codex.failure(request())
    assert isinstance(error, RateLimited) and error.retry_after == 13872
    assert body.closed


@pytest.mark.parametrize("data", [b"{not json", b"[1, 2]"], ids=["not-json", "not-an-object"])
async def test_an_event_that_is_not_a_json_object_is_unavailable(codex: Codex, data: bytes) -> None:
    body = ScriptedBody(sse(streams.PLAIN_TEXT[:2]) + b"event: response.output_text.delta\ndata: " + data + b"\n\n")
    codex.serve(httpx.Response(200, stream=body))
    _, error = await codex.failure(request())
    assert isinstance(error, UpstreamUnavailable)
    assert body.closed


async def test_a_compressed_stream_is_decoded(codex: Codex) -> None:
    body = ScriptedBody(gzip.compress(sse(streams.PLAIN_TEXT)))
    codex.serve(httpx.Response(200, stream=body, headers={"content-encoding": "gzip"}))
    events = await codex.run(request())
    assert "gzip" in codex.responses.calls.last.request.headers.get("accept-encoding", "")
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello", ", world", "!"]


# -- the model catalogue -----------------------------------------------------------------------------------


async def test_list_models_reads_the_live_catalogue(codex: Codex) -> None:
    models = await codex.provider.list_models()
    assert list(models) == [
        ModelInfo(MODEL, MODEL.upper(), context_window=272_000, efforts=("low", "medium", "high", "xhigh")),
        ModelInfo("gpt-5.4-mini", "GPT-5.4-MINI", context_window=272_000, efforts=("low", "medium")),
    ]  # the hidden entry is left out
    request_sent = codex.models.calls.last.request
    assert request_sent.url.params["client_version"] == CLIENT_VERSION
    assert request_sent.headers["authorization"] == f"Bearer {codex.access}"
    assert request_sent.headers["chatgpt-account-id"] == "acct-123"
    assert request_sent.headers["originator"] == "codex_cli_rs"
    assert request_sent.headers["accept"] == "application/json"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, json={"detail": "boom"}),
        httpx.Response(401, json={"detail": "Unauthorized"}),
        httpx.Response(200, text="<html>not json</html>"),
        httpx.Response(200, json={"models": []}),
        httpx.Response(200, json=[1, 2, 3]),
        httpx.ConnectError("refused"),
    ],
    ids=["500", "401", "html", "empty", "not-an-object", "connect-error"],
)
async def test_failing_catalogue_falls_back_to_the_builtin_list(
    codex: Codex, answer: httpx.Response | Exception
) -> None:
    codex.models.side_effect = [answer]
    models = await codex.provider.list_models()
    assert list(models) == [model.info for model in FALLBACK_MODELS]


async def test_catalogue_is_fetched_once_within_its_ttl(make: Callable[..., Codex]) -> None:
    codex = make(models_ttl=60.0)
    now = [1000.0]
    codex.provider.catalogue.clock = lambda: now[0]
    codex.serve(text_reply()[0], text_reply()[0])
    await codex.provider.list_models()
    await codex.provider.list_models()
    await codex.run(request())
    now[0] += 59.0
    await codex.run(request())
    assert codex.models.call_count == 1
    now[0] += 2.0
    await codex.provider.list_models()
    assert codex.models.call_count == 2


async def test_a_failed_catalogue_is_retried_after_a_minute_not_at_once(codex: Codex) -> None:
    now = [1000.0]
    codex.provider.catalogue.clock = lambda: now[0]
    codex.models.side_effect = [httpx.ConnectError("refused"), httpx.Response(200, json=CATALOGUE)]
    await codex.provider.list_models()
    models = await codex.provider.list_models()
    assert codex.models.call_count == 1
    assert list(models) == [model.info for model in FALLBACK_MODELS]
    now[0] += 61.0
    models = await codex.provider.list_models()
    assert codex.models.call_count == 2 and models[0].id == MODEL


# -- credentials, login, logout -----------------------------------------------------------------------------


def assert_no_secret(text: str, secrets: Iterable[str]) -> None:
    for secret in secrets:
        assert secret not in text
        for part in secret.split("."):
            if len(part) >= 8:
                assert part not in text


async def test_credential_status_names_the_account_and_never_a_token(codex: Codex) -> None:
    status = codex.provider.credential_status()
    assert status.ok
    assert "dev@example.com" in status.detail and "plus" in status.detail
    assert str(codex.auth_path) in status.detail
    assert_no_secret(status.detail, codex.secrets())
    assert_no_secret(repr(status), codex.secrets())


async def test_credential_status_without_a_login_says_how_to_log_in(make: Callable[..., Codex]) -> None:
    codex = make(write_auth=False)
    status = codex.provider.credential_status()
    assert not status.ok
    assert "router login codex" in status.detail and str(codex.auth_path) in status.detail


def opencode_entry(access: str, refresh: str = "rt-from-opencode") -> dict[str, Any]:
    return {"openai": {"type": "oauth", "access": access, "refresh": refresh,
                       "expires": int(time.time() * 1000) + 3_600_000, "accountId": "acct-oc"}}


async def test_login_imports_the_opencode_login(
    make: Callable[..., Codex], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    source = tmp_path / "xdg-data" / "opencode" / "auth.json"
    assert default_opencode_path() == source
    access = jwt({"exp": int(time.time()) + 3600, "email": "oc@example.com",
                  "https://api.openai.com/auth": {"chatgpt_account_id": "acct-oc", "chatgpt_plan_type": "pro"}})
    source.parent.mkdir(parents=True)
    source.write_text(json.dumps(opencode_entry(access)))
    codex = make(write_auth=False)
    said: list[str] = []

    await codex.provider.login(LoginOptions(import_from="opencode"), said.append)

    written = json.loads(codex.auth_path.read_text())
    assert written["tokens"]["access_token"] == access
    assert written["tokens"]["refresh_token"] == "rt-from-opencode"
    assert written["tokens"]["account_id"] == "acct-oc"
    assert stat.S_IMODE(codex.auth_path.stat().st_mode) == 0o600
    assert len(said) == 1 and str(source) in said[0] and "oc@example.com" in said[0]
    assert_no_secret(said[0], [access, "rt-from-opencode"])
    assert codex.provider.credential_status().ok

    # the router wrote this file, so logout removes it
    said.clear()
    await codex.provider.logout(said.append)
    assert not codex.auth_path.exists()
    assert said and "Removed" in said[0]


async def test_login_without_an_opencode_file_is_an_auth_error(
    make: Callable[..., Codex], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "empty"))
    codex = make(write_auth=False)
    with pytest.raises(AuthError, match="opencode"):
        await codex.provider.login(LoginOptions(import_from="opencode"), lambda line: None)
    assert not codex.auth_path.exists()


async def test_login_import_from_an_unknown_tool_is_an_auth_error(make: Callable[..., Codex]) -> None:
    codex = make(write_auth=False)
    said: list[str] = []
    with pytest.raises(AuthError, match="opencode"):
        await codex.provider.login(LoginOptions(import_from="other"), said.append)
    assert said == [] and not codex.auth_path.exists()


async def test_login_when_already_signed_in_changes_nothing(codex: Codex) -> None:
    before = codex.auth_path.read_text()
    said: list[str] = []
    await codex.provider.login(LoginOptions(), said.append)
    assert len(said) == 1 and "Already signed in" in said[0] and "--force" in said[0]
    assert_no_secret(said[0], codex.secrets())
    assert codex.auth_path.read_text() == before
    assert codex.token.call_count == 0


async def test_logout_leaves_the_codex_cli_login_in_place(codex: Codex) -> None:
    before = codex.auth_path.read_text()
    said: list[str] = []
    await codex.provider.logout(said.append)
    assert codex.auth_path.read_text() == before
    assert len(said) == 1 and "Left" in said[0] and str(codex.auth_path) in said[0]


# -- the plugin ---------------------------------------------------------------------------------------------


def test_the_builtin_plugin_registers_the_codex_provider() -> None:
    classes = provider_classes(make_plugin_manager(autoload=False))
    assert classes["codex"] is CodexProvider


def test_settings_and_route_options_validate_from_yaml() -> None:
    classes = provider_classes(make_plugin_manager(autoload=False))
    data = {
        "providers": {"codex": {"base_url": BASE, "fast": True, "auth_file": "~/x.json", "models_ttl": 60}},
        "routes": [{"when": {"tier": "opus"}, "use": "codex/gpt-5.5:high", "options": {"fast": False}}],
    }
    config = parse_config(data, classes, env={})
    settings = config.providers["codex"]
    assert settings == CodexSettings(base_url=BASE, fast=True, auth_file=Path("~/x.json").expanduser(),
                                     models_ttl=60.0)
    assert config.routes[0].options == CodexRouteOptions(fast=False)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"providers": {"codex": {"fats": True}}}, "providers.codex.fats"),
        ({"providers": {"codex": {"fast": "very"}}}, "providers.codex.fast"),
        ({"providers": {"codex": {"reasoning_summary": "verbose"}}}, "providers.codex.reasoning_summary"),
        ({"routes": [{"when": {"tier": "opus"}, "use": "codex/gpt-5.5", "options": {"turbo": True}}]},
         "routes[0].options.turbo"),
    ],
    ids=["unknown-key", "bad-bool", "bad-literal", "unknown-route-option"],
)
def test_bad_settings_name_their_path(data: dict[str, Any], path: str) -> None:
    classes = provider_classes(make_plugin_manager(autoload=False))
    with pytest.raises(ConfigError) as caught:
        parse_config(data, classes, env={})
    assert caught.value.path == path


# -- quota windows from the reply's headers -------------------------------------------------------------------

QUOTA_HEADERS = {
    "x-codex-primary-used-percent": "30",
    "x-codex-primary-window-minutes": "300",
    "x-codex-primary-reset-after-seconds": "3600",
    "x-codex-secondary-used-percent": "100",
    "x-codex-secondary-window-minutes": "10080",
    "x-codex-secondary-reset-at": "1790500000",
}


async def test_a_reply_reports_its_quota_windows(codex: Codex) -> None:
    response, _ = scripted_response(200, sse(streams.PLAIN_TEXT), headers=QUOTA_HEADERS)
    codex.serve(response)
    before = time.time()
    await codex.run(request())
    assert len(codex.reported) == 1
    five_hours, weekly = codex.reported[0]
    assert five_hours.name == "5 h" and five_hours.used_percent == 30.0 and five_hours.window_minutes == 300
    assert five_hours.resets_at is not None and before + 3600 <= five_hours.resets_at <= time.time() + 3600
    assert weekly == QuotaWindow("weekly", used_percent=100.0, resets_at=1_790_500_000.0, window_minutes=10080)


async def test_a_refusal_reports_its_quota_windows_too(codex: Codex) -> None:
    codex.serve(failing(429, USAGE_LIMIT, headers=QUOTA_HEADERS)[0])
    _, error = await codex.failure(request())
    assert isinstance(error, RateLimited) and error.scope == "account"
    assert [window.name for window in codex.reported[0]] == ["5 h", "weekly"]
    assert codex.reported[0][1].exhausted


async def test_a_reply_without_quota_headers_reports_nothing(codex: Codex) -> None:
    response, _ = text_reply()
    codex.serve(response)
    await codex.run(request())
    assert codex.reported == []


# -- named accounts ------------------------------------------------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:  # never used to send: these tests stay on disk
        yield client


def provider_for(http: httpx.AsyncClient, account: str, state_dir: Path, **settings: Any) -> CodexProvider:
    context = ProviderContext(http, logging.getLogger("providers.codex"), state_dir, account=account)
    return CodexProvider(CodexSettings(**settings), context)


def test_a_named_account_keeps_its_login_in_its_state_folder(
    http: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex-home"))
    state = tmp_path / "state" / "codex" / "accounts" / "work"
    assert provider_for(http, "work", state).auth_file.path == state / "auth.json"
    default = provider_for(http, DEFAULT_ACCOUNT, tmp_path / "state" / "codex")
    assert default.auth_file.path == tmp_path / "codex-home" / "auth.json"
    given = tmp_path / "elsewhere" / "auth.json"
    assert provider_for(http, "work", state, auth_file=given).auth_file.path == given


async def test_login_for_a_named_account_writes_its_own_file(
    http: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex-home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    access = jwt({"exp": int(time.time()) + 3600, "email": "work@example.com",
                  "https://api.openai.com/auth": {"chatgpt_account_id": "acct-work", "chatgpt_plan_type": "pro"}})
    source = default_opencode_path()
    source.parent.mkdir(parents=True)
    source.write_text(json.dumps(opencode_entry(access)))
    state = tmp_path / "state" / "codex" / "accounts" / "work"
    provider = provider_for(http, "work", state)
    await provider.login(LoginOptions(import_from="opencode"), lambda line: None)
    assert json.loads((state / "auth.json").read_text())["tokens"]["access_token"] == access
    assert provider.credential_status().ok and str(state / "auth.json") in provider.credential_status().detail
    assert not (tmp_path / "codex-home" / "auth.json").exists()


async def test_a_named_account_without_a_login_says_how_to_sign_that_account_in(
    http: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex-home"))
    work = provider_for(http, "work", tmp_path / "state" / "codex" / "accounts" / "work")
    status = work.credential_status()
    assert not status.ok and "`router login codex --account work`" in status.detail
    assert "codex login" not in status.detail.replace("router login codex", "")  # the CLI's login is not this one
    with pytest.raises(AuthError, match=r"router login codex --account work"):
        await work.stream(request(), Route("codex", "gpt-5.5")).__anext__()
    default = provider_for(http, DEFAULT_ACCOUNT, tmp_path / "state" / "codex")
    assert "`router login codex` (or `codex login`)" in default.credential_status().detail
