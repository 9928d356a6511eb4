"""Kiro's reply direction: real AWS event-stream bytes -> frames -> canonical events -> Anthropic SSE.

Frames are encoded by hand in frames.py from the documented layout (protocol sheet A5:
total length, headers length, prelude CRC32, headers as name-len/name/type 7/value-len/value,
payload, message CRC32), independently of botocore, so the decoder is checked against the
format and not against itself. Streams are fed whole, byte by byte, and split at every boundary.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import pytest

from providers.kiro.eventstream import EventStreamDecoder, Frame
from providers.kiro.failures import error_from_http, refreshable_403
from providers.kiro.stream import ReplyState
from providers.kiro.tools import ToolNames
from router.anthropic.encode import StreamEncoder, reply_json
from router.anthropic.signatures import decode_signature
from router.collect import Collector
from router.conversation import Reply, Signature, TextBlock, ThinkingBlock, ToolUseBlock, Usage
from router.errors import (
    AuthError,
    ContextTooLong,
    ModelUnavailable,
    Overloaded,
    PermissionDenied,
    ProviderError,
    RateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
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
from router.route import Route
from tests.providers.kiro.frames import error_frame, event, exception, frame_bytes, text, tool
from tests.support.sse import checked

MODEL = "claude-sonnet-4.5"
ROUTE = Route("kiro", MODEL)


# -- frames (encoded by hand in frames.py, from the documented layout) -----------------------------


USAGE = event(
    "metadataEvent",
    tokenUsage={
        "uncachedInputTokens": 120,
        "outputTokens": 30,
        "cacheReadInputTokens": 1000,
        "cacheWriteInputTokens": 50,
        "totalTokens": 1200,
    },
)


# -- running streams -----------------------------------------------------------------------------------


def decode(chunks: Iterable[bytes]) -> list[Frame]:
    decoder = EventStreamDecoder()
    frames = [frame for chunk in chunks for frame in decoder.feed(chunk)]
    decoder.finish()
    return frames


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def run(stream: bytes, state: ReplyState | None = None, chunks: Sequence[bytes] | None = None) -> list[Event]:
    state = state or ReplyState(ROUTE)
    decoder = EventStreamDecoder()
    events: list[Event] = []
    for chunk in chunks if chunks is not None else [stream]:
        for frame in decoder.feed(chunk):
            events += state.feed(frame)
    decoder.finish()
    events += state.finish()
    anthropic_sse(events)  # every complete reply must encode to a well-ordered Anthropic stream
    return events


def anthropic_sse(events: Sequence[Event]) -> list[tuple[str, dict[str, Any]]]:
    encoder = StreamEncoder(MODEL)
    return checked(b"".join(encoder.encode(e) for e in events).decode())


def fold(events: Sequence[Event]) -> Reply:
    collector = Collector()
    for e in events:
        collector.add(e)
    return collector.reply()


def thinking_state(**options: Any) -> ReplyState:
    return ReplyState(ROUTE, parse_thinking_tags=True, **options)


# -- the decoder ------------------------------------------------------------------------------------


STREAM = b"".join(
    [
        event("messageMetadataEvent", conversationId="c-1", utteranceId="u-1"),
        text("Hello"),
        text(", wörld"),
        tool("tooluse_1", "Bash", '{"command"'),
        tool("tooluse_1", "Bash", ': "ls"}', stop=True),
        event("contextUsageEvent", contextUsagePercentage=12.5),
        event("meteringEvent", usage=0.0123, unit="credit", unitPlural="credits"),
    ]
)


def test_frames_decode_with_their_types_and_payloads() -> None:
    frames = decode([STREAM])
    assert [f.event_type for f in frames] == [
        "messageMetadataEvent",
        "assistantResponseEvent",
        "assistantResponseEvent",
        "toolUseEvent",
        "toolUseEvent",
        "contextUsageEvent",
        "meteringEvent",
    ]
    assert all(f.message_type == "event" for f in frames)
    assert frames[2].payload == {"content": ", wörld"}
    event_type, message_type, payload = frames[4]
    assert (event_type, message_type, payload["stop"]) == ("toolUseEvent", "event", True)


def test_frames_split_at_every_byte_boundary_decode_the_same() -> None:
    whole = decode([STREAM])
    for cut in range(1, len(STREAM)):
        assert decode([STREAM[:cut], STREAM[cut:]]) == whole, cut
    assert decode(bytewise(STREAM)) == whole


def test_exception_and_error_frames() -> None:
    frames = decode(
        [
            exception("ThrottlingException", "slow down", "DAILY_REQUEST_COUNT"),
            error_frame("InternalFailure", "it broke"),
        ]
    )
    assert frames[0] == Frame(
        "ThrottlingException", "exception", {"message": "slow down", "reason": "DAILY_REQUEST_COUNT"}
    )
    assert frames[1] == Frame("InternalFailure", "error", {"message": "it broke"})


def test_exception_payload_that_is_not_json_becomes_its_message() -> None:
    raw = frame_bytes({":message-type": "exception", ":exception-type": "ValidationException"}, b"Bad thing")
    assert decode([raw]) == [Frame("ValidationException", "exception", {"message": "Bad thing"})]


def test_empty_event_payload_is_an_empty_object() -> None:
    raw = frame_bytes({":message-type": "event", ":event-type": "initial-response"}, b"")
    assert decode([raw]) == [Frame("initial-response", "event", {})]


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda data: data[:-1] + bytes([data[-1] ^ 0xFF]),  # message CRC
        lambda data: data[:9] + bytes([data[9] ^ 0xFF]) + data[10:],  # prelude CRC
        lambda data: data[:20] + bytes([data[20] ^ 0x01]) + data[21:],  # a header byte
        lambda data: data[:-6] + bytes([data[-6] ^ 0x01]) + data[-5:],  # a payload byte
    ],
    ids=["message-crc", "prelude-crc", "header", "payload"],
)
def test_corrupted_frames_are_upstream_unavailable(corrupt: Any) -> None:
    data = corrupt(text("hello"))
    with pytest.raises(UpstreamUnavailable, match="corrupt"):
        decode([data])


def test_a_stream_cut_mid_frame_fails_at_finish() -> None:
    data = text("hello") + text("world")
    with pytest.raises(UpstreamUnavailable, match="middle of an event-stream frame"):
        decode([data[:-3]])


def test_an_event_payload_that_is_not_json_is_a_broken_reply() -> None:
    raw = frame_bytes({":message-type": "event", ":event-type": "assistantResponseEvent"}, b"{not json")
    with pytest.raises(UpstreamUnavailable):
        decode([raw])


# -- text, tools, usage, stop reasons ---------------------------------------------------------------------


def test_plain_text_reply_with_usage() -> None:
    events = run(text("Hello") + text(" there") + USAGE)
    assert events == [
        MessageStart(MODEL),
        TextStart(),
        TextDelta("Hello"),
        TextDelta(" there"),
        BlockStop(),
        MessageStop("end_turn", Usage(120, 30, 1000, 50)),
    ]
    sse = anthropic_sse(events)
    assert sse[-2][1]["usage"]["cache_read_input_tokens"] == 1000


def test_whole_stream_split_at_every_byte_boundary_gives_the_same_events() -> None:
    stream = text("<thinking>plan</thinking>\n\nAnswer") + tool("t1", "Bash", '{"a": 1}', stop=True) + USAGE
    whole = run(stream, thinking_state())
    for cut in range(1, len(stream)):
        assert run(stream, thinking_state(), [stream[:cut], stream[cut:]]) == whole, cut
    assert run(stream, thinking_state(), bytewise(stream)) == whole
    anthropic_sse(whole)


def test_tool_input_fragments_are_assembled_into_one_call() -> None:
    stream = (
        text("Let me check.")
        + tool("tooluse_A", "Bash", '{"comm')
        + tool("tooluse_A", "Bash", 'and": "ls -la", ')
        + tool("tooluse_A", "Bash", '"description": "list"}')
        + tool("tooluse_A", "Bash", stop=True)
    )
    events = run(stream)
    assert events[1:-1] == [
        TextStart(),
        TextDelta("Let me check."),
        BlockStop(),
        ToolUseStart("tooluse_A", "Bash"),
        ToolInputDelta('{"command": "ls -la", "description": "list"}'),
        BlockStop(),
    ]
    assert isinstance(events[-1], MessageStop) and events[-1].stop_reason == "tool_use"
    reply = fold(events)
    assert reply.content[1] == ToolUseBlock("tooluse_A", "Bash", {"command": "ls -la", "description": "list"})
    sse = anthropic_sse(events)
    assert sse[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_two_tool_calls_even_interleaved_never_interleave_blocks() -> None:
    stream = (
        tool("t1", "Read", '{"file_path": ')
        + tool("t2", "Grep", '{"pattern": "x"')
        + tool("t1", "Read", '"/a"}', stop=True)
        + tool("t2", "Grep", "}", stop=True)
    )
    events = run(stream)
    reply = fold(events)
    assert reply.content == (
        ToolUseBlock("t1", "Read", {"file_path": "/a"}),
        ToolUseBlock("t2", "Grep", {"pattern": "x"}),
    )
    assert reply.stop_reason == "tool_use"
    anthropic_sse(events)


def test_shortened_tool_names_are_mapped_back() -> None:
    names = ToolNames({"mcp__tool_abcd1234": "mcp__plugin_long__tool"})
    events = run(tool("t1", "mcp__tool_abcd1234", "{}", stop=True), ReplyState(ROUTE, names))
    assert ToolUseStart("t1", "mcp__plugin_long__tool") in events


def test_object_input_and_events_without_ids_join_the_open_call() -> None:
    stream = tool("t1", "Edit", {"path": "a"}) + tool(None, None, {"text": "b"}) + tool(None, None, stop=True)
    reply = fold(run(stream))
    assert reply.content == (ToolUseBlock("t1", "Edit", {"path": "a", "text": "b"}),)


def test_arguments_that_do_not_parse_become_empty_and_stop_as_max_tokens() -> None:
    state = ReplyState(ROUTE)
    reply = fold(run(tool("t1", "Write", '{"content": "half', stop=True), state))
    assert reply.content == (ToolUseBlock("t1", "Write", {}),)
    assert reply.stop_reason == "max_tokens"
    assert state.notes and "t1" in state.notes[0]


def test_a_call_never_stopped_is_emitted_at_the_end() -> None:
    reply = fold(run(tool("t1", "Bash", '{"command": "ls"}')))
    assert reply.content == (ToolUseBlock("t1", "Bash", {"command": "ls"}),)


def test_repeated_events_for_a_finished_call_are_ignored() -> None:
    stream = tool("t1", "Bash", "{}", stop=True) + tool("t1", "Bash", "{}", stop=True)
    assert len(fold(run(stream)).content) == 1


def test_kiros_empty_sentinel_is_not_shown() -> None:
    reply = fold(run(text("(empty)") + tool("t1", "Bash", "{}", stop=True)))
    assert reply.content == (ToolUseBlock("t1", "Bash", {}),)


def test_repeated_content_is_kept_unless_asked() -> None:
    stream = text("ha") + text("ha")
    assert fold(run(stream)).content == (TextBlock("haha"),)
    assert fold(run(stream, ReplyState(ROUTE, drop_repeated_content=True))).content == (TextBlock("ha"),)


@pytest.mark.parametrize(
    ("stream", "usage"),
    [
        (text("hi") + USAGE, Usage(120, 30, 1000, 50)),
        (
            text("hi")
            + event("metadataEvent", usage={"inputTokens": 7, "outputTokens": 3}, stopReason="END_TURN"),
            Usage(7, 3),
        ),
        (text("hi") + event("metricsEvent", inputTokens=11, outputTokens=4), Usage(11, 4)),
        (text("hi") + event("metricsEvent", metrics={"inputTokens": 5, "outputTokens": 6}), Usage(5, 6)),
        (text("12345678") + event("contextUsageEvent", contextUsagePercentage=10.0), Usage(20_000, 2)),
        (text("hi"), Usage(0, 1)),
    ],
    ids=["token-usage", "bedrock-usage", "metrics", "nested-metrics", "context-percentage", "nothing"],
)
def test_usage(stream: bytes, usage: Usage) -> None:
    assert run(stream)[-1] == MessageStop("end_turn", usage)


def test_context_percentage_uses_the_models_window() -> None:
    state = ReplyState(ROUTE, context_window=1_000_000)
    stop = run(text("x") + event("contextUsageEvent", contextUsagePercentage=1.5), state)[-1]
    assert isinstance(stop, MessageStop) and stop.usage.input_tokens == 15_000


def test_metering_credits_are_summed() -> None:
    state = ReplyState(ROUTE)
    run(text("x") + event("meteringEvent", usage=0.5) + event("meteringEvent", usage=0.25), state)
    assert state.credits == 0.75


@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        (text("done"), "end_turn"),
        (text("done") + event("metadataEvent", stopReason="MAX_TOKENS"), "max_tokens"),
        (text("cut") + tool(stop=True), "max_tokens"),
        (tool("t1", "Bash", "{}", stop=True) + tool(stop=True), "tool_use"),
    ],
    ids=["end-turn", "metadata-max-tokens", "bare-stop", "bare-stop-after-call"],
)
def test_stop_reasons(stream: bytes, reason: str) -> None:
    stop = run(stream)[-1]
    assert isinstance(stop, MessageStop) and stop.stop_reason == reason


def test_unknown_events_are_ignored_but_start_the_message() -> None:
    events = run(
        event("followupPromptEvent", followupPrompt={"content": "?"}) + event("newThing", x=1) + text("a")
    )
    assert events[0] == MessageStart(MODEL)
    assert fold(events).content == (TextBlock("a"),)


def test_an_empty_body_is_a_failed_reply() -> None:
    with pytest.raises(UpstreamUnavailable, match="without sending any event"):
        run(b"")


# -- thinking ---------------------------------------------------------------------------------------


def test_thinking_section_split_into_single_characters_becomes_a_thinking_block() -> None:
    reply_text = "<thinking>\nFirst, plan.\n</thinking>\n\nThe answer is 4."
    stream = b"".join(text(char) for char in reply_text)
    events = run(stream, thinking_state())
    reply = fold(events)
    assert reply.content == (ThinkingBlock("First, plan.\n"), TextBlock("The answer is 4."))
    sse = anthropic_sse(events)
    assert [data["content_block"]["type"] for name, data in sse if name == "content_block_start"] == [
        "thinking",
        "text",
    ]


@pytest.mark.parametrize("cut", range(1, 40))
def test_thinking_tags_split_anywhere(cut: int) -> None:
    reply_text = "<thinking>deep thought</thinking>Answer <thinking> stays"
    stream = text(reply_text[:cut]) + text(reply_text[cut:])
    reply = fold(run(stream, thinking_state()))
    assert reply.content == (ThinkingBlock("deep thought"), TextBlock("Answer <thinking> stays"))


@pytest.mark.parametrize(
    ("pieces", "content"),
    [
        (["  <think>short</think>ok"], (ThinkingBlock("short"), TextBlock("ok"))),
        (["<thinking>never closed"], (ThinkingBlock("never closed"),)),
        (["<thin", "g>text"], (TextBlock("<thing>text"),)),
        (["Plain <thinking>a</thinking>"], (TextBlock("Plain <thinking>a</thinking>"),)),
        (
            ["<thinking>a</thinking><thinking>b</thinking>c"],
            (ThinkingBlock("a"), ThinkingBlock("b"), TextBlock("c")),
        ),
        (["<thinking>x</thinking>", "   "], (ThinkingBlock("x"),)),
        (
            ["<thinking>a </thinkin", "g> tail</thinking>"],
            (ThinkingBlock("a "), TextBlock("tail</thinking>")),
        ),
    ],
    ids=["think-tag", "unclosed", "not-a-tag", "mid-text", "two-sections", "trailing-space", "split-close"],
)
def test_thinking_tag_edge_cases(pieces: list[str], content: tuple[Any, ...]) -> None:
    stream = b"".join(text(piece) for piece in pieces)
    assert fold(run(stream, thinking_state())).content == content


def test_false_close_tag_is_not_split_badly() -> None:
    reply = fold(run(text("<thinking>a </thinkin") + text("x</thinking>b"), thinking_state()))
    assert reply.content == (ThinkingBlock("a </thinkinx"), TextBlock("b"))


def test_a_thinking_section_may_follow_a_tool_call() -> None:
    stream = tool("t1", "Bash", "{}", stop=True) + text("<thinking>again</thinking>more")
    assert fold(run(stream, thinking_state())).content == (
        ToolUseBlock("t1", "Bash", {}),
        ThinkingBlock("again"),
        TextBlock("more"),
    )


def test_thinking_tags_are_left_alone_when_not_requested() -> None:
    assert fold(run(text("<thinking>x</thinking>y"))).content == (TextBlock("<thinking>x</thinking>y"),)


def test_thinking_is_dropped_when_the_client_did_not_ask() -> None:
    events = run(text("<thinking>x</thinking>y"), thinking_state(show_thinking=False))
    assert fold(events).content == (TextBlock("y"),)


@pytest.mark.parametrize(
    ("stream", "state"),
    [
        (text("<thinking>Pondering.</thinking>\n\nDone."), thinking_state()),
        (event("reasoningContentEvent", text="Pondering.") + text("Done."), None),  # native, but Kiro gave no signature
    ],
    ids=["tags", "native-unsigned"],
)
def test_thinking_kiro_did_not_sign_reaches_the_client_with_the_routers_signature(
    stream: bytes, state: ReplyState | None
) -> None:
    events = run(stream, state)
    assert fold(events).content == (ThinkingBlock("Pondering."), TextBlock("Done."))  # canonically: unsigned
    encoder = StreamEncoder(MODEL, route=ROUTE)
    sse = checked(b"".join(encoder.encode(e) for e in events).decode())
    streamed = [d["delta"]["signature"] for n, d in sse if n == "content_block_delta" and "signature" in d["delta"]]
    folded = orjson.loads(reply_json(fold(events), MODEL, route=ROUTE))["content"][0]["signature"]
    for wire in (*streamed, folded):
        assert decode_signature(wire) == Signature("kiro", MODEL, decode_signature(wire).value, router=True)
    assert len(streamed) == 1


def test_native_reasoning_becomes_a_signed_thinking_block() -> None:
    stream = (
        event("reasoningContentEvent", text="Let me ")
        + event("reasoningContentEvent", text="think.")
        + event("reasoningContentEvent", signature="sig-123")
        + text("Done.")
    )
    events = run(stream)
    signature = Signature("kiro", MODEL, "sig-123")
    assert events[1:6] == [
        ThinkingStart(),
        ThinkingDelta("Let me "),
        ThinkingDelta("think."),
        SignatureDelta(signature),
        BlockStop(),
    ]
    assert fold(events).content == (ThinkingBlock("Let me think.", signature), TextBlock("Done."))
    sse = anthropic_sse(events)
    assert any(d.get("delta", {}).get("type") == "signature_delta" for _, d in sse)


def test_two_signed_reasoning_blocks_stay_apart() -> None:
    stream = event("reasoningContentEvent", text="one", signature="s1") + event(
        "reasoningContentEvent", text="two", signature="s2"
    )
    content = fold(run(stream)).content
    assert content == (
        ThinkingBlock("one", Signature("kiro", MODEL, "s1")),
        ThinkingBlock("two", Signature("kiro", MODEL, "s2")),
    )


def test_redacted_reasoning_becomes_a_redacted_block() -> None:
    events = run(event("reasoningContentEvent", redactedContent="b3BhcXVl") + text("ok"))
    assert events[1:4] == [
        ThinkingStart(redacted=True),
        SignatureDelta(Signature("kiro", MODEL, "b3BhcXVl")),
        BlockStop(),
    ]
    sse = anthropic_sse(events)
    assert sse[1][1]["content_block"] == {
        "type": "redacted_thinking",
        "data": sse[1][1]["content_block"]["data"],
    }


def test_native_reasoning_is_dropped_when_the_client_did_not_ask() -> None:
    events = run(
        event("reasoningContentEvent", text="hmm", signature="s") + text("ok"),
        ReplyState(ROUTE, show_thinking=False),
    )
    assert fold(events).content == (TextBlock("ok"),)


# -- failures inside the stream ----------------------------------------------------------------------


def failure_of(stream: bytes, state: ReplyState | None = None) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        run(stream, state)
    return caught.value


@pytest.mark.parametrize(
    ("frame", "kind", "words"),
    [
        (
            exception("ThrottlingException", "Too many requests, please wait before trying again."),
            RateLimited,
            "monthly credits may be used up",
        ),
        (
            exception("ThrottlingException", "Rate exceeded", "DAILY_REQUEST_COUNT"),
            RateLimited,
            "daily request limit",
        ),
        (
            exception("ThrottlingException", "limit", "MONTHLY_REQUEST_COUNT"),
            RateLimited,
            "monthly request limit",
        ),
        (exception("ThrottlingException", "busy", "INSUFFICIENT_MODEL_CAPACITY"), RateLimited, "no capacity"),
        (
            exception(
                "ServiceQuotaExceededException", "You have reached the limit.", "MONTHLY_REQUEST_COUNT"
            ),
            RateLimited,
            "monthly request limit",
        ),
        (exception("ServiceQuotaExceededException", "Quota reached"), RateLimited, "monthly credits"),
        (
            exception("AccessDeniedException", "Account suspended", "TEMPORARILY_SUSPENDED"),
            PermissionDenied,
            "denied access",
        ),
        (
            exception("ValidationException", "Improperly formed request."),
            UpstreamRejected,
            "Improperly formed",
        ),
        (
            exception("ValidationException", "Input is too long.", "CONTENT_LENGTH_EXCEEDS_THRESHOLD"),
            ContextTooLong,
            "prompt is too long",
        ),
        (
            exception("ValidationException", "bad model", "INVALID_MODEL_ID"),
            ModelUnavailable,
            "does not serve",
        ),
        (exception("InternalServerException", "oops"), UpstreamUnavailable, "oops"),
        (
            exception("InternalServerException", "later", "MODEL_TEMPORARILY_UNAVAILABLE"),
            Overloaded,
            "capacity",
        ),
        (exception("ServiceUnavailableException", "down"), Overloaded, "unavailable"),
        (error_frame("InternalFailure", "stream broke"), UpstreamUnavailable, "stream broke"),
    ],
)
def test_exception_frames_become_router_errors(frame: bytes, kind: type[ProviderError], words: str) -> None:
    error = failure_of(text("partial ") + frame)
    assert type(error) is kind
    assert words in error.message and error.provider == "kiro"
    if kind is ContextTooLong:
        assert error.message.startswith("prompt is too long")


def test_events_before_an_exception_reach_the_client_first() -> None:
    decoder, state = EventStreamDecoder(), ReplyState(ROUTE)
    events: list[Event] = []
    with pytest.raises(RateLimited):
        for frame in decoder.feed(text("partial") + exception("ThrottlingException", "slow")):
            events += state.feed(frame)
    assert events == [MessageStart(MODEL), TextStart(), TextDelta("partial")]


def test_bare_improperly_formed_on_a_large_request_is_an_overflow() -> None:
    error = failure_of(
        exception("ValidationException", "Improperly formed request."), ReplyState(ROUTE, large_request=True)
    )
    assert isinstance(error, ContextTooLong) and error.message.startswith("prompt is too long")


def test_a_corrupted_frame_mid_stream_is_upstream_unavailable() -> None:
    bad = text("world")
    bad = bad[:-1] + bytes([bad[-1] ^ 0x55])
    error = failure_of(text("hello ") + bad)
    assert isinstance(error, UpstreamUnavailable) and error.retryable


def test_invalid_state_event_is_a_rejection() -> None:
    error = failure_of(event("invalidStateEvent", reason="INVALID_TASK_ASSIST_PLAN", message="nope"))
    assert isinstance(error, UpstreamRejected) and "INVALID_TASK_ASSIST_PLAN" in error.message


# -- HTTP errors -------------------------------------------------------------------------------------


def kiro_error(message: str, reason: str | None = None, **extra: Any) -> bytes:
    return orjson.dumps({"message": message, "reason": reason, **extra})


@pytest.mark.parametrize(
    ("status", "body", "headers", "kind", "words"),
    [
        (400, kiro_error("Improperly formed request."), {}, UpstreamRejected, "validator gives no reason"),
        (
            400,
            kiro_error("Input is too long.", "CONTENT_LENGTH_EXCEEDS_THRESHOLD"),
            {},
            ContextTooLong,
            "prompt is too long",
        ),
        (400, kiro_error("too long", "PROMPT_TOO_LONG"), {}, ContextTooLong, "prompt is too long"),
        (400, kiro_error("Invalid model", "INVALID_MODEL_ID"), {}, ModelUnavailable, "does not serve"),
        (400, kiro_error("bad", "TOOL_SCHEMA_INVALID"), {}, UpstreamRejected, "TOOL_SCHEMA_INVALID"),
        (
            401,
            kiro_error("The bearer token included in the request is invalid."),
            {},
            AuthError,
            "Sign in to Kiro",
        ),
        (
            402,
            kiro_error("Monthly limit reached", "MONTHLY_REQUEST_COUNT"),
            {},
            RateLimited,
            "monthly request limit",
        ),
        (
            403,
            kiro_error("The bearer token included in the request is invalid."),
            {},
            AuthError,
            "access token",
        ),
        (
            403,
            kiro_error("Your account is temporarily suspended", "TEMPORARILY_SUSPENDED"),
            {},
            PermissionDenied,
            "suspended",
        ),
        (
            403,
            kiro_error("User is not authorized to access this feature", "FEATURE_NOT_SUPPORTED"),
            {},
            PermissionDenied,
            "FEATURE_NOT_SUPPORTED",
        ),
        (404, kiro_error("no such thing"), {}, ModelUnavailable, "no such thing"),
        (429, kiro_error("Rate exceeded"), {"Retry-After": "7"}, RateLimited, "throttling"),
        (500, kiro_error("boom"), {}, UpstreamUnavailable, "HTTP 500"),
        (503, b"", {}, Overloaded, "unavailable"),
        (504, b"<html>gateway timeout</html>", {}, UpstreamTimeout, "timed out"),
        (
            400,
            b"",
            {"x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/"},
            RateLimited,
            "throttling",
        ),
        (
            400,
            orjson.dumps({"__type": "com.amazon.aws.codewhisperer#AccessDeniedException", "message": "no"}),
            {},
            PermissionDenied,
            "denied",
        ),
    ],
)
def test_error_from_http(
    status: int, body: bytes, headers: dict[str, str], kind: type[ProviderError], words: str
) -> None:
    error = error_from_http(status, body, headers, model=MODEL)
    assert type(error) is kind, error
    assert words in error.message
    assert error.provider == "kiro" and error.upstream_status == status


def test_http_overflow_detection_for_large_requests() -> None:
    body = kiro_error("Improperly formed request.")
    assert isinstance(error_from_http(400, body, {}, large_request=True), ContextTooLong)
    assert isinstance(error_from_http(400, body, {}, large_request=False), UpstreamRejected)


def test_rate_limit_reads_retry_after_and_falls_back() -> None:
    error = error_from_http(429, kiro_error("Rate exceeded"), {"Retry-After": "7"})
    assert isinstance(error, RateLimited) and error.retry_after == 7.0 and error.fallback
    assert ModelUnavailable.fallback and not UpstreamRejected.fallback


@pytest.mark.parametrize(
    ("body", "refreshable"),
    [
        (kiro_error("The bearer token included in the request is invalid."), True),
        (kiro_error("Token expired"), True),
        (b"", True),
        (kiro_error("Your account is temporarily suspended"), False),
        (kiro_error("Suspected violation of terms of service"), False),
        (kiro_error("User is not authorized to access this resource"), False),
    ],
)
def test_refreshable_403(body: bytes, refreshable: bool) -> None:
    assert refreshable_403(body) is refreshable


def test_error_messages_never_carry_tokens() -> None:
    body = kiro_error(
        "Bearer aoaAAAAAGsecrettokenvalue1234567890 rejected; eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.x"
    )
    message = error_from_http(400, body, {}).message
    assert "secrettoken" not in message and "eyJhbGci" not in message
