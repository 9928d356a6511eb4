"""The Kiro provider's I/O shell, against respx-mocked chat, model-list, usage and refresh endpoints.

Translation, the event-stream decoder and the token manager have their own tests, and what
every provider must do (event grammar, closing the upstream response, mapping transport
failures, 429/5xx flags, secrets kept out of errors) is the contract suite's (tests/contract,
harness in contract.py). These drive `KiroProvider` through that harness for what is Kiro's
own: what goes on the wire (URL, IDE headers, body bytes), binary event-stream replies, the
403 refresh and replay, Kiro's failure reasons, the model catalogue, settings from YAML, and
credential status.
"""

from __future__ import annotations

import asyncio
import json
import re
import stat
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest

from providers.kiro.identity import KIRO_VERSION
from providers.kiro.models import FALLBACK_MODELS
from providers.kiro.provider import KiroProvider, KiroSettings
from providers.kiro.translate import PayloadOptions, build_payload
from router.anthropic.decode import parse_request
from router.anthropic.signatures import encode_signature, mint_signature
from router.server.config import parse_config
from router.conversation import Request, Signature
from router.errors import AuthError, ConfigError, ContextTooLong, PermissionDenied, ProviderError, RateLimited
from router.errors import UpstreamRejected, UpstreamUnavailable
from router.events import Event, MessageStart, MessageStop, TextDelta, TextStart, ThinkingDelta, ThinkingStart
from router.events import ToolInputDelta, ToolUseStart
from router.server.plugins import make_plugin_manager, provider_classes
from router.provider import LoginOptions
from router.route import Route
from router.testing.scripted import ScriptedBody, json_response, scripted_response
from tests.providers.conftest import Opened
from tests.providers.kiro.contract import CHAT, EVENTSTREAM, ROUTE, KiroHarness, social_document
from tests.providers.kiro.fake_kiro import PROFILE_ARN, check_request, model_entry, reply_frames
from tests.providers.kiro.frames import exception, text

KNOWN_MODELS = {"claude-sonnet-4.5", "claude-opus-4.6", "auto"}
BASH = {
    "name": "Bash",
    "description": "Run a shell command",
    "input_schema": {
        "type": "object",
        "properties": {"command": {"type": "string"}},
        "required": ["command"],
    },
}
HELLO = reply_frames([("text", "Hello, wörld!")])

Kiro = KiroHarness


def request(*messages: dict[str, Any], **extra: Any) -> Request:
    data = {
        "model": "claude-sonnet-4-5-20250929",
        "max_tokens": 4096,
        "messages": list(messages) or [{"role": "user", "content": "hello"}],
        "system": [{"type": "text", "text": "You are Claude Code."}],
        **extra,
    }
    return parse_request(data, session_id="session-1")


def streamed(*frames: bytes, fail: Exception | None = None, split: int = 0) -> tuple[httpx.Response, ScriptedBody]:
    """A 200 event-stream reply; `split` cuts the bytes into pieces of that size (frames span chunks)."""
    data = b"".join(frames)
    chunks = [data[i : i + split] for i in range(0, len(data), split)] if split else [data]
    return scripted_response(200, *chunks, headers=EVENTSTREAM, fail=fail)


failing = json_response


@pytest.fixture
def make(tmp_path: Path, opened: Opened, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Kiro]:
    monkeypatch.delenv("KIRO_AUTH_FILE", raising=False)
    return lambda **options: opened(KiroHarness(tmp_path, **options))


@pytest.fixture
def kiro(make: Callable[..., Kiro]) -> Kiro:
    return make()


