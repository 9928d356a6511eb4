"""The OpenAI endpoints in-process (ASGI) over the scripted provider: pings, failures and fallbacks.

The same harness as the Anthropic endpoint's tests, so a behaviour of the shared path (pings
while the upstream is silent, a rate limit before the first byte, a fallback) is checked here in
the OpenAI dialect's words, with the official SDK reading the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from router.errors import ContextTooLong, RateLimited
from router.events import MessageStart
from tests.conftest import Harness, _sdk_client
from tests.support.scripted import Sleep, text_reply


def sdk(harness: Harness) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url="http://router/v1", api_key="unused", max_retries=0,
                              http_client=_sdk_client(harness.app))


def chat(model: str = "claude-opus-4-8", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


@pytest.mark.parametrize("path, body", [
    ("/v1/chat/completions", chat(stream=True)),
    ("/v1/responses", {"model": "claude-opus-4-8", "input": "hi", "stream": True}),
])
async def test_a_silent_upstream_gets_comment_pings_the_sdk_skips(harness: Harness, path: str,
                                                                  body: dict[str, Any]) -> None:
    harness.scripted.queue([MessageStart("m"), Sleep(0.5), *text_reply("late")[1:]])
    raw = (await harness.http.post(path, json=body)).text
    assert ": ping\n\n" in raw and "event: ping" not in raw
    harness.scripted.queue([MessageStart("m"), Sleep(0.5), *text_reply("late")[1:]])
    client = sdk(harness)
    if path == "/v1/responses":
        async with client.responses.stream(model="claude-opus-4-8", input="hi") as stream:
            assert (await stream.get_final_response()).output_text == "late"
    else:
        chunks = [chunk async for chunk in await client.chat.completions.create(**chat(stream=True))]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "late"


async def test_a_rate_limit_before_the_first_byte_is_429_with_retry_after(harness: Harness) -> None:
    harness.scripted.queue([RateLimited("slow down", retry_after=12.2)])
    harness.other.queue([RateLimited("also busy", retry_after=30)])  # the fallback is limited too
    with pytest.raises(openai.RateLimitError) as limited:
        await sdk(harness).chat.completions.create(**chat())
    assert limited.value.code == "rate_limit_exceeded"
    assert int(limited.value.response.headers["retry-after"]) >= 13


async def test_a_context_overflow_is_context_length_exceeded(harness: Harness) -> None:
    harness.scripted.queue([ContextTooLong("prompt is too long: 300000 tokens > 200000 maximum")])
    with pytest.raises(openai.BadRequestError) as overflow:
        await sdk(harness).responses.create(model="claude-sonnet-4-6", input="hi")
    assert overflow.value.code == "context_length_exceeded" and "prompt is too long" in overflow.value.message


async def test_a_fallback_answers_when_the_primary_is_limited(harness: Harness) -> None:
    harness.scripted.queue([RateLimited("slow down", retry_after=5)])
    harness.other.queue(text_reply("from the fallback"))
    completion = await sdk(harness).chat.completions.create(**chat())
    assert completion.choices[0].message.content == "from the fallback"
    assert [route.provider for _, route in harness.other.calls] == ["other"]


async def test_a_glob_rule_routes_an_openai_model_name(harness: Harness) -> None:
    reply = await sdk(harness).responses.create(model="up-custom-7", input="hello there")
    assert reply.output_text == "echo: hello there" and reply.model == "up-custom-7"
    request, route = harness.scripted.calls[-1]
    assert (route.provider, route.model) == ("scripted", "up-custom-7") and request.model == "up-custom-7"


async def test_the_bearer_scheme_is_case_insensitive_and_a_wrong_token_is_refused(
    make_harness: Callable[..., Harness]
) -> None:
    harness = make_harness(auth_token="router-secret")
    body = chat()
    for header in ("Bearer router-secret", "bearer router-secret", "BEARER  router-secret"):
        reply = await harness.http.post("/v1/chat/completions", json=body, headers={"authorization": header})
        assert reply.status_code == 200, (header, reply.text)
    refused = await harness.http.post("/v1/chat/completions", json=body, headers={"authorization": "Bearer nope"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    assert "router-secret" not in refused.text
