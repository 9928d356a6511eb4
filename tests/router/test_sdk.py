"""The official `anthropic` SDK as the client: what real applications see through the router."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import pytest
from anthropic.types import ContentBlock, MessageParam, ToolParam

from router.anthropic.decode import parse_request
from router.anthropic.signatures import decode_signature, encode_signature
from router.conversation import (
    ImageBlock,
    Message,
    Request,
    Signature,
    TextBlock,
    ThinkingBlock,
    Tool,
    ToolResultBlock,
    ToolUseBlock,
    Usage,
)
from router.errors import AuthError, ContextTooLong, Overloaded, ProviderError, RateLimited
from router.events import (
    BlockStop,
    MessageStart,
    MessageStop,
    SignatureDelta,
    TextDelta,
    TextStart,
    ThinkingDelta,
    ThinkingStart,
    ToolInputDelta,
    ToolUseStart,
)
from router.tokens import estimate_input_tokens
from tests.conftest import Harness
from tests.support.scripted import Step, text_reply, thinking_reply, tool_reply

OPUS, SONNET, HAIKU = "claude-opus-4-8", "claude-sonnet-5", "claude-haiku-4-5-20251001"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BAAQAF/gH+2W4cWQAAAABJRU5ErkJggg=="
WEATHER: ToolParam = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
MINTED = Signature("scripted", "big-model", "opaque-sig-1")

Convert = Callable[[ContentBlock], Any]
CONVERTERS: dict[str, Convert] = {
    "model_dump": lambda block: block.model_dump(),  # keeps `None` fields such as citations and caller
    "to_dict": lambda block: block.to_dict(),
}


def ask(text: str) -> list[MessageParam]:
    return [{"role": "user", "content": text}]


def mixed_reply() -> list[Step]:
    """Thinking with a signature, text, then a tool call: every block kind a reply can hold."""
    return [
        MessageStart("upstream-model", Usage(input_tokens=40)),
        ThinkingStart(), ThinkingDelta("Need "), ThinkingDelta("the weather."), SignatureDelta(MINTED), BlockStop(),
        TextStart(), TextDelta("Let me "), TextDelta("check."), BlockStop(),
        ToolUseStart("call_w1", "get_weather"), ToolInputDelta('{"city": '), ToolInputDelta('"Paris"}'), BlockStop(),
        MessageStop("tool_use", Usage(input_tokens=40, output_tokens=25, cache_read_input_tokens=8,
                                      cache_creation_input_tokens=2)),
    ]


def signed(signature: Signature) -> str:
    return encode_signature(signature)


MIXED_CONTENT = [
    {"type": "thinking", "thinking": "Need the weather.", "signature": signed(MINTED)},
    {"type": "text", "text": "Let me check."},
    {"type": "tool_use", "id": "toolu_call_w1", "name": "get_weather", "input": {"city": "Paris"}},
]


# ------------------------------------------------------------------------------------- messages.create


async def test_create_returns_a_typed_message(harness: Harness) -> None:
    harness.scripted.queue(text_reply("Hello", " there"))
    message = await harness.sdk.messages.create(model=OPUS, max_tokens=100, messages=ask("hi"))
    assert isinstance(message, anthropic.types.Message)
    assert message.id.startswith("msg_01") and message.type == "message" and message.role == "assistant"
    assert message.model == OPUS
    assert len(message.content) == 1 and isinstance(message.content[0], anthropic.types.TextBlock)
    assert message.content[0].text == "Hello there"
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    assert message.usage.input_tokens == 11 and message.usage.output_tokens == 7
    assert message.usage.cache_read_input_tokens == 3 and message.usage.cache_creation_input_tokens == 0
    request, route = harness.scripted.calls[0]
    assert (route.provider, route.model) == ("scripted", "big-model")
    assert request.messages == (Message("user", (TextBlock("hi"),)),) and request.max_tokens == 100


async def test_create_returns_every_content_type_and_usage(harness: Harness) -> None:
    harness.scripted.queue(mixed_reply())
    message = await harness.sdk.messages.create(model=OPUS, max_tokens=100, messages=ask("weather?"), tools=[WEATHER])
    thinking, text, tool = message.content
    assert isinstance(thinking, anthropic.types.ThinkingBlock)
    assert isinstance(text, anthropic.types.TextBlock)
    assert isinstance(tool, anthropic.types.ToolUseBlock)
    assert [block.to_dict() for block in message.content] == MIXED_CONTENT
    assert message.stop_reason == "tool_use"
    assert message.usage.model_dump(include={"input_tokens", "output_tokens", "cache_read_input_tokens",
                                             "cache_creation_input_tokens"}) == {
        "input_tokens": 40, "output_tokens": 25, "cache_read_input_tokens": 8, "cache_creation_input_tokens": 2}


@pytest.mark.parametrize(("stop", "sequence"), [("max_tokens", None), ("stop_sequence", "###"), ("refusal", None),
                                                 ("pause_turn", None)])
async def test_create_passes_stop_reasons_through(harness: Harness, stop: Any, sequence: str | None) -> None:
    harness.scripted.queue([MessageStart("m"), TextStart(), TextDelta("partial"), BlockStop(),
                            MessageStop(stop, stop_sequence=sequence)])
    message = await harness.sdk.messages.create(model=OPUS, max_tokens=5, messages=ask("go"), stop_sequences=["###"])
    assert (message.stop_reason, message.stop_sequence) == (stop, sequence)


async def test_create_sends_every_option_to_the_provider(harness: Harness) -> None:
    await harness.sdk.messages.create(
        model=OPUS, max_tokens=300, messages=ask("hi"), system=[{"type": "text", "text": "sys",
                                                                  "cache_control": {"type": "ephemeral"}}],
        stop_sequences=["END"], metadata={"user_id": "u-42"}, output_config={"effort": "low"},
        tools=[WEATHER], tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        thinking={"type": "enabled", "budget_tokens": 200},
        extra_body={"temperature": 0.5, "top_p": 0.9, "top_k": 20},  # sampling knobs this SDK no longer types
    )
    request, _ = harness.scripted.calls[0]
    expected = parse_request({
        "model": OPUS, "max_tokens": 300, "messages": ask("hi"),
        "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
        "temperature": 0.5, "top_p": 0.9, "top_k": 20, "stop_sequences": ["END"], "metadata": {"user_id": "u-42"},
        "tools": [WEATHER], "tool_choice": {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        "thinking": {"type": "enabled", "budget_tokens": 200}, "output_config": {"effort": "low"},
    })
    assert request == expected
    assert (request.temperature, request.top_p, request.top_k, request.effort) == (0.5, 0.9, 20, "low")
    assert request.tools == (Tool("get_weather", "Current weather for a city", WEATHER["input_schema"]),)


# ------------------------------------------------------------------------------------- messages.stream


async def test_stream_helper_yields_text_and_the_final_message(harness: Harness) -> None:
    harness.scripted.queue(text_reply("Hel", "lo", ", world"))
    async with harness.sdk.messages.stream(model=OPUS, max_tokens=100, messages=ask("hi")) as stream:
        chunks = [chunk async for chunk in stream.text_stream]
        final = await stream.get_final_message()
    assert chunks == ["Hel", "lo", ", world"]
    assert [block.to_dict() for block in final.content] == [{"type": "text", "text": "Hello, world"}]
    assert final.model == OPUS and final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens, final.usage.cache_read_input_tokens) == (11, 7, 3)


async def test_stream_helper_accumulates_thinking_text_and_tool_use(harness: Harness) -> None:
    harness.scripted.queue(mixed_reply())
    async with harness.sdk.messages.stream(model=OPUS, max_tokens=100, messages=ask("weather?"),
                                           tools=[WEATHER]) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert [block.to_dict() for block in final.content] == MIXED_CONTENT
    tool = final.content[2]
    assert isinstance(tool, anthropic.types.ToolUseBlock) and tool.input == {"city": "Paris"}
    assert final.stop_reason == "tool_use" and final.usage.output_tokens == 25
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert {"signature", "thinking", "text", "input_json"} <= set(kinds)


async def test_streamed_and_folded_replies_are_the_same_message(harness: Harness) -> None:
    harness.scripted.queue(mixed_reply(), mixed_reply())
    folded = await harness.sdk.messages.create(model=OPUS, max_tokens=100, messages=ask("w"), tools=[WEATHER])
    async with harness.sdk.messages.stream(model=OPUS, max_tokens=100, messages=ask("w"), tools=[WEATHER]) as stream:
        streamed = await stream.get_final_message()
    assert comparable(streamed) == comparable(folded)
    assert streamed.id != folded.id


def comparable(message: anthropic.types.Message) -> dict[str, Any]:
    """A message without its id, its content as the wire dicts (the stream helper adds parsed fields)."""
    return {**message.model_dump(exclude={"id", "content"}), "content": [b.to_dict() for b in message.content]}


async def test_create_with_stream_true_yields_raw_events(harness: Harness) -> None:
    harness.scripted.queue(text_reply("a", "b"))
    stream = await harness.sdk.messages.create(model=OPUS, max_tokens=10, messages=ask("x"), stream=True)
    events = [event async for event in stream]
    assert [e.type for e in events] == ["message_start", "content_block_start", "content_block_delta",
                                        "content_block_delta", "content_block_stop", "message_delta", "message_stop"]
    request, _ = harness.scripted.calls[0]
    assert request.stream is True


# ------------------------------------------------------------------------------------- multi-turn round trips


TOOL_RESULTS: list[tuple[str, dict[str, Any], ToolResultBlock]] = [
    ("string content", {"content": "18°C and sunny"},
     ToolResultBlock("toolu_call_w1", (TextBlock("18°C and sunny"),))),
    ("text and image, is_error",
     {"content": [{"type": "text", "text": "radar unavailable, last image:"},
                  {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}],
      "is_error": True},
     ToolResultBlock("toolu_call_w1", (TextBlock("radar unavailable, last image:"),
                                       ImageBlock(media_type="image/png", data=PNG)), is_error=True)),
]


@pytest.mark.parametrize("convert", CONVERTERS.values(), ids=CONVERTERS.keys())
@pytest.mark.parametrize(("result_fields", "expected"), [(f, e) for _, f, e in TOOL_RESULTS],
                         ids=[i for i, _, _ in TOOL_RESULTS])
async def test_tool_use_round_trip(
    harness: Harness, convert: Convert, result_fields: dict[str, Any], expected: ToolResultBlock
) -> None:
    harness.scripted.queue(tool_reply(("call_w1", "get_weather", '{"city": "Paris"}'), text="Checking."))
    async with harness.sdk.messages.stream(model=OPUS, max_tokens=100, messages=ask("weather in Paris?"),
                                           tools=[WEATHER]) as stream:
        first = await stream.get_final_message()
    assert first.stop_reason == "tool_use"
    call = first.content[1]
    assert isinstance(call, anthropic.types.ToolUseBlock) and call.id == "toolu_call_w1"

    harness.scripted.queue(text_reply("It is 18°C."))
    tool_result: Any = {"type": "tool_result", "tool_use_id": call.id, **result_fields}
    history: list[MessageParam] = [
        *ask("weather in Paris?"),
        {"role": "assistant", "content": [convert(block) for block in first.content]},
        {"role": "user", "content": [tool_result]},
    ]
    second = await harness.sdk.messages.create(model=OPUS, max_tokens=100, messages=history, tools=[WEATHER])
    assert second.content[0].to_dict() == {"type": "text", "text": "It is 18°C."}

    request, route = harness.scripted.calls[1]
    assert route.model == "big-model"
    assert request.messages[1] == Message(
        "assistant", (TextBlock("Checking."), ToolUseBlock("toolu_call_w1", "get_weather", {"city": "Paris"})))
    assert request.messages[2] == Message("user", (expected,))


@pytest.mark.parametrize("convert", CONVERTERS.values(), ids=CONVERTERS.keys())
@pytest.mark.parametrize(("model", "provider", "upstream"), [(SONNET, "scripted", "mid-model"),
                                                              (HAIKU, "other", "small-model")])
async def test_thinking_signature_round_trip(
    harness: Harness, convert: Convert, model: str, provider: str, upstream: str
) -> None:
    harness.scripted.queue(thinking_reply("Deep thought.", "42", MINTED))
    async with harness.sdk.messages.stream(model=OPUS, max_tokens=100, messages=ask("meaning?")) as stream:
        first = await stream.get_final_message()
    thinking = first.content[0]
    assert isinstance(thinking, anthropic.types.ThinkingBlock)
    assert thinking.thinking == "Deep thought." and thinking.signature == signed(MINTED)

    history: list[MessageParam] = [*ask("meaning?"), {"role": "assistant", "content": [convert(b) for b in first.content]},
               *ask("and why?")]
    await harness.sdk.messages.create(model=OPUS, max_tokens=100, messages=history)
    await harness.sdk.messages.create(model=model, max_tokens=100, messages=history)

    same_request, same_route = harness.scripted.calls[1]
    assert (same_route.provider, same_route.model) == ("scripted", "big-model")
    assert same_request.messages[1].content == (ThinkingBlock("Deep thought.", MINTED), TextBlock("42"))

    backend = harness.scripted if provider == "scripted" else harness.other
    other_request, other_route = backend.calls[-1]
    assert (other_route.provider, other_route.model) == (provider, upstream)
    assert other_request.messages[1].content == (ThinkingBlock("Deep thought.", None), TextBlock("42"))


async def test_redacted_thinking_round_trip(harness: Harness) -> None:
    harness.scripted.queue([MessageStart("m"), ThinkingStart(redacted=True), SignatureDelta(MINTED), BlockStop(),
                            *text_reply("done")[1:]])
    async with harness.sdk.messages.stream(model=OPUS, max_tokens=100, messages=ask("secret?")) as stream:
        first = await stream.get_final_message()
    assert [b.to_dict() for b in first.content] == [{"type": "redacted_thinking", "data": signed(MINTED)},
                                                    {"type": "text", "text": "done"}]
    history: list[MessageParam] = [*ask("secret?"), {"role": "assistant", "content": first.content}, *ask("more")]
    await harness.sdk.messages.create(model=OPUS, max_tokens=100, messages=history)
    await harness.sdk.messages.create(model=SONNET, max_tokens=100, messages=history)
    same, other_model = harness.scripted.calls[1][0], harness.scripted.calls[2][0]
    assert same.messages[1].content == (ThinkingBlock("", MINTED, redacted=True), TextBlock("done"))
    assert other_model.messages[1].content == (TextBlock("done"),)  # nothing but a signature: dropped whole


def unsigned_thinking_reply(thought: str, answer: str) -> list[Step]:
    """Thinking the backend did not sign (Kiro's `<thinking>` tags, say), then the answer."""
    return [step for step in thinking_reply(thought, answer, MINTED) if not isinstance(step, SignatureDelta)]


@pytest.mark.parametrize("streamed", [True, False], ids=["stream helper", "create"])
async def test_unsigned_thinking_reaches_the_client_signed_by_the_router(harness: Harness, streamed: bool) -> None:
    harness.scripted.queue(unsigned_thinking_reply("Unsigned thought.", "42"))
    if streamed:
        async with harness.sdk.messages.stream(model=OPUS, max_tokens=100, messages=ask("meaning?")) as stream:
            kinds = [event.type async for event in stream]
            message = await stream.get_final_message()
        assert "signature" in kinds  # a signature_delta, as Anthropic sends before every thinking block closes
    else:
        message = await harness.sdk.messages.create(model=OPUS, max_tokens=100, messages=ask("meaning?"))
    thinking = message.content[0]
    assert isinstance(thinking, anthropic.types.ThinkingBlock) and thinking.thinking == "Unsigned thought."
    assert thinking.signature
    signature = decode_signature(thinking.signature)
    assert signature.router and (signature.provider, signature.model) == ("scripted", "big-model")


@pytest.mark.parametrize("convert", CONVERTERS.values(), ids=CONVERTERS.keys())
async def test_a_router_signature_goes_back_to_no_provider_not_even_its_own(harness: Harness, convert: Convert) -> None:
    harness.scripted.queue(unsigned_thinking_reply("Unsigned thought.", "42"))
    async with harness.sdk.messages.stream(model=OPUS, max_tokens=100, messages=ask("meaning?")) as stream:
        first = await stream.get_final_message()
    history: list[MessageParam] = [*ask("meaning?"), {"role": "assistant", "content": [convert(b) for b in first.content]},
                                   *ask("and why?")]
    for model in (OPUS, SONNET, HAIKU):  # the route that produced it, another model of it, another provider
        await harness.sdk.messages.create(model=model, max_tokens=100, messages=history)
    replays = [harness.scripted.calls[1], harness.scripted.calls[2], harness.other.calls[-1]]
    assert [(route.provider, route.model) for _, route in replays] == [
        ("scripted", "big-model"), ("scripted", "mid-model"), ("other", "small-model")]
    for request, _ in replays:
        assert request.messages[1].content == (ThinkingBlock("Unsigned thought.", None), TextBlock("42"))


async def test_parallel_tool_calls_are_separate_blocks_in_order(harness: Harness) -> None:
    calls = (("call_a", "Read", '{"path": "a.py"}'), ("call_b", "Read", '{"path": "b.py"}'))
    harness.scripted.queue(tool_reply(*calls), tool_reply(*calls))
    folded = await harness.sdk.messages.create(model=OPUS, max_tokens=100, messages=ask("read both"))
    async with harness.sdk.messages.stream(model=OPUS, max_tokens=100, messages=ask("read both")) as stream:
        streamed = await stream.get_final_message()
    for message in (folded, streamed):
        assert message.stop_reason == "tool_use"
        assert [b.to_dict() for b in message.content] == [
            {"type": "tool_use", "id": "toolu_call_a", "name": "Read", "input": {"path": "a.py"}},
            {"type": "tool_use", "id": "toolu_call_b", "name": "Read", "input": {"path": "b.py"}},
        ]


async def test_parallel_tool_call_ids_stay_distinct_when_sanitised(harness: Harness) -> None:
    harness.scripted.queue(tool_reply(("fc.1", "Read", '{"path": "a.py"}'), ("fc:1", "Read", '{"path": "b.py"}')))
    message = await harness.sdk.messages.create(model=OPUS, max_tokens=100, messages=ask("read both"))
    ids = [block.id for block in message.content if isinstance(block, anthropic.types.ToolUseBlock)]
    assert len(ids) == 2 and len(set(ids)) == 2, ids


# ------------------------------------------------------------------------------------- errors


ERRORS: list[tuple[str, str, list[list[Step]], type[anthropic.APIStatusError], int, str, str]] = [
    ("rate limited", SONNET, [[RateLimited("usage limit reached", retry_after=12.5)]],
     anthropic.RateLimitError, 429, "rate_limit_error", "usage limit reached"),
    ("overloaded after retries", SONNET, [[Overloaded("busy")], [Overloaded("still busy")]],
     anthropic.OverloadedError, 529, "overloaded_error", "still busy"),
    ("context too long", SONNET, [[ContextTooLong("272000 tokens > 200000 maximum")]],
     anthropic.BadRequestError, 400, "invalid_request_error", "prompt is too long: 272000 tokens > 200000 maximum"),
    ("auth", SONNET, [[AuthError("token expired; log in again")]],
     anthropic.AuthenticationError, 401, "authentication_error", "token expired; log in again"),
    ("unknown model", "gpt-4o", [], anthropic.NotFoundError, 404, "not_found_error", ""),
]


@pytest.mark.parametrize("streaming", [False, True], ids=["create", "stream"])
@pytest.mark.parametrize(
    ("model", "scripts", "error_class", "status", "error_type", "message"),
    [case[1:] for case in ERRORS], ids=[case[0] for case in ERRORS],
)
async def test_failures_before_the_first_byte_raise_the_sdk_error_class(
    harness: Harness, streaming: bool, model: str, scripts: list[list[Step]],
    error_class: type[anthropic.APIStatusError], status: int, error_type: str, message: str,
) -> None:
    harness.scripted.queue(*scripts)
    with pytest.raises(anthropic.APIStatusError) as caught:
        if streaming:
            async with harness.sdk.messages.stream(model=model, max_tokens=10, messages=ask("x")) as stream:
                await stream.get_final_message()
        else:
            await harness.sdk.messages.create(model=model, max_tokens=10, messages=ask("x"))
    error = caught.value
    assert type(error) is error_class and error.status_code == status
    assert isinstance(error.body, dict) and error.body["type"] == "error"
    assert error.body["error"]["type"] == error_type and error.type == error_type
    if message:
        assert error.body["error"]["message"] == message
    assert len(harness.scripted.calls) == len(scripts)  # retried only what is retryable; no fallback for sonnet
    assert harness.other.calls == []


async def test_rate_limit_error_carries_retry_after(harness: Harness) -> None:
    harness.scripted.queue([RateLimited("slow down", retry_after=12.5)])
    with pytest.raises(anthropic.RateLimitError) as caught:
        await harness.sdk.messages.create(model=SONNET, max_tokens=10, messages=ask("x"))
    assert caught.value.response.headers["retry-after"] == "13"


async def test_overloaded_is_an_internal_server_error_with_status_529(harness: Harness) -> None:
    harness.scripted.queue([Overloaded("busy")], [Overloaded("busy")])
    with pytest.raises(anthropic.InternalServerError) as caught:
        await harness.sdk.messages.create(model=SONNET, max_tokens=10, messages=ask("x"))
    assert caught.value.status_code == 529
    assert caught.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}


