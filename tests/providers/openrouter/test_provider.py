"""The OpenRouter provider's I/O shell, against a respx-mocked OpenRouter.

Translation itself is covered in test_translate.py, and what every provider must do (event
grammar, closing the upstream response, mapping transport failures, 429/5xx flags, secrets
kept out of errors) in the contract suite (tests/contract, harness in contract.py). These
drive `OpenRouterProvider` through that harness for what is OpenRouter's own: what goes on
the wire (URL, headers, body), its failure shapes in and out of the stream, the retry for
models that always reason, the Anthropic-endpoint mode, the model catalogue, credential
status, and the plugin and config wiring.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from providers.openrouter.provider import OpenRouterProvider, OpenRouterRouteOptions, OpenRouterSettings
from router.anthropic.decode import parse_request
from router.anthropic.signatures import encode_signature, mint_signature
from router.server.config import parse_config
from router.conversation import Request, Signature
from router.errors import AuthError, ConfigError, Overloaded, ProviderError, RateLimited
from router.errors import UpstreamRejected, UpstreamUnavailable
from router.events import BlockStop, MessageStart, MessageStop, SignatureDelta, TextDelta, TextStart
from router.events import ThinkingDelta, ThinkingStart
from router.server.plugins import make_plugin_manager, provider_classes
from router.provider import ModelInfo, ProviderContext
from router.route import Route
from router.testing.checks import check_grammar
from router.testing.scripted import ScriptedBody, json_response, scripted_response
from tests.providers.conftest import Opened
from tests.providers.openrouter import chunks
from tests.providers.openrouter.contract import BASE, CLAUDE, KEY, OpenRouterHarness, error_document, sse
from tests.providers.openrouter.fake_openrouter import check_anthropic_request, check_chat_request

LLAMA = Route("openrouter", "meta-llama/llama-3.3-70b-instruct:free", options=OpenRouterRouteOptions(provider={"sort": "price"}))
PREFERENCES = {"order": ["anthropic"], "allow_fallbacks": False, "data_collection": "deny"}

OpenRouter = OpenRouterHarness


# -- wire helpers -------------------------------------------------------------------------------------------


def streamed(stream: Iterable[dict[str, Any]], *, done: bool = True,
             fail: Exception | None = None) -> tuple[httpx.Response, ScriptedBody]:
    return scripted_response(200, sse(stream, done=done), headers={"content-type": "text/event-stream"}, fail=fail)


def anthropic_sse(events: Iterable[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events)


def failing(status: int, message: str, headers: dict[str, str] | None = None,
            **metadata: Any) -> tuple[httpx.Response, ScriptedBody]:
    return json_response(status, error_document(status, message, **metadata), headers)


def sent(call: Any) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads(cast(httpx.Request, call.request).content))


def request(*messages: dict[str, Any], betas: tuple[str, ...] = (), **extra: Any) -> Request:
    data = {"model": "claude-opus-4-8", "max_tokens": 4096,
            "messages": list(messages) or [{"role": "user", "content": "hello"}],
            "system": [{"type": "text", "text": "You are Claude Code."}], **extra}
    return parse_request(data, betas=betas)


@pytest.fixture
def make(tmp_path: Path, opened: Opened) -> Callable[..., OpenRouter]:
    def build(**settings: Any) -> OpenRouter:
        harness = opened(OpenRouterHarness(tmp_path, **settings))
        harness.route = LLAMA  # these tests' default route: not a Claude model
        return harness
    return build


@pytest.fixture
def openrouter(make: Callable[..., OpenRouter]) -> OpenRouter:
    return make(referer="https://example.org", provider=PREFERENCES)


# -- the request on the wire ------------------------------------------------------------------------------------


async def test_request_headers_and_body(openrouter: OpenRouter) -> None:
    response, body = streamed(chunks.text("Hi"))
    openrouter.serve(response)
    events = await openrouter.run(request(thinking={"type": "enabled", "budget_tokens": 2048}))
    assert [type(e) for e in events] == [MessageStart, TextStart, TextDelta, BlockStop, MessageStop]
    call = openrouter.chat.calls.last
    assert str(call.request.url) == f"{BASE}/chat/completions"
    headers = call.request.headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["http-referer"] == "https://example.org"
    assert headers["x-title"] == "switchyard-router" and headers["x-openrouter-title"] == "switchyard-router"
    assert headers["content-type"] == "application/json" and headers["accept"] == "text/event-stream"
    document = sent(call)
    assert document["stream"] is True and document["stream_options"] == {"include_usage": True}
    assert document["model"] == LLAMA.model and document["max_tokens"] == 4096
    assert document["provider"] == {**PREFERENCES, "sort": "price"}
    assert document["reasoning"] == {"max_tokens": 2048}
    assert body.closed


async def test_the_body_is_read_to_its_end_after_done_so_the_connection_is_reused(openrouter: OpenRouter) -> None:
    body = ScriptedBody(sse(chunks.text("Hello")) + b": trailing keep-alive after the end\n\n")
    openrouter.serve(httpx.Response(200, stream=body))
    events = await openrouter.run(request())
    assert any(isinstance(e, TextDelta) for e in events)
    assert body.exhausted and body.closed


async def test_without_referer_or_title_those_headers_are_absent(make: Callable[..., OpenRouter]) -> None:
    bare = make(title=None)
    response, _ = streamed(chunks.text("Hi"))
    bare.serve(response)
    await bare.run(request(), route=Route("openrouter", "openai/gpt-5"))
    headers = bare.chat.calls.last.request.headers
    assert "http-referer" not in headers and "x-title" not in headers and "x-openrouter-title" not in headers
    assert "provider" not in sent(bare.chat.calls.last)


async def test_route_preferences_win_over_the_settings(openrouter: OpenRouter) -> None:
    response, _ = streamed(chunks.text("Hi"))
    openrouter.serve(response)
    route = Route("openrouter", "openai/gpt-5", options=OpenRouterRouteOptions(provider={"allow_fallbacks": True, "only": ["openai"]}))
    await openrouter.run(request(), route=route)
    assert sent(openrouter.chat.calls.last)["provider"] == {**PREFERENCES, "allow_fallbacks": True, "only": ["openai"]}


async def test_usage_and_cost_are_logged(openrouter: OpenRouter, caplog: pytest.LogCaptureFixture) -> None:
    response, _ = streamed(chunks.CACHED_USAGE)
    openrouter.serve(response)
    with caplog.at_level(logging.INFO, logger="providers.openrouter"):
        events = await openrouter.run(request())
    assert events[-1] == MessageStop("end_turn", events[-1].usage)  # type: ignore[union-attr]
    line = next(r.getMessage() for r in caplog.records if "credits" in r.getMessage())
    assert "0.012300 credits" in line and "8000 cached" in line and KEY not in line


async def test_reasoning_round_trip_over_the_wire(openrouter: OpenRouter) -> None:
    response, _ = streamed(chunks.REASONING_WITH_SIGNATURE)
    openrouter.serve(response)
    events = await openrouter.run(request(thinking={"type": "adaptive"}), CLAUDE)
    check_grammar(events)
    (signature,) = [e.signature for e in events if isinstance(e, SignatureDelta)]
    follow_up = request(
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "".join(chunks.REASONING_PIECES), "signature": encode_signature(signature)},
            {"type": "tool_use", "id": "toolu_01B", "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01B", "content": "x"}]},
        tools=[{"name": "Bash", "input_schema": {"type": "object"}}],
    )
    response, _ = streamed(chunks.text("Done"))
    openrouter.serve(response)
    await openrouter.run(follow_up, CLAUDE)
    replayed = sent(openrouter.chat.calls.last)["messages"][2]
    assert replayed["reasoning_details"] == chunks.MERGED_DETAILS


async def test_a_model_that_always_reasons_is_resent_without_turning_reasoning_off(
    openrouter: OpenRouter, caplog: pytest.LogCaptureFixture
) -> None:
    refused, refused_body = failing(400, "Reasoning is mandatory for this endpoint and cannot be disabled.")
    response, _ = streamed(chunks.text("Title"))
    second, _ = streamed(chunks.text("Again"))
    openrouter.serve(refused, response, second)
    title = request(thinking={"type": "disabled"})
    events = await openrouter.run(title)
    assert TextDelta("Title") in events and refused_body.closed
    first, retry = (sent(call) for call in openrouter.chat.calls)
    assert first["reasoning"] == {"enabled": False} and "reasoning" not in retry
    await openrouter.run(title)
    assert openrouter.chat.call_count == 3 and "reasoning" not in sent(openrouter.chat.calls.last)


# -- failures ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "headers", "error", "words"),
    [
        (401, "No auth credentials found", {}, AuthError, "check providers.openrouter.api_key"),
        (402, "Insufficient credits", {}, RateLimited, "credits exhausted"),
        (503, "No allowed providers are available", {}, Overloaded, "no provider"),
        (400, "tools: invalid schema", {}, UpstreamRejected, "tools: invalid schema"),
    ],
)
async def test_http_failures_become_router_errors(
    openrouter: OpenRouter, status: int, message: str, headers: dict[str, str], error: type[ProviderError], words: str
) -> None:
    response, body = failing(status, message, headers)
    openrouter.serve(response)
    events, exc = await openrouter.failure(request())
    assert events == [] and type(exc) is error and words in exc.message
    assert body.closed and KEY not in exc.message


async def test_mid_stream_error_after_partial_events(openrouter: OpenRouter) -> None:
    response, body = streamed(chunks.mid_stream_error(502, "Provider returned error", provider_name="Together"))
    openrouter.serve(response)
    events, exc = await openrouter.failure(request())
    assert events[-1] == TextDelta("Partial")
    assert isinstance(exc, UpstreamUnavailable) and "Together" in exc.message and body.closed


async def test_stream_cut_without_finish_is_unavailable(openrouter: OpenRouter) -> None:
    response, body = streamed(chunks.NO_FINISH, done=False)
    openrouter.serve(response)
    events, exc = await openrouter.failure(request())
    assert TextDelta("off") in events and isinstance(exc, UpstreamUnavailable) and body.closed


async def test_an_event_that_is_not_json_is_unavailable(openrouter: OpenRouter) -> None:
    body = ScriptedBody(b"data: {not json\n\n")
    openrouter.serve(httpx.Response(200, stream=body))
    _, exc = await openrouter.failure(request())
    assert isinstance(exc, UpstreamUnavailable) and body.closed


async def test_an_empty_key_fails_before_any_request(make: Callable[..., OpenRouter]) -> None:
    keyless = make(api_key="")
    _, exc = await keyless.failure(request())
    assert isinstance(exc, AuthError) and "providers.openrouter.api_key" in exc.message
    assert keyless.chat.call_count == 0


# -- the Anthropic endpoint ------------------------------------------------------------------------------------------

NATIVE_REPLY: list[tuple[str, dict[str, Any]]] = [
    ("message_start", {"type": "message_start", "message": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-opus-4-5", "content": [],
        "usage": {"input_tokens": 12, "output_tokens": 1}}}),
    ("content_block_start", {"type": "content_block_start", "index": 0,
                             "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "thinking_delta", "thinking": "Let me see."}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "signature_delta", "signature": "EqRawAnthropicSig=="}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("ping", {"type": "ping"}),
    ("content_block_start", {"type": "content_block_start", "index": 1,
                             "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1,
                             "delta": {"type": "text_delta", "text": "Hello"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                       "usage": {"output_tokens": 9}}),
    ("message_stop", {"type": "message_stop"}),
]


@pytest.mark.parametrize(
    ("setting", "option", "route_model", "native"),
    [
        (True, None, CLAUDE.model, True),
        (False, True, CLAUDE.model, True),
        (True, False, CLAUDE.model, False),
        (True, None, "openai/gpt-5", False),
    ],
)
async def test_the_mode_follows_settings_route_option_and_model(
    make: Callable[..., OpenRouter], setting: bool, option: bool | None, route_model: str, native: bool
) -> None:
    provider = make(anthropic_endpoint=setting)
    provider.messages.side_effect = [httpx.Response(200, stream=ScriptedBody(anthropic_sse(NATIVE_REPLY)))]
    response, _ = streamed(chunks.text("Hi"))
    provider.serve(response)
    options = None if option is None else OpenRouterRouteOptions(anthropic_endpoint=option)
    await provider.run(request(), route=Route("openrouter", route_model, options=options))
    assert (provider.messages.call_count, provider.chat.call_count) == ((1, 0) if native else (0, 1))


async def test_anthropic_endpoint_sends_raw_signatures_and_wraps_them_back(make: Callable[..., OpenRouter]) -> None:
    provider = make(anthropic_endpoint=True, provider=PREFERENCES)
    body = ScriptedBody(b": OPENROUTER PROCESSING\n\n" + anthropic_sse(NATIVE_REPLY))
    provider.messages.side_effect = [httpx.Response(200, stream=body)]
    ours = encode_signature(Signature("openrouter", CLAUDE.model, "EqEarlierRawSig=="))
    req = request(
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "Before.", "signature": ours},
                                          {"type": "text", "text": "a"}]},
        {"role": "user", "content": "more"},
        thinking={"type": "enabled", "budget_tokens": 2048}, betas=("beta-x",),
    )
    events = await provider.run(req, CLAUDE)
    check_grammar(events)
    call = provider.messages.calls.last
    assert str(call.request.url) == f"{BASE}/messages"
    assert call.request.headers["authorization"] == f"Bearer {KEY}"
    assert call.request.headers["anthropic-version"] == "2023-06-01"
    assert call.request.headers["anthropic-beta"] == "beta-x"
    document = sent(call)
    assert document["model"] == CLAUDE.model and document["stream"] is True
    assert document["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert document["messages"][1]["content"][0] == {"type": "thinking", "thinking": "Before.",
                                                     "signature": "EqEarlierRawSig=="}
    assert document["provider"] == PREFERENCES
    assert "swy1." not in json.dumps(document)
    assert events[1:5] == [ThinkingStart(), ThinkingDelta("Let me see."),
                           SignatureDelta(Signature("openrouter", CLAUDE.model, "EqRawAnthropicSig==")), BlockStop()]
    stop = events[-1]
    assert isinstance(stop, MessageStop) and stop.stop_reason == "end_turn" and stop.usage.output_tokens == 9
    assert body.closed


@pytest.mark.parametrize("endpoint", [False, True], ids=["chat-completions", "anthropic-endpoint"])
@pytest.mark.parametrize("origin", [Route("kiro", "claude-sonnet-4.5"), CLAUDE], ids=["kiro-tags", "own-unsigned"])
async def test_thinking_the_router_signed_goes_back_unsigned(
    make: Callable[..., OpenRouter], endpoint: bool, origin: Route
) -> None:
    """A stand-in signature (Kiro's tag thinking, or this provider's own unsigned reasoning) is never sent on."""
    provider = make(anthropic_endpoint=endpoint)
    if endpoint:
        provider.messages.side_effect = [httpx.Response(200, stream=ScriptedBody(anthropic_sse(NATIVE_REPLY)))]
    else:
        provider.serve(streamed(chunks.text("Done"))[0])
    stand_in = mint_signature(origin.provider, origin.model)
    req = request(
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Pondering.", "signature": encode_signature(stand_in)},
            {"type": "text", "text": "a"}]},
        {"role": "user", "content": "more"},
        thinking={"type": "enabled", "budget_tokens": 2048},
    )
    check_grammar(await provider.run(req, CLAUDE))
    document = sent((provider.messages if endpoint else provider.chat).calls.last)
    (replayed,) = [message for message in document["messages"] if message["role"] == "assistant"]
    if endpoint:
        assert replayed["content"] == [{"type": "text", "text": "a"}]  # Claude would refuse the thinking block
        assert check_anthropic_request(document, {}) is None
    else:
        assert "reasoning_details" not in replayed and replayed["content"] == "a"
        assert check_chat_request(document) is None
    assert stand_in.value not in json.dumps(document) and "swy1" not in json.dumps(document)


async def test_anthropic_endpoint_errors_and_cut_off_streams(make: Callable[..., OpenRouter]) -> None:
    provider = make(anthropic_endpoint=True)
    error_event: tuple[str, dict[str, Any]] = ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    provider.messages.side_effect = [
        httpx.Response(200, stream=ScriptedBody(anthropic_sse([*NATIVE_REPLY[:3], error_event]))),
        httpx.Response(200, stream=ScriptedBody(anthropic_sse(NATIVE_REPLY[:5]))),
        httpx.Response(401, json={"type": "error", "error": {"type": "authentication_error", "message": "bad"}}),
    ]
    events, exc = await provider.failure(request(), route=CLAUDE)
    assert isinstance(exc, Overloaded) and ThinkingDelta("Let me see.") in events
    _, exc = await provider.failure(request(), route=CLAUDE)
    assert isinstance(exc, UpstreamUnavailable) and "message_stop" in exc.message
    _, exc = await provider.failure(request(), route=CLAUDE)
    assert isinstance(exc, AuthError)


# -- models and credentials -----------------------------------------------------------------------------------------

MODELS = {"data": [
    {"id": "anthropic/claude-opus-4.5", "name": "Anthropic: Claude Opus 4.5", "context_length": 200000,
     "top_provider": {"max_completion_tokens": 64000}, "supported_parameters": ["reasoning", "tools"],
     "pricing": {"prompt": "0.000005", "completion": "0.000025"}},
    {"id": "meta-llama/llama-3.3-70b-instruct:free", "name": "Llama 3.3 70B (free)", "context_length": 131072,
     "top_provider": {"max_completion_tokens": None}, "supported_parameters": ["tools"]},
]}


async def test_list_models_is_cached_for_its_ttl(openrouter: OpenRouter) -> None:
    openrouter.models.mock(return_value=httpx.Response(200, json=MODELS))
    models = await openrouter.provider.list_models()
    assert list(models) == [
        ModelInfo("anthropic/claude-opus-4.5", "Anthropic: Claude Opus 4.5", 200000, 64000, ("low", "medium", "high")),
        ModelInfo("meta-llama/llama-3.3-70b-instruct:free", "Llama 3.3 70B (free)", 131072, None, ()),
    ]
    await openrouter.provider.list_models()
    assert openrouter.models.call_count == 1
    assert openrouter.models.calls.last.request.headers["authorization"] == f"Bearer {KEY}"


async def test_a_failing_model_list_is_empty_with_a_warning(
    openrouter: OpenRouter, caplog: pytest.LogCaptureFixture
) -> None:
    openrouter.models.mock(return_value=httpx.Response(500, text="down"))
    with caplog.at_level(logging.WARNING, logger="providers.openrouter"):
        assert list(await openrouter.provider.list_models()) == []
    assert any("could not list OpenRouter models" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("key", "ok", "detail"),
    [
        (KEY, True, "API key set (sk-or-…9876)"),
        ("abcdefghijklmnopqrstuvwxyz", True, "API key set (…wxyz)"),
        ("short-key", True, "API key set"),
        ("", False, "no API key"),
    ],
)
def test_credential_status_never_shows_the_key(key: str, ok: bool, detail: str) -> None:
    provider = OpenRouterProvider(OpenRouterSettings(api_key=key),
                                  ProviderContext(httpx.AsyncClient(), logging.getLogger("t"), Path("/x")))
    status = provider.credential_status()
    assert status.ok is ok and status.detail.startswith(detail)
    if key:
        assert key[:-4] not in status.detail


# -- plugin and config wiring ---------------------------------------------------------------------------------------


def test_the_builtin_plugin_registers_the_openrouter_provider() -> None:
    classes = provider_classes(make_plugin_manager(autoload=False))
    assert classes["openrouter"] is OpenRouterProvider
    assert OpenRouterProvider.Settings is OpenRouterSettings
    assert OpenRouterProvider.RouteOptions is OpenRouterRouteOptions


def test_settings_and_route_options_validate_from_yaml() -> None:
    classes = provider_classes(make_plugin_manager(autoload=False))
    data = {
        "providers": {"openrouter": {"api_key": "${OPENROUTER_API_KEY}", "referer": "https://example.org",
                                     "anthropic_endpoint": True, "models_ttl": 60, "provider": PREFERENCES}},
        "routes": [{"when": {"tier": "opus"}, "use": "openrouter/anthropic/claude-opus-4.5",
                    "options": {"provider": {"sort": "price"}, "anthropic_endpoint": False}}],
    }
    config = parse_config(data, classes, env={"OPENROUTER_API_KEY": KEY})
    assert config.providers["openrouter"] == OpenRouterSettings(
        api_key=KEY, referer="https://example.org", anthropic_endpoint=True, models_ttl=60.0, provider=PREFERENCES)
    assert config.routes[0].options == OpenRouterRouteOptions(provider={"sort": "price"}, anthropic_endpoint=False)


@pytest.mark.parametrize(
    ("section", "options", "message"),
    [
        ({}, None, "providers.openrouter.api_key: required"),
        ({"api_key": "k", "base_url": "openrouter.ai"}, None, "providers.openrouter.base_url: must start with https://"),
        ({"api_key": "k", "referrer": "x"}, None, "providers.openrouter.referrer: unknown key"),
        ({"api_key": "k"}, {"anthropic_endpoint": "yes please"}, "routes[0].options.anthropic_endpoint"),
        ({"api_key": "k"}, {"providers": {}}, "routes[0].options.providers: unknown key"),
    ],
)
def test_bad_settings_name_their_path(section: dict[str, Any], options: dict[str, Any] | None, message: str) -> None:
    classes = provider_classes(make_plugin_manager(autoload=False))
    route: dict[str, Any] = {"when": {"tier": "opus"}, "use": "openrouter/openai/gpt-5"}
    if options is not None:
        route["options"] = options
    with pytest.raises(ConfigError) as info:
        parse_config({"providers": {"openrouter": section}, "routes": [route]}, classes, env={})
    assert message in str(info.value)


def test_a_key_from_the_environment_is_never_shown_in_config_errors() -> None:
    classes = provider_classes(make_plugin_manager(autoload=False))
    with pytest.raises(ConfigError) as info:
        parse_config({"providers": {"openrouter": {"api_key": "${OPENROUTER_API_KEY}", "models_ttl": "${OPENROUTER_API_KEY}"}}},
                     classes, env={"OPENROUTER_API_KEY": KEY})
    assert KEY not in str(info.value)