def texts(events: Iterable[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


# -- the request on the wire --------------------------------------------------------------------------


async def test_request_goes_to_the_chat_endpoint_with_the_ides_headers(kiro: Kiro) -> None:
    kiro.serve(streamed(*HELLO)[0])
    await kiro.run(request())
    sent = kiro.sent()
    assert str(sent.url) == CHAT
    headers = sent.headers
    fingerprint = (kiro.state_dir / "fingerprint").read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)
    assert headers["authorization"] == "Bearer aoa-current"
    assert headers["content-type"] == "application/json"
    assert re.fullmatch(
        rf"aws-sdk-js/\S+ ua/2\.1 os/\S+ lang/js md/nodejs#\S+ api/codewhispererstreaming#\S+ m/E "
        rf"KiroIDE-{re.escape(KIRO_VERSION)}-{fingerprint}",
        headers["user-agent"],
    )
    assert headers["x-amz-user-agent"].endswith(f"KiroIDE-{KIRO_VERSION}-{fingerprint}")
    assert headers["x-amzn-codewhisperer-optout"] == "true"
    assert headers["x-amzn-kiro-agent-mode"] == "vibe"
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["amz-sdk-invocation-id"])
    assert headers["amz-sdk-request"] == "attempt=1; max=2"
    assert "x-amz-target" not in headers


async def test_body_is_the_payloads_bytes_and_passes_kiros_rules(kiro: Kiro) -> None:
    kiro.serve(streamed(*HELLO)[0])
    req = request(tools=[BASH])
    await kiro.run(req)
    expected = build_payload(req, ROUTE, options=PayloadOptions(profile_arn=PROFILE_ARN))
    assert kiro.sent().content == expected.encoded
    body = json.loads(kiro.sent().content)
    assert check_request(body, KNOWN_MODELS) is None
    assert body["profileArn"] == PROFILE_ARN
    assert body["conversationState"]["currentMessage"]["userInputMessage"]["modelId"] == "claude-sonnet-4.5"


async def test_the_fingerprint_is_kept_per_install(make: Callable[..., Kiro]) -> None:
    first, second = make(), make()
    assert first.provider.identity.kiro == second.provider.identity.kiro
    assert stat.S_IMODE((first.state_dir / "fingerprint").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("settings", "profile", "url"),
    [
        (
            {},
            "arn:aws:codewhisperer:eu-central-1:1:profile/X",
            "https://q.eu-central-1.amazonaws.com/generateAssistantResponse",
        ),
        (
            {"api_region": "us-west-2"},
            PROFILE_ARN,
            "https://q.us-west-2.amazonaws.com/generateAssistantResponse",
        ),
        (
            {"api_url": "https://runtime.{region}.kiro.dev/", "chat_path": "/"},
            PROFILE_ARN,
            "https://runtime.us-east-1.kiro.dev/",
        ),
        (
            {"api_url": "http://127.0.0.1:9/kiro"},
            PROFILE_ARN,
            "http://127.0.0.1:9/kiro/generateAssistantResponse",
        ),
    ],
    ids=["region-from-profile", "api-region-setting", "other-host-and-path", "no-template"],
)
async def test_the_endpoint_is_configurable(
    make: Callable[..., Kiro], settings: dict[str, Any], profile: str, url: str
) -> None:
    kiro = make(document={**social_document(), "profileArn": profile}, **settings)
    kiro.serve(streamed(*HELLO)[0])
    await kiro.run(request())
    assert str(kiro.sent().url) == url


async def test_content_type_and_target_are_settings(make: Callable[..., Kiro]) -> None:
    kiro = make(
        content_type="application/x-amz-json-1.0",
        target="AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
    )
    kiro.serve(streamed(*HELLO)[0])
    await kiro.run(request())
    assert kiro.sent().headers["content-type"] == "application/x-amz-json-1.0"
    assert (
        kiro.sent().headers["x-amz-target"] == "AmazonCodeWhispererStreamingService.GenerateAssistantResponse"
    )


