"""The official `openai` SDK's Responses client -> `router serve` -> each fake backend.

`client.responses.stream` rebuilds every reply from the events (and checks them against the
final response), a tool round trip feeds the first reply's output items straight back as input,
and the reasoning those items carry must reach the backend that minted it: the fake Codex
rejects reasoning it did not encrypt itself, the fake OpenRouter signatures it did not sign.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.responses import FunctionToolParam

from router.anthropic.signatures import decode_signature
from tests.openai.deployment import MARKERS, TOKEN, UPSTREAMS, Deployment, deployed
from tests.providers.codex.fake_backend import ENCRYPTED_PREFIX

BASH: FunctionToolParam = {
    "type": "function", "name": "Bash", "description": "Run a shell command", "strict": False,
    "parameters": {"type": "object", "properties": {"command": {"type": "string"},
                                                    "description": {"type": "string"}},
                   "required": ["command"]},
}
RUN = "please run the marker command"
REASONING: Any = {"effort": "high", "summary": "auto"}
ENCRYPTED: Any = ["reasoning.encrypted_content"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    with deployed(tmp_path_factory.mktemp("responses-e2e")) as running:
        yield running


def client(deployment: Deployment) -> openai.OpenAI:
    return openai.OpenAI(base_url=deployment.url + "/v1", api_key=TOKEN, max_retries=0)


def as_input(items: list[Any]) -> list[Any]:
    """Output items as a client sends them back (what the SDK's types dump, minus nulls)."""
    return [item.model_dump(exclude_none=True) for item in items]


@pytest.mark.parametrize("upstream", UPSTREAMS)
def test_a_streamed_tool_round_trip_through_each_backend(deployment: Deployment, upstream: str) -> None:
    model, sdk = UPSTREAMS[upstream], client(deployment)
    before = len(deployment.requests_of(upstream))
    with sdk.responses.stream(model=model, input=RUN, tools=[BASH], reasoning=REASONING, include=ENCRYPTED,
                              instructions="Use the tools you have.") as stream:
        kinds = [event.type for event in stream]
        first = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert first.status == "completed" and first.model == model
    calls = [item for item in first.output if item.type == "function_call"]
    assert [call.name for call in calls] == ["Bash"] and "e2e" in calls[0].arguments
    assert first.usage is not None and first.usage.output_tokens > 0

    follow_up = [{"role": "user", "content": RUN}, *as_input(first.output),
                 {"type": "function_call_output", "call_id": calls[0].call_id, "output": MARKERS[upstream] + "\n"}]
    with sdk.responses.stream(model=model, input=follow_up, tools=[BASH], reasoning=REASONING,
                              include=ENCRYPTED) as stream:
        second = stream.get_final_response()
    assert second.status == "completed"
    assert second.output_text.endswith(f"printed: {MARKERS[upstream]}")
    assert len(deployment.requests_of(upstream)) == before + 2


def test_codex_gets_back_the_reasoning_it_encrypted(deployment: Deployment) -> None:
    sdk, model = client(deployment), UPSTREAMS["codex"]
    first = sdk.responses.create(model=model, input=RUN, tools=[BASH], reasoning=REASONING, include=ENCRYPTED)
    (reasoning,) = [item for item in first.output if item.type == "reasoning"]
    assert reasoning.summary and "run the command" in reasoning.summary[0].text
    signature = decode_signature(reasoning.encrypted_content or "")
    assert (signature.provider, signature.model) == ("codex", "gpt-5.5")
    assert signature.value.startswith(ENCRYPTED_PREFIX)  # Codex's own blob, wrapped, not a stand-in
    (call,) = [item for item in first.output if item.type == "function_call"]
    sdk.responses.create(model=model, tools=[BASH], reasoning=REASONING, include=ENCRYPTED, input=[
        {"role": "user", "content": RUN}, *as_input(first.output),
        {"type": "function_call_output", "call_id": call.call_id, "output": "codex-e2e-42"}])
    sent = deployment.codex.requests[-1]["input"]
    replayed = [item for item in sent if item.get("type") == "reasoning"]
    assert [item["encrypted_content"] for item in replayed] == [signature.value]


def test_reasoning_from_one_backend_is_not_sent_to_another(deployment: Deployment) -> None:
    sdk = client(deployment)
    first = sdk.responses.create(model=UPSTREAMS["codex"], input=RUN, tools=[BASH], reasoning=REASONING,
                                 include=ENCRYPTED)
    (call,) = [item for item in first.output if item.type == "function_call"]
    second = sdk.responses.create(model=UPSTREAMS["openrouter"], tools=[BASH], reasoning=REASONING, input=[
        {"role": "user", "content": RUN}, *as_input(first.output),
        {"type": "function_call_output", "call_id": call.call_id, "output": "codex-e2e-42"}])
    assert second.output_text == "The command printed: codex-e2e-42"
    sent = str(deployment.openrouter.requests[-1])
    assert ENCRYPTED_PREFIX not in sent and deployment.openrouter.rejections == []


def test_without_summary_or_include_reasoning_stays_hidden(deployment: Deployment) -> None:
    reply = client(deployment).responses.create(model=UPSTREAMS["openrouter"], input="think about it",
                                                reasoning={"effort": "low"})
    assert [item.type for item in reply.output] == ["message"] and reply.output_text == "I thought about it."


def test_stateless_features_and_unknown_models_fail_openai_shaped(deployment: Deployment) -> None:
    sdk = client(deployment)
    with pytest.raises(openai.BadRequestError) as stateful:
        sdk.responses.create(model=UPSTREAMS["kiro"], input="hi", previous_response_id="resp_123")
    assert isinstance(stateful.value.body, dict) and stateful.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.responses.create(model="nosuch/model-x", input="hi")
    assert missing.value.code == "model_not_found"


def test_a_failure_mid_stream_raises_in_the_sdk(deployment: Deployment) -> None:
    deployment.openrouter.mid_stream_error = True
    deltas: list[str] = []
    with pytest.raises(openai.APIError), client(deployment).responses.stream(
            model=UPSTREAMS["openrouter"], input="hello") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                deltas.append(event.delta)
    assert "".join(deltas) == "Partial answer before"


def test_responses_are_in_the_ledger_with_their_session(deployment: Deployment) -> None:
    client(deployment).responses.create(model=UPSTREAMS["kiro"], input="hello", prompt_cache_key="sess-resp-1")
    (row,) = deployment.rows(lambda row: row["session"] == "sess-resp-1")
    assert row["path"] == "/v1/responses" and row["provider"] == "kiro" and row["tier"] == "sonnet"
    assert row["status"] == 200 and row["stream"] == 0
