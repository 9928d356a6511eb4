"""OpenRouter end to end: the `anthropic` SDK -> `router serve` (a real process) -> a fake OpenRouter.

The fake (`fake_openrouter.py`) enforces what OpenRouter documents (and what the models behind
it enforce: tool-call pairing, thinking signatures, cache breakpoints), answers from its
brain and records every request and its headers, so each test checks both what the client saw
and what reached the service.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from router.anthropic.signatures import decode_signature
from tests.providers.openrouter.fake_openrouter import API_KEY, FakeOpenRouter, text_of
from tests.support.live import router_env, router_serving, serve_asgi

HAIKU = "claude-haiku-4-5-20251001"   # -> openrouter/meta-llama/llama-3.3-70b-instruct:free (chat completions)
SONNET = "claude-sonnet-5"             # -> openrouter/anthropic/claude-sonnet-4.5 through the Anthropic endpoint
OPUS = "claude-opus-4-8"               # -> openrouter/anthropic/claude-opus-4.5 through chat completions

SETTINGS_PREFERENCES = {"order": ["anthropic"], "allow_fallbacks": False, "data_collection": "deny"}

BASH = {"name": "Bash", "description": "Run a shell command",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"},
                                                          "description": {"type": "string"}},
                         "required": ["command"]}}


class Deployment:
    """The fake service, the router in front of it, and an SDK client pointed at the router."""

    def __init__(self, fake: FakeOpenRouter, url: str) -> None:
        self.fake = fake
        self.url = url
        self.sdk: Any = anthropic.Anthropic(base_url=url, api_key="sk-unused", max_retries=0)  # SDK param types are too narrow for test JSON


@pytest.fixture
def deployment(tmp_path: Path, upstream_transport: str) -> Iterator[Deployment]:
    fake = FakeOpenRouter()
    with serve_asgi(fake.app()) as backend:
        config = tmp_path / "config.yaml"
        config.write_text(f"""
server: {{retries: 0, upstream_transport: {upstream_transport}}}
providers:
  openrouter:
    api_key: ${{OPENROUTER_API_KEY}}
    base_url: {backend}
    referer: https://example.org
    title: switchyard-router
    anthropic_endpoint: false
    models_ttl: 3600
    provider: {{order: [anthropic], allow_fallbacks: false, data_collection: deny}}
routes:
  - when: {{model: native-opus}}
    use: openrouter/anthropic/claude-opus-4.5
    options: {{anthropic_endpoint: true}}
  - when: {{tier: haiku}}
    use: openrouter/meta-llama/llama-3.3-70b-instruct:free
    options: {{provider: {{sort: price, allow_fallbacks: true}}, anthropic_endpoint: false}}
  - when: {{tier: sonnet}}
    use: openrouter/anthropic/claude-sonnet-4.5
    options: {{anthropic_endpoint: true}}
  - when: {{tier: opus}}
    use: openrouter/anthropic/claude-opus-4.5