@pytest.mark.parametrize(
    ("model", "model_map", "sent_id"),
    [
        ("claude-sonnet-4-5-20250929", {}, "claude-sonnet-4.5"),
        ("claude-sonnet-4.5", {}, "claude-sonnet-4.5"),
        ("claude-opus-4-6", {}, "claude-opus-4.6"),
        ("auto", {}, "auto"),
        (
            "claude-sonnet-4-5-20250929",
            {"claude-sonnet-4-5-20250929": "CLAUDE_SONNET_4_5_V1"},
            "CLAUDE_SONNET_4_5_V1",
        ),
        ("claude-sonnet-4-5-20250929", {"claude-sonnet-4.5": "claude-sonnet-4.6"}, "claude-sonnet-4.6"),
    ],
    ids=["claude-name", "dotted", "opus", "auto", "map-by-name", "map-by-dotted-id"],
)
async def test_route_models_map_to_kiro_ids(
    make: Callable[..., Kiro], model: str, model_map: dict[str, str], sent_id: str
) -> None:
    kiro = make(model_map=model_map)
    kiro.serve(streamed(*HELLO)[0])
    events = await kiro.run(request(), route=Route("kiro", model))
    message = json.loads(kiro.sent().content)["conversationState"]["currentMessage"]["userInputMessage"]
    assert message["modelId"] == sent_id
    assert events[0] == MessageStart(model)  # the client sees the route's name


async def test_an_idc_login_sends_no_profile_arn(make: Callable[..., Kiro]) -> None:
    kiro = make(
        access_token="aoa-idc",
        refresh_token="aor-idc",
        region="eu-central-1",
        profile_arn="arn:aws:codewhisperer:us-east-1:1:profile/IDC",
        client_id="cid",
        client_secret="cs",
    )
    kiro.serve(streamed(*HELLO)[0])
    await kiro.run(request())
    assert "profileArn" not in json.loads(kiro.sent().content)
    assert kiro.sent().headers["authorization"] == "Bearer aoa-idc"


async def test_a_request_too_large_is_refused_before_sending(make: Callable[..., Kiro]) -> None:
    kiro = make(max_payload_bytes=2000)
    _, error = await kiro.failure(request({"role": "user", "content": "x" * 5000}))
    assert isinstance(error, ContextTooLong) and "prompt is too long" in error.message
    assert kiro.chat.call_count == 0


# -- replies ------------------------------------------------------------------------------------------


async def test_event_stream_reply_becomes_canonical_events(kiro: Kiro) -> None:
    response, body = streamed(
        *reply_frames([("text", "Let me look."), ("tool", ("tooluse_1", "Bash", {"command": "ls -la"}))]),
        split=5,
    )
    kiro.serve(response)
    events = await kiro.run(request(tools=[BASH]))
    assert events[:2] == [MessageStart(ROUTE.model), TextStart()]
    assert texts(events) == "Let me look."
    start = next(e for e in events if isinstance(e, ToolUseStart))
    assert (start.id, start.name) == ("tooluse_1", "Bash")
    assert json.loads("".join(e.partial_json for e in events if isinstance(e, ToolInputDelta))) == {
        "command": "ls -la"
    }
    stop = events[-1]
    assert isinstance(stop, MessageStop) and stop.stop_reason == "tool_use"
    assert stop.usage.input_tokens == 3000  # 1.5 % of the 200k window Kiro's built-in list knows
    assert body.closed


async def test_the_live_catalogues_window_sizes_the_usage_estimate(kiro: Kiro) -> None:
    await kiro.provider.list_models()  # the live list says 400k for claude-sonnet-4.5
    kiro.serve(streamed(*HELLO)[0])
    stop = (await kiro.run(request()))[-1]
    assert isinstance(stop, MessageStop) and stop.usage.input_tokens == 6000


async def test_thinking_tags_become_a_thinking_block(kiro: Kiro) -> None:
    kiro.serve(streamed(*reply_frames([("text", "<thinking>Pondering.</thinking>\n\nDone.")]))[0])
    events = await kiro.run(request(thinking={"type": "enabled", "budget_tokens": 4000}))
    sent = json.loads(kiro.sent().content)["conversationState"]["currentMessage"]["userInputMessage"][
        "content"
    ]
    assert sent.startswith(
        "<thinking_mode>enabled</thinking_mode>\n<max_thinking_length>4000</max_thinking_length>"
    )
    assert events[1] == ThinkingStart()
    assert "".join(e.thinking for e in events if isinstance(e, ThinkingDelta)) == "Pondering."
    assert texts(events) == "Done."


