"""The official `openai` SDK -> `router serve` -> each fake backend, over `/v1/chat/completions`.

The same rules, pools and ledger as Anthropic clients get: a Claude tier or a `provider/model`
name picks the backend, a tool round trip crosses the router twice, and every request leaves
its row in the usage ledger under the OpenAI path.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from tests.openai.deployment import MARKERS, TOKEN, UPSTREAMS, Deployment, deployed

BASH: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "Bash",
        "description": "Run a shell command",
        "parameters": {"type": "object", "properties": {"command": {"type": "string"},
                                                        "description": {"type": "string"}},
                       "required": ["command"]},
    },
}
RUN: list[ChatCompletionMessageParam] = [{"role": "user", "content": "please run the marker command"}]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployed(tmp_path_factory.mktemp("chat-e2e")) as running:
        yield running


def client(deployment: Deployment, key: str = TOKEN) -> openai.OpenAI:
    return openai.OpenAI(base_url=deployment.url + "/v1", api_key=key, max_retries=0)


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_streamed_tool_round_trip_through_each_backend(deployment: Deployment, upstream: str) -> None:
    model, sdk = UPSTREAMS[upstream], client(deployment)
    before = len(deployment.requests_of(upstream))
    with sdk.chat.completions.stream(model=model, messages=RUN, tools=[BASH],
                                     stream_options={"include_usage": True}) as stream:
        chunks = [event.chunk for event in stream if event.type == "chunk"]
        first = stream.get_final_completion()
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls" and first.model == model
    calls = choice.message.tool_calls or []
    assert [call.function.name for call in calls] == ["Bash"]  # type: ignore[union-attr]
    arguments = calls[0].function.parsed_arguments  # type: ignore[union-attr]
    assert arguments is None or "command" in arguments
    assert "e2e" in calls[0].function.arguments  # type: ignore[union-attr]
    assert chunks[-1].usage is not None and chunks[-1].choices == []  # usage rides the last chunk only
    assert all(chunk.usage is None for chunk in chunks[:-1])
    assert first.usage is not None and first.usage.total_tokens > 0

    answered: list[ChatCompletionMessageParam] = [
        *RUN,
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": calls[0].id, "type": "function",
             "function": {"name": "Bash", "arguments": calls[0].function.arguments}}]},  # type: ignore[union-attr]
        {"role": "tool", "tool_call_id": calls[0].id, "content": MARKERS[upstream] + "\n"},
    ]
    with sdk.chat.completions.stream(model=model, messages=answered, tools=[BASH]) as stream:
        second = stream.get_final_completion()
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.content is not None
    assert second.choices[0].message.content.endswith(f"printed: {MARKERS[upstream]}")
    assert len(deployment.requests_of(upstream)) == before + 2  # both turns reached this backend, no other


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_plain_completion_from_each_backend(deployment: Deployment, upstream: str) -> None:
    completion = client(deployment).chat.completions.create(
        model=UPSTREAMS[upstream], messages=[{"role": "system", "content": "Be terse."},
                                             {"role": "user", "content": "hello"}])
    assert completion.object == "chat.completion" and completion.model == UPSTREAMS[upstream]
    assert completion.choices[0].finish_reason == "stop"
    assert completion.choices[0].message.content and "hello from the fake" in completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.prompt_tokens > 0


def test_parallel_tool_calls_come_back_as_two_indexed_calls(deployment: Deployment) -> None:
    model = UPSTREAMS["openrouter"]
    with client(deployment).chat.completions.stream(
        model=model, tools=[BASH], messages=[{"role": "user", "content": "run two commands in parallel"}]
    ) as stream:
        completion = stream.get_final_completion()
    calls = completion.choices[0].message.tool_calls or []
    assert [call.function.name for call in calls] == ["Bash", "Bash"]  # type: ignore[union-attr]
    assert len({call.id for call in calls}) == 2
    commands = [call.function.parsed_arguments for call in calls]  # type: ignore[union-attr]
    assert [c["command"] if c else None for c in commands] in (
        [None, None], ["echo first-$((1+1))", "echo second-$((2+2))"])
    assert "first-" in calls[0].function.arguments and "second-" in calls[1].function.arguments  # type: ignore[union-attr]
    sent = deployment.openrouter.requests[-1]
    assert sent["tools"][0]["function"]["name"] == "Bash"


def test_reasoning_effort_streams_reasoning_before_the_answer(deployment: Deployment) -> None:
    stream = client(deployment).chat.completions.create(
        model=UPSTREAMS["openrouter"], reasoning_effort="high", stream=True,
        messages=[{"role": "user", "content": "think about it"}])
    reasoning, content = [], []
    for chunk in stream:
        for choice in chunk.choices:
            extra: dict[str, Any] = choice.delta.model_extra or {}
            if extra.get("reasoning_content"):
                assert not content, "reasoning arrived after the answer had begun"
                reasoning.append(extra["reasoning_content"])
            if choice.delta.content:
                content.append(choice.delta.content)
    assert "".join(reasoning) == "Let me think about this carefully."
    assert "".join(content) == "I thought about it."
    assert deployment.openrouter.requests[-1]["reasoning"]["effort"] == "high"


def test_errors_are_openai_shaped_with_the_right_status(deployment: Deployment) -> None:
    sdk = client(deployment)
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.chat.completions.create(model="nosuch/model-x", messages=[{"role": "user", "content": "hi"}])
    assert missing.value.status_code == 404 and missing.value.code == "model_not_found"
    with pytest.raises(openai.AuthenticationError) as denied:
        client(deployment, key="wrong").chat.completions.create(
            model=UPSTREAMS["kiro"], messages=[{"role": "user", "content": "hi"}])
    assert denied.value.code == "invalid_api_key" and TOKEN not in str(denied.value.body)
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.chat.completions.create(model=UPSTREAMS["kiro"], messages=[{"role": "wizard", "content": "hi"}])  # type: ignore[misc,list-item]
    body = bad.value.body
    assert isinstance(body, dict) and body["param"] == "messages[0].role" and body["type"] == "invalid_request_error"


def test_a_body_over_the_limit_is_413_in_openai_shape(deployment: Deployment) -> None:
    reply = httpx.post(deployment.url + "/v1/chat/completions", headers={"authorization": f"Bearer {TOKEN}"},
                       content=b"{" + b" " * (40 * 1024 * 1024) + b"}", timeout=30)
    assert reply.status_code == 413
    assert reply.json()["error"]["code"] == "request_too_large" and "type" not in reply.json()


def test_every_openai_request_is_in_the_ledger(deployment: Deployment) -> None:
    client(deployment).chat.completions.create(model=UPSTREAMS["codex"], messages=[{"role": "user", "content": "hi"}],
                                               extra_headers={"session_id": "sess-ledger-1"})
    rows = deployment.rows(lambda row: row["session"] == "sess-ledger-1")
    assert len(rows) == 1
    row = rows[0]
    assert row["path"] == "/v1/chat/completions" and row["provider"] == "codex" and row["status"] == 200
    assert row["tier"] == "opus" and row["upstream_model"] == "gpt-5.5" and row["output_tokens"] > 0
    failed = [row for row in deployment.ledger() if row["path"] == "/v1/chat/completions" and row["status"] == 404]
    assert failed and all(row["error_type"] == "not_found_error" for row in failed)  # the unknown model above


def test_a_failure_mid_stream_ends_with_an_error_chunk_the_sdk_raises(deployment: Deployment) -> None:
    deployment.openrouter.mid_stream_error = True
    stream = client(deployment).chat.completions.create(
        model=UPSTREAMS["openrouter"], stream=True, messages=[{"role": "user", "content": "hello"}])
    text: list[str] = []
    with pytest.raises(openai.APIError) as failed:
        for chunk in stream:
            text.extend(choice.delta.content or "" for choice in chunk.choices)
    assert "".join(text) == "Partial answer before"  # what arrived before the failure was delivered first
    assert isinstance(failed.value.body, dict) and failed.value.body["type"] == "server_error"
    assert "upstream" in failed.value.message.lower() or "provider" in failed.value.message.lower()


def test_the_model_list_reads_as_openai_and_as_anthropic(deployment: Deployment) -> None:
    listed = {model.id: model for model in client(deployment).models.list()}
    assert {"opus", "sonnet", "haiku", "codex/gpt-5.5", "kiro/claude-sonnet-4.5"} <= set(listed)
    assert listed["codex/gpt-5.5"].owned_by == "codex" and listed["opus"].owned_by == "switchyard"
    assert all(model.object == "model" and model.created > 0 for model in listed.values())
    one = client(deployment).models.retrieve("openrouter/anthropic/claude-haiku-4.5")
    assert one.id == "openrouter/anthropic/claude-haiku-4.5" and one.owned_by == "openrouter"
    same = anthropic.Anthropic(base_url=deployment.url, api_key=TOKEN, max_retries=0).models.list()
    assert [model.id for model in same.data] == list(listed)  # one path, one order, both SDKs
    assert same.data[0].display_name and same.data[0].type == "model"


PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


@pytest.mark.parametrize("upstream", ["kiro", "openrouter"])
def test_an_image_reaches_the_backend_as_its_own_image(deployment: Deployment, upstream: str) -> None:
    client(deployment).chat.completions.create(model=UPSTREAMS[upstream], messages=[{"role": "user", "content": [
        {"type": "text", "text": "what is in this picture?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}}]}])
    sent = deployment.requests_of(upstream)[-1]
    if upstream == "kiro":
        (image,) = sent["conversationState"]["currentMessage"]["userInputMessage"]["images"]
        assert image == {"format": "png", "source": {"bytes": PIXEL}}
    else:
        parts = sent["messages"][-1]["content"]
        assert {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}} in parts


def test_a_forced_tool_choice_reaches_the_backend(deployment: Deployment) -> None:
    completion = client(deployment).chat.completions.create(
        model=UPSTREAMS["openrouter"], messages=RUN, tools=[BASH], parallel_tool_calls=False,
        tool_choice={"type": "function", "function": {"name": "Bash"}})
    assert completion.choices[0].finish_reason == "tool_calls"
    sent = deployment.openrouter.requests[-1]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "Bash"}}
    assert sent["parallel_tool_calls"] is False