async def test_context_too_long_message_says_prompt_is_too_long(harness: Harness) -> None:
    harness.scripted.queue([ContextTooLong("input exceeds the context window")])
    with pytest.raises(anthropic.BadRequestError) as caught:
        await harness.sdk.messages.create(model=OPUS, max_tokens=10, messages=ask("x"))
    assert "prompt is too long" in caught.value.message
    assert harness.other.calls == []  # not worth a fallback


async def test_unknown_model_is_not_found_naming_the_model(harness: Harness) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        await harness.sdk.messages.create(model="gpt-4o", max_tokens=10, messages=ask("x"))
    assert "gpt-4o" in caught.value.message
    assert harness.scripted.calls == [] and harness.other.calls == []


FAILURES_MID_STREAM: list[tuple[str, BaseException, str]] = [
    ("overloaded", Overloaded("upstream went away"), "overloaded_error"),
    ("rate limited", RateLimited("limit hit mid-reply"), "rate_limit_error"),
    ("provider error", ProviderError("backend said 500"), "api_error"),
]


@pytest.mark.parametrize(("failure", "error_type"), [(f, t) for _, f, t in FAILURES_MID_STREAM],
                         ids=[i for i, _, _ in FAILURES_MID_STREAM])
async def test_failure_after_the_first_byte_raises_a_bare_api_status_error_while_iterating(
    harness: Harness, failure: BaseException, error_type: str
) -> None:
    harness.scripted.queue([MessageStart("m"), TextStart(), TextDelta("partial"), failure])
    received: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with harness.sdk.messages.stream(model=SONNET, max_tokens=10, messages=ask("x")) as stream:
            async for text in stream.text_stream:
                received.append(text)
    error = caught.value
    # the HTTP status was already 200, so the SDK cannot pick a status subclass: it raises the base class
    assert type(error) is anthropic.APIStatusError
    assert error.status_code == 200
    assert error.type == error_type
    assert error.body == {"type": "error", "error": {"type": error_type, "message": str(failure)}}
    assert received == ["partial"]
    assert harness.scripted.closed_streams == 1