@pytest.mark.parametrize("mode", ["native", "off"])
async def test_thinking_mode_setting(make: Callable[..., Kiro], mode: str) -> None:
    kiro = make(thinking_mode=mode)
    kiro.serve(streamed(*HELLO)[0])
    await kiro.run(request(thinking={"type": "enabled", "budget_tokens": 4000}))
    body = json.loads(kiro.sent().content)
    assert "<thinking_mode>" not in body["conversationState"]["currentMessage"]["userInputMessage"]["content"]
    assert ("additionalModelRequestFields" in body) == (mode == "native")


@pytest.mark.parametrize(
    ("signature", "mode", "sent_back"),
    [
        (mint_signature(ROUTE.provider, ROUTE.model), "tags", False),
        (mint_signature(ROUTE.provider, ROUTE.model), "native", False),
        (Signature(ROUTE.provider, ROUTE.model, "sig-kiro-0123456789"), "native", True),  # the control: Kiro's own
    ],
    ids=["router-signed-tags", "router-signed-native", "kiro-signed-native"],
)
async def test_thinking_the_router_signed_goes_back_to_kiro_unsigned(
    make: Callable[..., Kiro], signature: Signature, mode: str, sent_back: bool
) -> None:
    """Tag thinking reaches the client with the router's stand-in; Kiro would refuse it as `reasoningContent`."""
    kiro = make(thinking_mode=mode)
    kiro.serve(streamed(*HELLO)[0])
    thinking = {"type": "thinking", "thinking": "Pondering.", "signature": encode_signature(signature)}
    await kiro.run(request(
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": [thinking, {"type": "text", "text": "Done."}]},
        {"role": "user", "content": "again"},
        thinking={"type": "enabled", "budget_tokens": 4000},
    ))
    body = json.loads(kiro.sent().content)
    replayed = body["conversationState"]["history"][1]["assistantResponseMessage"]
    assert replayed["content"] == "Done."
    if sent_back:
        assert replayed["reasoningContent"] == {"reasoningText": {"text": "Pondering.", "signature": signature.value}}
    else:
        assert "reasoningContent" not in replayed and signature.value not in kiro.sent().content.decode()
        assert check_request(body, KNOWN_MODELS) is None


async def test_a_stream_cut_mid_frame_is_unavailable(kiro: Kiro) -> None:
    response, body = streamed(text("Hello"), text("world")[:-3])
    kiro.serve(response)
    events, error = await kiro.failure(request())
    assert isinstance(error, UpstreamUnavailable) and "middle of an event-stream frame" in error.message
    assert texts(events) == "Hello" and body.closed


async def test_a_throttling_frame_mid_stream_is_a_rate_limit_and_checks_the_usage(kiro: Kiro) -> None:
    kiro.usage.mock(
        return_value=httpx.Response(
            200,
            json={
                "subscriptionInfo": {"subscriptionTitle": "KIRO FREE"},
                "nextDateReset": 1_780_272_000,
                "usageBreakdownList": [
                    {
                        "resourceType": "CREDIT",
                        "currentUsageWithPrecision": 50.0,
                        "usageLimitWithPrecision": 50.0,
                        "displayNamePlural": "Credits",
                    }
                ],
            },
        )
    )
    response, body = streamed(text("Partial"), exception("ThrottlingException", "Too many requests"))
    kiro.serve(response)
    events, error = await kiro.failure(request())
    assert isinstance(error, RateLimited) and texts(events) == "Partial" and body.closed
    for _ in range(200):  # the usage check runs in the background
        if kiro.provider.usage is not None:
            break
        await asyncio.sleep(0.01)
    usage = kiro.usage.calls.last.request
    assert usage.url.params["origin"] == "AI_EDITOR" and usage.url.params["profileArn"] == PROFILE_ARN
    assert usage.headers["authorization"] == "Bearer aoa-current"
    assert "KIRO FREE: 50 of 50 credits used, resets 2026-" in kiro.provider.credential_status().detail


