"""Canonical events and replies -> Responses API SSE events and Response objects (router/openai/responses_encode.py).

Every event is validated with the openai SDK's own types (`ResponseStreamEvent`, `Response`), and
every stream is also read by the SDK's client itself (`client.responses.stream`, over an in-process
mock transport, no socket): its `ResponseStreamState` rebuilds the final response from the events
and refuses a stream whose items, ids or order do not add up, so these tests check the grammar the
SDK's helpers expect, not merely the shapes these tests expect.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from router import errors
from router.anthropic.signatures import decode_signature
from router.conversation import Reply, Signature, TextBlock, ThinkingBlock, ToolUseBlock, Usage
from router.errors import UpstreamUnavailable
from router.events import (
    BlockStop,
    Event,
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
from router.openai.responses_decode import CUSTOM_INPUT, decode_responses, parse_responses
from router.openai.responses_encode import (
    ReplyShape,
    ResponsesStreamEncoder,
    response_json,
    response_json_for,
    usage_json,
)
from router.openai.sealed import open_reasoning

openai = pytest.importorskip("openai")
httpx2 = pytest.importorskip("httpx2")
pydantic = pytest.importorskip("pydantic")
from openai.types.responses import Response, ResponseStreamEvent  # noqa: E402

EVENTS = pydantic.TypeAdapter(ResponseStreamEvent)
USAGE = Usage(input_tokens=10, output_tokens=5, cache_read_input_tokens=30, cache_creation_input_tokens=2)
SIGNATURE = Signature("codex", "gpt-5.5", "gAAAAABsecret==")


def encoder(**options: Any) -> ResponsesStreamEncoder:
    return ResponsesStreamEncoder("gpt-x", ReplyShape(**options), response_id="resp_test", created_at=1700000000)


def encode(events: Sequence[Event], enc: ResponsesStreamEncoder | None = None) -> bytes:
    """The SSE bytes for `events`, fed in batches of two."""
    enc = enc or encoder()
    return b"".join(enc.encode_batch(events[i : i + 2]) for i in range(0, len(events), 2))


def frames(body: bytes) -> list[dict[str, Any]]:
    """The events of an SSE body, each checked: `event:` names its type, the SDK's types accept it,
    and sequence numbers count up from 0."""
    assert body.endswith(b"\n\n")
    out = []
    for frame in body[:-2].split(b"\n\n"):
        name, data = frame.split(b"\n")
        assert name.startswith(b"event: ") and data.startswith(b"data: ")
        event = orjson.loads(data[6:])
        assert event["type"] == name[7:].decode()
        assert event["sequence_number"] == len(out)
        EVENTS.validate_python(event)
        out.append(event)
    return out


def types(body: bytes) -> list[str]:
    return [event["type"] for event in frames(body)]


def sdk_stream(body: bytes, **create: Any) -> tuple[list[Any], Any]:
    """What the openai SDK's stream helper makes of `body`: its events and final response."""

    def handler(request: Any) -> Any:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = openai.OpenAI(api_key="test", base_url="http://127.0.0.1:9/v1", max_retries=0,
                           http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    with client.responses.stream(model="gpt-x", input="hi", **create) as stream:
        events = list(stream)
        return events, stream.get_final_response()


def text_events(*texts: str) -> list[Event]:
    return [TextStart(), *(TextDelta(text) for text in texts), BlockStop()]


def call_events(call_id: str, name: str, *fragments: str) -> list[Event]:
    return [ToolUseStart(call_id, name), *(ToolInputDelta(f) for f in fragments), BlockStop()]


def reply_events(*blocks: list[Event], stop: Any = "end_turn") -> list[Event]:
    return [MessageStart("m"), *(event for block in blocks for event in block), MessageStop(stop, USAGE)]


# -- text ------------------------------------------------------------------------------------


def test_a_text_reply_streams_the_message_grammar() -> None:
    body = encode(reply_events(text_events("Hel", "lo")))
    assert types(body) == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed",
    ]
    events = frames(body)
    assert events[0]["response"]["status"] == "in_progress" and events[0]["response"]["output"] == []
    assert [e["delta"] for e in events if e["type"] == "response.output_text.delta"] == ["Hel", "lo"]
    assert events[6]["text"] == "Hello"
    item_id = events[2]["item"]["id"]
    assert item_id.startswith("msg_") and all(e["item_id"] == item_id for e in events[3:8])
    assert events[8]["item"] == {"id": item_id, "type": "message", "role": "assistant", "status": "completed",
                                 "content": [{"type": "output_text", "text": "Hello", "annotations": [], "logprobs": []}]}
    final = events[-1]["response"]
    assert (final["id"], final["status"], final["model"], final["created_at"]) == ("resp_test", "completed", "gpt-x", 1700000000)
    Response.model_validate(final)