# ------------------------------------------------------------------------------------- count_tokens and models


async def test_count_tokens_uses_the_providers_count(harness: Harness) -> None:
    harness.scripted.count = 1234
    harness.other.count = 77
    opus = await harness.sdk.messages.count_tokens(model=OPUS, messages=ask("hi"))
    haiku = await harness.sdk.messages.count_tokens(model=HAIKU, messages=ask("hi"))
    assert (opus.input_tokens, haiku.input_tokens) == (1234, 77)
    assert harness.scripted.calls == [] and harness.other.calls == []  # counting never starts a reply


async def test_count_tokens_falls_back_to_the_local_estimate(harness: Harness) -> None:
    short = await harness.sdk.messages.count_tokens(model=OPUS, messages=ask("hi"))
    long = await harness.sdk.messages.count_tokens(model=OPUS, messages=ask("word " * 800))
    with_tools = await harness.sdk.messages.count_tokens(model=OPUS, messages=ask("word " * 800), tools=[WEATHER],
                                                         system="You are terse.")
    assert 0 < short.input_tokens < long.input_tokens < with_tools.input_tokens
    expected = estimate_input_tokens(Request(model=OPUS, messages=(Message("user", (TextBlock("word " * 800),)),),
                                             max_tokens=0))
    assert long.input_tokens == expected