async def test_router_status_gets_the_plan_usage_from_get_usage_limits(kiro: Kiro) -> None:
    kiro.usage.mock(return_value=httpx.Response(200, json={
        "subscriptionInfo": {"subscriptionTitle": "KIRO PRO"},
        "usageBreakdownList": [{"resourceType": "CREDIT", "currentUsageWithPrecision": 12.5,
                                "usageLimitWithPrecision": 1000.0, "displayNamePlural": "Credits"}],
    }))
    report = await kiro.provider.usage_report()
    assert report is not None and report.startswith("KIRO PRO: 12.5 of 1000 credits used")


async def test_a_usage_check_that_fails_changes_nothing(kiro: Kiro) -> None:
    kiro.usage.mock(return_value=httpx.Response(500, json={"message": "boom"}))
    assert await kiro.provider.usage_limits() is None
    assert await kiro.provider.usage_report() is None
    assert "credits" not in kiro.provider.credential_status().detail


# -- 401/403: refresh once and replay -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message"),
    [(403, "The bearer token included in the request is invalid."), (401, "Unauthorized")],
)
async def test_token_refusal_refreshes_once_and_replays(
    make: Callable[..., Kiro], status: int, message: str
) -> None:
    kiro = make()
    rejected, rejected_body = failing(status, {"message": message, "reason": None})
    ok, ok_body = streamed(*HELLO)
    kiro.serve(rejected, ok)
    kiro.refresh.mock(
        return_value=httpx.Response(
            200,
            json={
                "accessToken": "aoa-new",
                "refreshToken": "aor-new",
                "expiresIn": 3600,
                "profileArn": PROFILE_ARN,
            },
        )
    )
    events = await kiro.run(request())
    assert texts(events) == "Hello, wörld!"
    refresh = kiro.refresh.calls.last.request
    assert json.loads(refresh.content) == {"refreshToken": "aor-current"}
    assert refresh.headers["user-agent"] == kiro.provider.identity.kiro
    assert kiro.sent(0).content == kiro.sent(1).content  # the same bytes, replayed
    assert kiro.sent(1).headers["authorization"] == "Bearer aoa-new"
    assert kiro.sent(1).headers["amz-sdk-request"] == "attempt=2; max=2"
    written = json.loads(kiro.token_path.read_text())
    assert (written["accessToken"], written["refreshToken"]) == ("aoa-new", "aor-new")
    assert written["zzKeep"] == {"nested": [1, "two"]} and written["provider"] == "Github"
    assert stat.S_IMODE(kiro.token_path.stat().st_mode) == 0o600
    assert rejected_body.closed and ok_body.closed


async def test_an_account_403_is_not_refreshed(kiro: Kiro) -> None:
    response, body = failing(
        403, {"message": "Your account is temporarily suspended.", "reason": "TEMPORARILY_SUSPENDED"}
    )
    kiro.serve(response)
    _, error = await kiro.failure(request())
    assert isinstance(error, PermissionDenied) and kiro.refresh.call_count == 0 and body.closed


async def test_a_second_403_gives_up_after_one_refresh(kiro: Kiro) -> None:
    kiro.serve(failing(403, {"message": "bad token"})[0], failing(403, {"message": "bad token"})[0])
    kiro.refresh.mock(
        return_value=httpx.Response(200, json={"accessToken": "aoa-new", "refreshToken": "aor-new"})
    )
    _, error = await kiro.failure(request())
    assert isinstance(error, AuthError) and "Sign in to Kiro again" in error.message
    assert kiro.chat.call_count == 2 and kiro.refresh.call_count == 1