default: {{use: openrouter/openai/gpt-5}}
""")
        env = router_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg"), XDG_STATE_HOME=str(tmp_path / "st"),
                         OPENROUTER_API_KEY=API_KEY)
        with router_serving(config, tmp_path, env) as serving:
            yield Deployment(fake, serving.url)


def dumped(message: Any) -> dict[str, Any]:
    """An SDK reply as the assistant turn of the next request."""
    return {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in message.content]}


def no_rejections(fake: FakeOpenRouter) -> None:
    assert fake.rejections == [], fake.rejections


# ----------------------------------------------------------------------------------- text and usage


def test_text_reply_with_cached_usage(deployment: Deployment) -> None:
    message = deployment.sdk.messages.create(model=HAIKU, max_tokens=1000, system="You are terse.",
                                             messages=[{"role": "user", "content": "hello"}])
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "hello from the fake openrouter"
    assert message.model == HAIKU and message.stop_reason == "end_turn"
    # prompt_tokens counts cached input too: 1200 - 1024 cached - 0 written
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (176, 1024, 42)
    sent = deployment.fake.requests[-1]
    assert sent["model"] == "meta-llama/llama-3.3-70b-instruct:free"
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["messages"][0]["role"] == "system" and text_of(sent["messages"][0]["content"]) == "You are terse."
    assert sent["messages"][-1]["role"] == "user" and text_of(sent["messages"][-1]["content"]) == "hello"
    no_rejections(deployment.fake)


def test_cache_writes_are_not_counted_as_uncached_input(deployment: Deployment) -> None:
    deployment.fake.usage = {"prompt_tokens": 2000, "completion_tokens": 7, "total_tokens": 2007,
                             "prompt_tokens_details": {"cached_tokens": 1500, "cache_write_tokens": 300},
                             "completion_tokens_details": {"reasoning_tokens": 0}}
    message = deployment.sdk.messages.create(model=HAIKU, max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.output_tokens) == (200, 1500, 7)
    assert usage.cache_creation_input_tokens == 300


def test_length_finish_is_max_tokens(deployment: Deployment) -> None:
    message = deployment.sdk.messages.create(model=HAIKU, max_tokens=5, messages=[{"role": "user", "content": "a long one"}])
    assert message.stop_reason == "max_tokens"
    assert message.content[0].text == "This answer was cut"


# ----------------------------------------------------------------------------------- headers and preferences


def test_headers_and_provider_preferences(deployment: Deployment) -> None:
    deployment.sdk.messages.create(model=HAIKU, max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    deployment.sdk.messages.create(model=OPUS, max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    haiku, opus = deployment.fake.requests
    for headers in deployment.fake.headers:
        assert headers["authorization"] == f"Bearer {API_KEY}"
        assert headers["http-referer"] == "https://example.org"
        assert headers["x-title"] == headers["x-openrouter-title"] == "switchyard-router"
    # the route's preferences are merged over the settings' ones, the route's keys winning
    assert haiku["provider"] == {**SETTINGS_PREFERENCES, "sort": "price", "allow_fallbacks": True}
    assert opus["provider"] == SETTINGS_PREFERENCES
    assert opus["model"] == "anthropic/claude-opus-4.5"


def test_models_are_listed_from_the_catalogue(deployment: Deployment) -> None:
    ids = {model.id for model in deployment.sdk.models.list()}
    assert {"openrouter/anthropic/claude-sonnet-4.5", "openrouter/meta-llama/llama-3.3-70b-instruct:free",
            "openrouter/openai/gpt-5"} <= ids


# ----------------------------------------------------------------------------------- tools


def test_tool_round_trip(deployment: Deployment) -> None:
    ask = [{"role": "user", "content": "please run the marker command"}]
    with deployment.sdk.messages.stream(model=HAIKU, max_tokens=4000, messages=ask, tools=[BASH]) as stream:
        first = stream.get_final_message()
    assert first.stop_reason == "tool_use"
    # no thinking was asked for, so the signed reasoning comes back hidden, as a redacted block
    assert [block.type for block in first.content] == ["redacted_thinking", "tool_use"]
    call = first.content[1]
    assert call.type == "tool_use"
    assert call.name == "Bash" and call.id.startswith("toolu_")
    assert call.input == {"command": "echo openrouter-e2e-$((6*7))", "description": "marker"}
    sent = deployment.fake.requests[-1]
    assert sent["tools"][0]["type"] == "function" and sent["tools"][0]["function"]["name"] == "Bash"
    assert sent["tools"][0]["function"]["parameters"]["required"] == ["command"]

    history = [*ask, dumped(first),
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "openrouter-e2e-42\n"}]}]
    second = deployment.sdk.messages.create(model=HAIKU, max_tokens=1000, messages=history, tools=[BASH])
    assert second.content[-1].type == "text" and second.content[-1].text == "The command printed: openrouter-e2e-42"
    assert second.stop_reason == "end_turn"
    replayed = deployment.fake.requests[-1]["messages"]
    assistant = next(m for m in replayed if m["role"] == "assistant")
    tool = replayed[-1]
    assert tool["role"] == "tool" and tool["tool_call_id"] == assistant["tool_calls"][0]["id"]
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == call.input
    assert text_of(tool["content"]).strip() == "openrouter-e2e-42"
    assert [replay.ok for replay in deployment.fake.replays] == [True]  # the hidden reasoning went back unchanged
    no_rejections(deployment.fake)


def test_parallel_tool_calls_arrive_as_two_blocks_in_order(deployment: Deployment) -> None:
    ask = [{"role": "user", "content": "do both in parallel please"}]
    with deployment.sdk.messages.stream(model=HAIKU, max_tokens=4000, messages=ask, tools=[BASH]) as stream:
        first = stream.get_final_message()
    calls = [block for block in first.content if block.type == "tool_use"]
    assert [c.input["command"] for c in calls] == ["echo first-$((1+1))", "echo second-$((2+2))"]
    assert len({c.id for c in calls}) == 2 and first.stop_reason == "tool_use"
    assert [block.type for block in first.content][-2:] == ["tool_use", "tool_use"]

    results = [{"type": "tool_result", "tool_use_id": c.id, "content": out} for c, out in zip(calls, ("first-2", "second-4"))]
    history = [*ask, dumped(first), {"role": "user", "content": results}]
    second = deployment.sdk.messages.create(model=HAIKU, max_tokens=1000, messages=history, tools=[BASH])
    assert second.content[-1].text == "The commands printed: first-2, second-4"
    sent = deployment.fake.requests[-1]["messages"]
    assert [m["role"] for m in sent[-3:]] == ["assistant", "tool", "tool"]
    assert [m["tool_call_id"] for m in sent[-2:]] == [c["id"] for c in sent[-3]["tool_calls"]]
    # the text detail and the encrypted one came back exactly as the fake sent them
    assert deployment.fake.replays and all(replay.ok for replay in deployment.fake.replays), deployment.fake.replays
    no_rejections(deployment.fake)


# ----------------------------------------------------------------------------------- reasoning


def test_reasoning_round_trip_sends_reasoning_details_back_unchanged(deployment: Deployment) -> None:
    ask = [{"role": "user", "content": "think about it"}]
    with deployment.sdk.messages.stream(model=OPUS, max_tokens=8000, messages=ask,
                                        thinking={"type": "enabled", "budget_tokens": 2048}) as stream:
        first = stream.get_final_message()
    assert [block.type for block in first.content] == ["thinking", "text"]
    thinking = first.content[0]
    assert thinking.type == "thinking"
    assert thinking.thinking == "Let me think about this carefully."  # reasoning and reasoning_details not doubled
    assert first.content[1].text == "I thought about it."
    signature = decode_signature(thinking.signature)
    assert (signature.provider, signature.model) == ("openrouter", "anthropic/claude-opus-4.5")
    details = json.loads(signature.value)
    assert signature.value == json.dumps(details, separators=(",", ":"), ensure_ascii=False)  # compact JSON
    (minted,) = deployment.fake.minted.values()
    assert details == minted
    assert "reasoning" in deployment.fake.requests[-1]  # thinking asked for reasoning

    history = [*ask, dumped(first), {"role": "user", "content": "and then?"}]
    deployment.sdk.messages.create(model=OPUS, max_tokens=8000, messages=history,
                                   thinking={"type": "enabled", "budget_tokens": 2048})
    assistant = next(m for m in deployment.fake.requests[-1]["messages"] if m["role"] == "assistant")
    assert assistant["reasoning_details"] == minted
    assert [replay.ok for replay in deployment.fake.replays] == [True]
    no_rejections(deployment.fake)


def test_prompt_caching_marks_reach_anthropic_models(deployment: Deployment) -> None:
    deployment.sdk.messages.create(
        model=OPUS, max_tokens=100,
        system=[{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": [{"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}]}])
    sent = deployment.fake.requests[-1]["messages"]
    system, user = sent[0], sent[-1]
    assert system["role"] == "system" and user["role"] == "user"
    assert isinstance(system["content"], list) and system["content"][0]["cache_control"]["type"] == "ephemeral"
    assert isinstance(user["content"], list) and user["content"][-1]["cache_control"]["type"] == "ephemeral"

    # five marks: Anthropic takes at most four, so the earliest one (the system prompt's) is dropped
    marked = [{"type": "text", "text": f"part {i}", "cache_control": {"type": "ephemeral"}} for i in range(4)]
    deployment.sdk.messages.create(
        model=OPUS, max_tokens=100,
        system=[{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": marked}])
    sent = deployment.fake.requests[-1]["messages"]
    assert "cache_control" not in json.dumps(sent[0])
    assert [part.get("cache_control") for part in sent[-1]["content"]] == [{"type": "ephemeral"}] * 4

    # models that cache on their own get no marks at all
    deployment.sdk.messages.create(
        model=HAIKU, max_tokens=100,
        system=[{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": marked}])
    assert "cache_control" not in json.dumps(deployment.fake.requests[-1])
    no_rejections(deployment.fake)


# ----------------------------------------------------------------------------------- the Anthropic endpoint


def test_anthropic_endpoint_for_claude_models(deployment: Deployment) -> None:
    ask = [{"role": "user", "content": "hello there"}]
    system = [{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}]
    with deployment.sdk.messages.stream(model=SONNET, max_tokens=8000, messages=ask, system=system,
                                        thinking={"type": "enabled", "budget_tokens": 2048}) as stream:
        first = stream.get_final_message()
    assert [block.type for block in first.content] == ["thinking", "text"]
    assert first.content[0].thinking == "Thinking natively about it."
    assert first.content[1].text == "hello from the anthropic endpoint"
    assert (first.usage.input_tokens, first.usage.cache_read_input_tokens, first.usage.output_tokens) == (50, 2000, 30)
    signature = decode_signature(first.content[0].signature)
    assert (signature.provider, signature.model) == ("openrouter", "anthropic/claude-sonnet-4.5")
    assert signature.value in deployment.fake.anthropic_signatures  # the native signature, carried as is

    assert deployment.fake.requests == []  # nothing went to chat completions
    sent = deployment.fake.messages_requests[-1]
    assert sent["model"] == "anthropic/claude-sonnet-4.5" and sent["stream"] is True
    assert sent["thinking"]["type"] == "enabled"
    assert sent["system"][0]["cache_control"] == {"type": "ephemeral"}
    headers = deployment.fake.messages_headers[-1]
    assert headers.get("authorization") == f"Bearer {API_KEY}" or headers.get("x-api-key") == API_KEY
    assert headers["http-referer"] == "https://example.org" and headers["x-title"] == "switchyard-router"

    history = [*ask, dumped(first), {"role": "user", "content": "again"}]
    with deployment.sdk.messages.stream(model=SONNET, max_tokens=8000, messages=history,
                                        thinking={"type": "enabled", "budget_tokens": 2048}) as stream:
        stream.get_final_message()
    replayed = deployment.fake.messages_requests[-1]["messages"][1]
    assert replayed["role"] == "assistant"
    assert replayed["content"][0] == {"type": "thinking", "thinking": "Thinking natively about it.",
                                      "signature": signature.value}
    no_rejections(deployment.fake)


def test_switching_a_claude_model_from_chat_completions_to_the_anthropic_endpoint_keeps_the_conversation_valid(
    deployment: Deployment,
) -> None:
    ask = [{"role": "user", "content": "think about it"}]
    with deployment.sdk.messages.stream(model=OPUS, max_tokens=8000, messages=ask,
                                        thinking={"type": "enabled", "budget_tokens": 2048}) as stream:
        first = stream.get_final_message()  # chat completions: the signature holds reasoning_details JSON
    assert first.content[0].type == "thinking"
    history = [*ask, dumped(first), {"role": "user", "content": "and then?"}]
    with deployment.sdk.messages.stream(model="native-opus", max_tokens=8000, messages=history,
                                        thinking={"type": "enabled", "budget_tokens": 2048}) as stream:
        stream.get_final_message()  # the same upstream model, now through /messages
    no_rejections(deployment.fake)


# ----------------------------------------------------------------------------------- failures


def test_mid_stream_error_reaches_the_client_after_partial_text(deployment: Deployment) -> None:
    deployment.fake.mid_stream_error = True
    received: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught, \
            deployment.sdk.messages.stream(model=HAIKU, max_tokens=1000,
                                           messages=[{"role": "user", "content": "hello"}]) as stream:
        received.extend(stream.text_stream)
    assert "".join(received) == "Partial answer before"
    error = caught.value
    assert error.status_code == 200  # the stream had started: an `error` event, not an HTTP error
    assert isinstance(error.body, dict) and error.body["type"] == "error"
    assert "Provider returned error" in error.body["error"]["message"]


def test_out_of_credits_is_a_rate_limit_of_the_account(deployment: Deployment) -> None:
    deployment.fake.fail(402, "Insufficient credits. Add more using https://openrouter.ai/settings/credits")
    with pytest.raises(anthropic.RateLimitError) as caught:
        deployment.sdk.messages.create(model=HAIKU, max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 429
    assert "credits exhausted" in caught.value.message.lower()


def test_rate_limit_carries_retry_after(deployment: Deployment) -> None:
    deployment.fake.fail(429, "Rate limit exceeded: free-models-per-min.", headers={"Retry-After": "17"})
    with pytest.raises(anthropic.RateLimitError) as caught:
        deployment.sdk.messages.create(model=HAIKU, max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.response.headers["retry-after"] == "17"
    assert "rate limit" in caught.value.message.lower()


def test_context_overflow_tells_claude_code_to_compact(deployment: Deployment) -> None:
    deployment.fake.fail(400, "This endpoint's maximum context length is 131072 tokens. However, you requested about "
                              "250000 tokens (249000 of text input, 1000 in the output). Please reduce the length of "
                              "either one, or use the \"middle-out\" transform to compress your prompt automatically.")
    with pytest.raises(anthropic.BadRequestError) as caught:
        deployment.sdk.messages.create(model=HAIKU, max_tokens=100, messages=[{"role": "user", "content": "hi"}])
    assert "prompt is too long" in caught.value.message


def test_a_refused_key_is_an_authentication_error(deployment: Deployment) -> None:
    deployment.fake.api_key = "sk-or-v1-a-different-key"
    with pytest.raises(anthropic.AuthenticationError):
        deployment.sdk.messages.create(model=HAIKU, max_tokens=100, messages=[{"role": "user", "content": "hi"}])