def test_the_sdk_rebuilds_the_text_and_usage() -> None:
    events, final = sdk_stream(encode(reply_events(text_events("Hel", "lo"))))
    assert final.output_text == "Hello" and final.status == "completed"
    assert [e.snapshot for e in events if e.type == "response.output_text.delta"] == ["Hel", "Hello"]
    assert final.usage.input_tokens == 42 and final.usage.input_tokens_details.cached_tokens == 30
    assert final.usage.output_tokens == 5 and final.usage.total_tokens == 47


def test_usage_counts_cached_and_written_input_as_input() -> None:
    usage = usage_json(USAGE)
    assert usage["input_tokens"] == 10 + 30 + 2
    assert usage["input_tokens_details"] == {"cached_tokens": 30, "cache_write_tokens": 2}
    assert usage["total_tokens"] == 42 + 5


def test_sequence_numbers_go_on_across_batches_and_items() -> None:
    enc = encoder()
    body = b"".join(enc.encode(event) for event in reply_events(text_events("a"), call_events("c", "f", "{}"), text_events("b")))
    numbers = [event["sequence_number"] for event in frames(body)]  # frames() checks they count up from 0
    assert numbers == list(range(len(numbers))) and len(numbers) > 15


# -- tool calls -----------------------------------------------------------------------------