async def test_a_dead_refresh_token_says_to_sign_in_again(kiro: Kiro) -> None:
    kiro.serve(failing(403, {"message": "The bearer token included in the request is invalid."})[0])
    kiro.refresh.mock(return_value=httpx.Response(401, json={"message": "Invalid refresh token provided"}))
    _, error = await kiro.failure(request())
    assert isinstance(error, AuthError) and "Sign in to Kiro again" in error.message
    assert kiro.chat.call_count == 1


async def test_an_expired_token_is_refreshed_before_the_request(make: Callable[..., Kiro]) -> None:
    kiro = make(document=social_document(expires=time.time() - 60))
    kiro.refresh.mock(
        return_value=httpx.Response(200, json={"accessToken": "aoa-new", "refreshToken": "aor-new"})
    )
    kiro.serve(streamed(*HELLO)[0])
    await kiro.run(request())
    assert kiro.chat.call_count == 1 and kiro.sent().headers["authorization"] == "Bearer aoa-new"


async def test_tokens_from_the_config_refresh_in_memory(make: Callable[..., Kiro]) -> None:
    kiro = make(
        write_file=False, access_token="aoa-config", refresh_token="aor-config", profile_arn=PROFILE_ARN
    )
    kiro.serve(failing(403, {"message": "expired token"})[0], streamed(*HELLO)[0])
    kiro.refresh.mock(
        return_value=httpx.Response(200, json={"accessToken": "aoa-new", "refreshToken": "aor-new"})
    )
    await kiro.run(request())
    assert kiro.sent(0).headers["authorization"] == "Bearer aoa-config"
    assert kiro.sent(1).headers["authorization"] == "Bearer aoa-new"
    assert json.loads(kiro.sent(1).content)["profileArn"] == PROFILE_ARN
    assert not kiro.token_path.exists()
    assert "router config" in kiro.provider.credential_status().detail


# -- failures -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "document", "kind", "words"),
    [
        (
            400,
            {"message": "Invalid model.", "reason": "INVALID_MODEL_ID"},
            UpstreamRejected,
            "does not serve",
        ),
        (
            429,
            {"message": "Too many requests", "reason": "DAILY_REQUEST_COUNT"},
            RateLimited,
            "daily request limit",
        ),
        (402, {"message": "Monthly limit", "reason": "MONTHLY_REQUEST_COUNT"}, RateLimited, "monthly"),
    ],
    ids=["bad-model", "throttled", "quota"],
)
async def test_http_failures_become_router_errors(
    kiro: Kiro, status: int, document: dict[str, Any], kind: type[ProviderError], words: str
) -> None:
    response, body = failing(status, document, {"retry-after": "7"})
    kiro.serve(response)
    _, error = await kiro.failure(request())
    assert isinstance(error, kind) and words in error.message and error.upstream_status == status
    assert body.closed and kiro.refresh.call_count == 0
    if isinstance(error, RateLimited):
        assert error.retry_after == 7.0


async def test_missing_login_fails_before_any_request(make: Callable[..., Kiro]) -> None:
    kiro = make(write_file=False)
    _, error = await kiro.failure(request())
    assert isinstance(error, AuthError) and str(kiro.token_path) in error.message
    assert kiro.chat.call_count == 0


# -- the model catalogue -----------------------------------------------------------------------------------


async def test_list_models_reads_list_available_models(kiro: Kiro) -> None:
    models = await kiro.provider.list_models()
    assert [(m.id, m.display_name, m.context_window, m.max_output_tokens) for m in models] == [
        ("claude-sonnet-4.5", "Claude Sonnet 4.5", 400_000, 64_000)
    ]
    sent = kiro.models.calls.last.request
    assert sent.url.params["origin"] == "AI_EDITOR" and sent.url.params["profileArn"] == PROFILE_ARN
    assert sent.headers["authorization"] == "Bearer aoa-current"
    assert "api/codewhispererruntime#1.0.0 m/N,E KiroIDE-" in sent.headers["user-agent"]