async def test_models_list_has_tier_aliases_then_targets(harness: Harness) -> None:
    models = [model async for model in harness.sdk.models.list()]
    assert [m.id for m in models] == [
        "opus", "sonnet", "haiku",  # tiers the config routes
        "scripted/big-model", "other/backup-model", "scripted/mid-model", "other/small-model",
        "scripted/default-model",  # concrete targets; `scripted/{model}` is a template, not listed
        "other/big-model",  # what providers list that config does not mention
    ]
    assert all(m.type == "model" for m in models)
    assert {m.id: m.display_name for m in models}["other/big-model"] == "Big Model"


@pytest.mark.parametrize(("model_id", "display_name"), [("opus", "opus → scripted/big-model:high"),
                                                        ("haiku", "haiku → other/small-model"),
                                                        ("scripted/big-model", "scripted/big-model"),
                                                        ("other/big-model", "Big Model")])
async def test_models_retrieve(harness: Harness, model_id: str, display_name: str) -> None:
    model = await harness.sdk.models.retrieve(model_id)
    assert (model.id, model.display_name, model.type) == (model_id, display_name, "model")


async def test_models_retrieve_unknown_is_not_found(harness: Harness) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        await harness.sdk.models.retrieve("claude-unknown-9")
    assert "claude-unknown-9" in caught.value.message