def test_two_parallel_function_calls_stream_as_two_items() -> None:
    body = encode(reply_events(call_events("call_1", "weather", '{"city":', '"Paris"}'),
                               call_events("call_2", "weather", '{"city":"Rome"}'), stop="tool_use"))
    events = frames(body)
    added = [e for e in events if e["type"] == "response.output_item.added"]
    assert [(e["output_index"], e["item"]["call_id"], e["item"]["arguments"]) for e in added] == [
        (0, "call_1", ""), (1, "call_2", "")
    ]
    assert all(e["item"]["id"].startswith("fc_") and e["item"]["status"] == "in_progress" for e in added)
    deltas = [(e["output_index"], e["delta"]) for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert deltas == [(0, '{"city":'), (0, '"Paris"}'), (1, '{"city":"Rome"}')]
    done = [e["arguments"] for e in events if e["type"] == "response.function_call_arguments.done"]
    assert done == ['{"city":"Paris"}', '{"city":"Rome"}']
    _, final = sdk_stream(body)
    assert [(item.type, item.call_id, item.name, item.arguments, item.status) for item in final.output] == [
        ("function_call", "call_1", "weather", '{"city":"Paris"}', "completed"),
        ("function_call", "call_2", "weather", '{"city":"Rome"}', "completed"),
    ]
    assert final.status == "completed"


def test_a_call_without_arguments_gets_an_empty_object() -> None:
    events = frames(encode(reply_events(call_events("c", "now"), stop="tool_use")))
    assert [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"] == ["{}"]
    assert events[-1]["response"]["output"][0]["arguments"] == "{}"


def test_a_custom_tool_call_carries_the_text_out_of_the_json() -> None:
    patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n"
    fragments = orjson.dumps({CUSTOM_INPUT: patch}).decode()
    events_in = reply_events(call_events("call_p", "apply_patch", fragments[:10], fragments[10:]), stop="tool_use")
    body = encode(events_in, encoder(custom_tools=frozenset({"apply_patch"})))
    assert types(body)[2:-1] == [
        "response.output_item.added", "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done", "response.output_item.done",
    ]
    events = frames(body)
    assert events[2]["item"]["id"].startswith("ctc_") and events[2]["item"]["input"] == ""
    assert events[3]["delta"] == patch and events[4]["input"] == patch
    _, final = sdk_stream(body)
    (item,) = final.output
    assert (item.type, item.call_id, item.name, item.input) == ("custom_tool_call", "call_p", "apply_patch", patch)


def test_namespaced_calls_go_back_under_their_namespace() -> None:
    enc = encoder(namespaced={"agents__spawn": ("agents", "spawn")})
    _, final = sdk_stream(encode(reply_events(call_events("c", "agents__spawn", "{}"), stop="tool_use"), enc))
    (item,) = final.output
    assert (item.name, item.namespace) == ("spawn", "agents")


def test_server_tool_calls_are_not_shown() -> None:
    events_in = [MessageStart("m"), ToolUseStart("srv_1", "web_search", server=True), ToolInputDelta('{"q":"x"}'),
                 BlockStop(), *text_events("found"), MessageStop("end_turn", USAGE)]
    body = encode(events_in)
    assert "web_search" not in body.decode()
    _, final = sdk_stream(body)
    assert [item.type for item in final.output] == ["message"] and final.output_text == "found"


def test_a_block_left_open_is_closed_when_the_next_opens() -> None:
    events_in: list[Event] = [MessageStart("m"), ToolUseStart("c", "f"), ToolInputDelta("{}"), *text_events("x"),
                              MessageStop("end_turn", USAGE)]
    _, final = sdk_stream(encode(events_in))
    assert [item.type for item in final.output] == ["function_call", "message"]


# -- reasoning ------------------------------------------------------------------------------


def thinking_events(text: str, signature: Signature | None = SIGNATURE, redacted: bool = False) -> list[Event]:
    deltas: list[Event] = [ThinkingDelta(text)] if text else []
    signed: list[Event] = [SignatureDelta(signature)] if signature else []
    return [ThinkingStart(redacted), *deltas, *signed, BlockStop()]


def test_reasoning_then_text_streams_a_summary_and_the_encrypted_signature() -> None:
    enc = encoder(encrypted_reasoning=True, reasoning_summary=True)
    body = encode(reply_events(thinking_events("let me think"), text_events("answer")), enc)
    assert types(body)[2:8] == [
        "response.output_item.added", "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done", "response.output_item.done",
    ]
    _, final = sdk_stream(body)
    reasoning, message = final.output
    assert reasoning.type == "reasoning" and reasoning.id.startswith("rs_")
    assert [part.text for part in reasoning.summary] == ["let me think"]
    assert decode_signature(reasoning.encrypted_content) == SIGNATURE
    assert message.type == "message" and final.output_text == "answer"


def test_without_summaries_reasoning_shows_only_its_encrypted_content() -> None:
    body = encode(reply_events(thinking_events("secret thoughts"), text_events("a")), encoder(encrypted_reasoning=True, reasoning_summary=False))
    assert "secret thoughts" not in body.decode()
    assert not any(kind.startswith("response.reasoning_summary") for kind in types(body))
    _, final = sdk_stream(body)
    assert final.output[0].summary == []
    assert open_reasoning(final.output[0].encrypted_content or "") == ("secret thoughts", SIGNATURE)


def test_hidden_reasoning_comes_back_whole_not_as_redacted_thinking() -> None:
    """The Codex CLI's request shape: encrypted content asked for, no summaries. A Claude signature
    signs its text, so the text must come back with it, or the backend gets redacted thinking."""
    body = encode(reply_events(thinking_events("I should run echo"), text_events("a")),
                  encoder(encrypted_reasoning=True, reasoning_summary=False))
    _, final = sdk_stream(body)
    item = final.output[0].model_dump(exclude_none=True)
    decoded = decode_responses(orjson.dumps({"model": "m", "input": [
        {"role": "user", "content": "run it"}, item, {"role": "user", "content": "again"}]}))
    (block,) = decoded.request.messages[1].content
    assert block == ThinkingBlock("I should run echo", SIGNATURE, redacted=False)


def test_without_include_reasoning_has_no_encrypted_content() -> None:
    _, final = sdk_stream(encode(reply_events(thinking_events("t"), text_events("a")), encoder(reasoning_summary=True)))
    assert final.output[0].encrypted_content is None and final.output[0].summary[0].text == "t"


def test_unsigned_reasoning_gets_no_stand_in() -> None:
    enc = encoder(encrypted_reasoning=True, reasoning_summary=True)
    _, final = sdk_stream(encode(reply_events(thinking_events("kiro thinks", None), text_events("a")), enc))
    assert final.output[0].summary[0].text == "kiro thinks" and final.output[0].encrypted_content is None


def test_redacted_reasoning_shows_only_with_encrypted_content() -> None:
    redacted = thinking_events("", SIGNATURE, redacted=True)
    _, shown = sdk_stream(encode(reply_events(redacted, text_events("a")), encoder(encrypted_reasoning=True)))
    assert shown.output[0].summary == [] and decode_signature(shown.output[0].encrypted_content) == SIGNATURE
    _, hidden = sdk_stream(encode(reply_events(redacted, text_events("a")), encoder(encrypted_reasoning=False)))
    assert [item.type for item in hidden.output] == ["message"]
    assert frames(encode(reply_events(redacted, text_events("a"))))[2]["output_index"] == 0


# -- how a reply ends --------------------------------------------------------------------------


@pytest.mark.parametrize(("stop", "reason"), [("max_tokens", "max_output_tokens"), ("refusal", "content_filter")])
def test_a_cut_short_reply_ends_incomplete(stop: Any, reason: str) -> None:
    events = frames(encode(reply_events(text_events("par"), stop=stop)))
    last = events[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["status"] == "incomplete" and last["response"]["incomplete_details"] == {"reason": reason}
    assert last["response"]["output"][0]["content"][0]["text"] == "par"


@pytest.mark.parametrize("stop", ["end_turn", "tool_use", "stop_sequence", "pause_turn"])
def test_other_stops_complete(stop: Any) -> None:
    last = frames(encode(reply_events(text_events("x"), stop=stop)))[-1]
    assert last["type"] == "response.completed" and last["response"]["incomplete_details"] is None


@pytest.mark.parametrize(
    "events",
    [
        [TextStart()],
        [MessageStart("m"), MessageStart("m")],
        [MessageStart("m"), TextDelta("x")],
        [MessageStart("m"), TextStart(), ThinkingDelta("x")],
        [MessageStart("m"), ThinkingStart(), ToolInputDelta("{}")],
        [MessageStart("m"), BlockStop()],
        [MessageStart("m"), TextStart(), SignatureDelta(SIGNATURE)],
        [MessageStop("end_turn")],
        [MessageStart("m"), MessageStop("end_turn"), TextStart()],
        [MessageStart("m"), MessageStop("end_turn"), MessageStop("end_turn")],
    ],
)
def test_events_out_of_order_fail_loudly(events: list[Event]) -> None:
    enc = encoder()
    with pytest.raises(UpstreamUnavailable):
        for event in events:
            enc.encode(event)


def test_a_failure_mid_stream_raises_in_the_sdk_and_fails_the_response() -> None:
    enc = encoder()
    body = encode([MessageStart("m"), *text_events("partial"), TextStart(), TextDelta("cut")], enc)
    body += enc.error(errors.UpstreamUnavailable("backend went away"))
    assert enc.finished
    events = frames(body)
    assert [e["type"] for e in events[-2:]] == ["error", "response.failed"]
    error, failed = events[-2:]
    assert error["code"] is None and error["message"] == error["error"]["message"]
    assert failed["response"]["status"] == "failed" and failed["response"]["error"]["code"] == "server_error"
    assert [item["content"][0]["text"] for item in failed["response"]["output"]] == ["partial"]
    with pytest.raises(openai.APIError) as caught:
        sdk_stream(body)
    assert caught.value.message == error["message"]


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errors.RateLimited("slow down"), "rate_limit_exceeded"),
        (errors.ContextTooLong("prompt is too long"), "context_length_exceeded"),
        (errors.Overloaded("busy"), "server_error"),
    ],
)
def test_the_failed_response_names_the_codes_codex_cli_acts_on(exc: Exception, code: str) -> None:
    enc = encoder()
    enc.encode(MessageStart("m"))
    body = enc.error(exc)
    error, failed = (orjson.loads(frame.split(b"\ndata: ")[1]) for frame in body[:-2].split(b"\n\n"))
    assert failed["response"]["error"]["code"] == code
    assert error["type"] == "error" and error["sequence_number"] + 1 == failed["sequence_number"]
    # The SDK lists no `context_length_exceeded` code, but reads it (it builds events without validating).
    from openai._models import construct_type

    event = construct_type(type_=ResponseStreamEvent, value=failed)
    assert event.type == "response.failed" and event.response.error.code == code