async def test_list_models_follows_pages(kiro: Kiro) -> None:
    kiro.models.side_effect = [
        httpx.Response(200, json={"models": [model_entry("claude-sonnet-4.5", "S")], "nextToken": "page-2"}),
        httpx.Response(200, json={"modelIds": ["claude-opus-4.6"]}),
    ]
    models = await kiro.provider.list_models()
    assert [m.id for m in models] == ["claude-sonnet-4.5", "claude-opus-4.6"]
    assert models[1].context_window == 1_000_000
    assert kiro.models.calls[1].request.url.params["nextToken"] == "page-2"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, json={"message": "boom"}),
        httpx.Response(403, json={"message": "denied"}),
        httpx.Response(200, text="<html>"),
        httpx.Response(200, json={"models": []}),
        httpx.ConnectError("refused"),
    ],
    ids=["500", "403", "html", "empty", "connect-error"],
)
async def test_failing_catalogue_falls_back_to_the_builtin_list(kiro: Kiro, answer: Any) -> None:
    kiro.models.side_effect = [answer]
    assert list(await kiro.provider.list_models()) == list(FALLBACK_MODELS)


async def test_catalogue_ttl_and_retry_after_failure(make: Callable[..., Kiro]) -> None:
    kiro = make(models_ttl=600.0)
    now = [1000.0]
    kiro.provider.catalogue.clock = lambda: now[0]
    good = httpx.Response(200, json={"models": [model_entry("claude-sonnet-4.5", "S")]})
    kiro.models.side_effect = [httpx.ConnectError("refused"), good, good]
    assert list(await kiro.provider.list_models()) == list(FALLBACK_MODELS)
    now[0] += 30.0
    await kiro.provider.list_models()
    assert kiro.models.call_count == 1  # a failure is retried after a minute, not at once
    now[0] += 31.0
    assert [m.id for m in await kiro.provider.list_models()] == ["claude-sonnet-4.5"]
    now[0] += 599.0
    await kiro.provider.list_models()
    assert kiro.models.call_count == 2
    now[0] += 2.0
    await kiro.provider.list_models()
    assert kiro.models.call_count == 3


# -- status, login, plugin, settings -------------------------------------------------------------------------


async def test_credential_status_names_kind_region_expiry_and_file(kiro: Kiro) -> None:
    status = kiro.provider.credential_status()
    assert status.ok
    assert "social login (us-east-1)" in status.detail and "expires in" in status.detail
    assert str(kiro.token_path) in status.detail
    for secret in ("aoa-current", "aor-current"):
        assert secret not in status.detail and secret not in repr(status)


async def test_credential_status_without_a_login_says_how_to_sign_in(make: Callable[..., Kiro]) -> None:
    status = make(write_file=False).provider.credential_status()
    assert not status.ok and "Sign in to Kiro" in status.detail


async def test_kiro_auth_file_is_read_when_no_token_file_is_set(
    make: Callable[..., Kiro], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps(social_document(access="aoa-env")))
    monkeypatch.setenv("KIRO_AUTH_FILE", str(elsewhere))
    kiro = make(write_file=False, token_file=None)
    kiro.serve(streamed(*HELLO)[0])
    await kiro.run(request())
    assert kiro.sent().headers["authorization"] == "Bearer aoa-env"


async def test_login_and_logout_point_to_the_kiro_ide(kiro: Kiro, make: Callable[..., Kiro]) -> None:
    said: list[str] = []
    await kiro.provider.login(LoginOptions(), said.append)
    await kiro.provider.logout(said.append)
    assert "Using the Kiro login" in said[0] and "Kiro IDE" in said[1]
    assert json.loads(kiro.token_path.read_text()) == kiro.document
    kiro.token_path.unlink()
    with pytest.raises(AuthError, match="Sign in to Kiro again"):
        await make(write_file=False).provider.login(LoginOptions(), said.append)
    with pytest.raises(AuthError, match="cannot import"):
        await kiro.provider.login(LoginOptions(import_from="opencode"), said.append)