def test_a_failure_before_the_start_still_follows_response_created() -> None:
    enc = encoder()
    body = enc.error(errors.Overloaded("busy"))
    assert types(body) == ["response.created", "response.in_progress", "error", "response.failed"]
    assert enc.started and enc.finished


def test_nothing_follows_a_finished_response() -> None:
    enc = encoder()
    encode(reply_events(text_events("done")), enc)
    assert enc.finished and enc.error(errors.Overloaded("late")) == b""


# -- non-streaming ----------------------------------------------------------------------------


def reply(*blocks: Any, stop: Any = "end_turn") -> Reply:
    return Reply("m", tuple(blocks), stop, None, USAGE)


def test_the_json_response_is_the_completed_one() -> None:
    blocks = (ThinkingBlock("hmm", SIGNATURE), TextBlock("Hello"), ToolUseBlock("call_1", "f", {"a": 1}),
              ToolUseBlock("call_2", "apply_patch", {CUSTOM_INPUT: "*** Begin Patch"}), ToolUseBlock("s", "web", {}, server=True))
    options: dict[str, Any] = {"custom_tools": frozenset({"apply_patch"}), "encrypted_reasoning": True, "reasoning_summary": True}
    data = orjson.loads(response_json(reply(*blocks, stop="tool_use"), "gpt-x", ReplyShape(**options), response_id="resp_x", created_at=1))
    response = Response.model_validate(data)
    assert response.output_text == "Hello" and response.status == "completed" and response.id == "resp_x"
    assert [item.type for item in response.output] == ["reasoning", "message", "function_call", "custom_tool_call"]
    assert decode_signature(response.output[0].encrypted_content or "") == SIGNATURE
    assert orjson.loads(response.output[2].arguments) == {"a": 1}
    assert response.output[3].input == "*** Begin Patch"
    streamed = [
        MessageStart("m"), *thinking_events("hmm"), *text_events("Hello"), *call_events("call_1", "f", '{"a":1}'),
        *call_events("call_2", "apply_patch", '{"input":"*** Begin Patch"}'), MessageStop("tool_use", USAGE),
    ]
    final = frames(encode(streamed, encoder(**options)))[-1]["response"]

    def shape(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in item.items() if k != "id"} for item in items]

    assert shape(final["output"]) == shape(data["output"])
    assert final["usage"] == data["usage"] and final["status"] == data["status"]


def test_a_json_response_cut_short_is_incomplete() -> None:
    response = Response.model_validate(orjson.loads(response_json(reply(TextBlock("pa"), stop="max_tokens"), "gpt-x")))
    assert response.status == "incomplete" and response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"


# -- the round trip through the client ----------------------------------------------------------


def codex_body(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "model": "gpt-x", "input": "hi", "stream": True, "store": False,
        "include": ["reasoning.encrypted_content"], "reasoning": {"effort": "medium", "summary": "auto"},
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}},
                  {"type": "custom", "name": "apply_patch", "format": {"type": "text"}}],
        "tool_choice": "auto", "parallel_tool_calls": True,
    }
    data.update(fields)
    return data


def test_encrypted_reasoning_comes_back_as_the_same_signature() -> None:
    data = orjson.loads(response_json(reply(ThinkingBlock("plan", SIGNATURE), TextBlock("ok")), "gpt-x", ReplyShape(encrypted_reasoning=True)))
    encrypted = data["output"][0]["encrypted_content"]
    item = {"type": "reasoning", "summary": [], "encrypted_content": encrypted}
    request = decode_responses(orjson.dumps(codex_body(input=[{"role": "user", "content": "q"}, item]))).request
    (block,) = request.messages[1].content
    assert isinstance(block, ThinkingBlock) and block.signature == SIGNATURE
    assert (block.signature.provider, block.signature.model, block.signature.value) == ("codex", "gpt-5.5", "gAAAAABsecret==")


def test_a_streamed_turn_sent_back_as_input_decodes_to_the_same_blocks() -> None:
    """Codex CLI replays the output items it got; they must decode to what the backend produced."""
    decoded = parse_responses(codex_body())
    enc = ResponsesStreamEncoder.for_request("gpt-x", decoded)
    body = encode(reply_events(thinking_events("plan"), text_events("Let me patch."),
                               call_events("call_1", "f", '{"x":', "1}"),
                               call_events("call_2", "apply_patch", '{"input":"*** Begin Patch\\n"}'), stop="tool_use"), enc)
    _, final = sdk_stream(body, tools=codex_body()["tools"])
    history = [{"role": "user", "content": "go"}, *(item.model_dump(exclude_none=True) for item in final.output)]
    request = parse_responses(codex_body(input=history)).request
    assert request.messages[1].content == (
        ThinkingBlock("plan", SIGNATURE),
        TextBlock("Let me patch."),
        ToolUseBlock("call_1", "f", {"x": 1}),
        ToolUseBlock("call_2", "apply_patch", {CUSTOM_INPUT: "*** Begin Patch\n"}),
    )


def test_the_response_echoes_the_request() -> None:
    decoded = parse_responses(codex_body(parallel_tool_calls=False, max_output_tokens=500, temperature=0.2, prompt_cache_key="k"))
    final = frames(encode(reply_events(text_events("x")), ResponsesStreamEncoder.for_request("gpt-x", decoded)))[-1]["response"]
    response = Response.model_validate(final)
    assert response.parallel_tool_calls is False and response.tool_choice == "auto"
    assert [tool.type for tool in response.tools] == ["function", "custom"]
    assert response.max_output_tokens == 500 and response.temperature == 0.2 and response.prompt_cache_key == "k"
    assert response.reasoning is not None and response.reasoning.effort == "medium"
    same = orjson.loads(response_json_for(reply(TextBlock("x")), "gpt-x", decoded))
    assert {k: same[k] for k in decoded.echo} == {k: final[k] for k in decoded.echo}