def test_the_builtin_plugin_registers_the_kiro_provider() -> None:
    assert provider_classes(make_plugin_manager(autoload=False))["kiro"] is KiroProvider


def test_settings_validate_from_yaml() -> None:
    classes = provider_classes(make_plugin_manager(autoload=False))
    data = {
        "providers": {
            "kiro": {
                "api_url": "http://127.0.0.1:9",
                "token_file": "~/k.json",
                "thinking_mode": "native",
                "models_ttl": 60,
                "model_map": {"claude-sonnet-4-5": "auto"},
                "target": "AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
            }
        },
        "routes": [{"when": {"tier": "sonnet"}, "use": "kiro/claude-sonnet-4.5"}],
    }
    settings = parse_config(data, classes, env={}).providers["kiro"]
    assert settings == KiroSettings(
        api_url="http://127.0.0.1:9",
        token_file=Path("~/k.json").expanduser(),
        thinking_mode="native",
        models_ttl=60.0,
        model_map={"claude-sonnet-4-5": "auto"},
        target="AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
    )
    defaults = parse_config({"providers": {"kiro": {}}}, classes, env={}).providers["kiro"]
    assert defaults.api_url == "https://q.{region}.amazonaws.com" and defaults.api_region is None
    assert defaults.social_refresh_url == "https://prod.{region}.auth.desktop.kiro.dev/refreshToken"
    assert defaults.thinking_mode == "tags" and defaults.max_payload_bytes == 1_200_000


def test_static_tokens_from_the_environment() -> None:
    classes = provider_classes(make_plugin_manager(autoload=False))
    data = {"providers": {"kiro": {"refresh_token": "${KIRO_REFRESH}", "region": "eu-central-1"}}}
    settings = parse_config(data, classes, env={"KIRO_REFRESH": "aor-env"}).providers["kiro"]
    assert settings.refresh_token == "aor-env" and settings.region == "eu-central-1"


@pytest.mark.parametrize(
    ("section", "path"),
    [
        ({"api_ulr": "x"}, "providers.kiro.api_ulr"),
        ({"thinking_mode": "loud"}, "providers.kiro.thinking_mode"),
        ({"api_url": "q.amazonaws.com"}, "providers.kiro.api_url"),
        ({"api_region": "mars"}, "providers.kiro.api_region"),
        ({"profile_arn": PROFILE_ARN}, "providers.kiro.profile_arn"),
        ({"access_token": "a", "token_file": "/x"}, "providers.kiro.token_file"),
        ({"refresh_token": "r", "client_id": "c"}, "providers.kiro.client_secret"),
        ({"max_payload_bytes": 0}, "providers.kiro.max_payload_bytes"),
        ({"model_map": {"claude-x": ""}}, "providers.kiro.model_map"),
        ({"chat_path": "generate"}, "providers.kiro.chat_path"),
    ],
    ids=[
        "unknown-key",
        "bad-mode",
        "bad-url",
        "bad-region",
        "arn-without-tokens",
        "file-and-tokens",
        "half-a-client",
        "zero-limit",
        "empty-map-value",
        "relative-path",
    ],
)
def test_bad_settings_name_their_path(section: dict[str, Any], path: str) -> None:
    classes = provider_classes(make_plugin_manager(autoload=False))
    with pytest.raises(ConfigError) as caught:
        parse_config({"providers": {"kiro": section}}, classes, env={})
    assert caught.value.path == path


def test_secrets_are_not_shown_in_setting_errors() -> None:
    classes = provider_classes(make_plugin_manager(autoload=False))
    with pytest.raises(ConfigError) as caught:
        parse_config({"providers": {"kiro": {"access_token": 12345}}}, classes, env={})
    assert "12345" not in str(caught.value)
