"""Codex Responses SSE replies, written from the event catalogue of the protocol sheet (§4).

Each stream is a list of (event name, data) pairs exactly as the SSE parser would hand them
to `ReplyState.feed`: the data repeats the type and carries a `sequence_number`. Builders
keep the streams short to read; the shapes are those of the catalogue.
"""

from __future__ import annotations

from typing import Any

Stream = list[tuple[str, dict[str, Any]]]

MODEL = "gpt-5.5"
ENCRYPTED = "gAAAAABoQ1xYz-reasoning-blob-one_0123456789abcdefABCDEF=="
ENCRYPTED_2 = "gAAAAABoQ2second-reasoning-blob_9876543210zyxwvuZYXWVU=="
LONG_TOOL = "mcp__claude_ai_Very_Long_Integration_Server_Name__search_documents_by_semantic_query"


def numbered(events: list[tuple[str, dict[str, Any]]]) -> Stream:
    """Give each event its `type` and a monotonic `sequence_number`, as Codex does."""
    return [(name, {"type": name, "sequence_number": n, **data}) for n, (name, data) in enumerate(events)]


def response(
    status: str, *, output: list[Any] | None = None, usage: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "status": status,
        "model": MODEL,
        "output": output or [],
        "usage": usage,
        **extra,
    }


def usage(total_in: int, cached: int, out: int, reasoning: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": total_in,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": out,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": total_in + out,
    }


def opening() -> list[tuple[str, dict[str, Any]]]:
    return [
        ("response.created", {"response": response("in_progress")}),
        ("response.in_progress", {"response": response("in_progress")}),
    ]


def completed(
    total_in: int = 100, cached: int = 0, out: int = 20, **extra: Any
) -> tuple[str, dict[str, Any]]:
    return (
        "response.completed",
        {"response": response("completed", usage=usage(total_in, cached, out), **extra)},
    )


def message(index: int, *chunks: str, item_id: str = "msg_1") -> list[tuple[str, dict[str, Any]]]:
    """A whole assistant message item streamed as text deltas."""
    ref = {"item_id": item_id, "output_index": index, "content_index": 0}
    text = "".join(chunks)
    item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress", "content": []}
    done_item = {
        **item,
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    return [
        ("response.output_item.added", {"output_index": index, "item": item}),
        (
            "response.content_part.added",
            {**ref, "part": {"type": "output_text", "text": "", "annotations": []}},
        ),
        *[("response.output_text.delta", {**ref, "delta": chunk, "logprobs": []}) for chunk in chunks],
        ("response.output_text.done", {**ref, "text": text}),
        (
            "response.content_part.done",
            {**ref, "part": {"type": "output_text", "text": text, "annotations": []}},
        ),
        ("response.output_item.done", {"output_index": index, "item": done_item}),
    ]


def reasoning(
    index: int, parts: list[list[str]], encrypted: str = ENCRYPTED, item_id: str = "rs_1"
) -> list[tuple[str, dict[str, Any]]]:
    """A reasoning item: summary parts streamed as deltas, encrypted content at done."""
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "response.output_item.added",
            {"output_index": index, "item": {"id": item_id, "type": "reasoning", "summary": []}},
        ),
    ]
    for n, chunks in enumerate(parts):
        ref = {"item_id": item_id, "output_index": index, "summary_index": n}
        text = "".join(chunks)
        events += [
            ("response.reasoning_summary_part.added", {**ref, "part": {"type": "summary_text", "text": ""}}),
            *[("response.reasoning_summary_text.delta", {**ref, "delta": chunk}) for chunk in chunks],
            ("response.reasoning_summary_text.done", {**ref, "text": text}),
            ("response.reasoning_summary_part.done", {**ref, "part": {"type": "summary_text", "text": text}}),
        ]
    summary = [{"type": "summary_text", "text": "".join(chunks)} for chunks in parts]
    done = {"id": item_id, "type": "reasoning", "summary": summary, "encrypted_content": encrypted}
    return events + [("response.output_item.done", {"output_index": index, "item": done})]


def call_added(index: int, call_id: str, name: str, item_id: str) -> tuple[str, dict[str, Any]]:
    item = {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": "",
        "status": "in_progress",
    }
    return ("response.output_item.added", {"output_index": index, "item": item})


def call_delta(index: int, item_id: str, delta: str) -> tuple[str, dict[str, Any]]:
    return (
        "response.function_call_arguments.delta",
        {"item_id": item_id, "output_index": index, "delta": delta},
    )


def call_done(
    index: int, call_id: str, name: str, item_id: str, arguments: str
) -> list[tuple[str, dict[str, Any]]]:
    item = {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }
    return [
        (
            "response.function_call_arguments.done",
            {"item_id": item_id, "output_index": index, "arguments": arguments},
        ),
        ("response.output_item.done", {"output_index": index, "item": item}),
    ]


# -- the recorded replies ---------------------------------------------------------------------------

PLAIN_TEXT = numbered([*opening(), *message(0, "Hello", ", world", "!"), completed(42, 0, 5)])

REASONING_THEN_TEXT = numbered(
    [
        *opening(),
        *reasoning(0, [["**Planning**", "\n\nRead the file first."], ["**Checking**", " the output."]]),
        *message(1, "conformance-ok"),
        completed(1200, 1024, 80),
    ]
)

REASONING_WITHOUT_SUMMARY = numbered(
    [
        *opening(),
        *reasoning(0, [], encrypted=ENCRYPTED_2),
        *message(1, "done"),
        completed(),
    ]
)

# A message, then two parallel calls whose argument deltas interleave with each other and with
# the message's tail (the regression the sheet cites in §4.2): output must come out in order.
PARALLEL_CALLS = numbered(
    [
        *opening(),
        (
            "response.output_item.added",
            {
                "output_index": 0,
                "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []},
            },
        ),
        (
            "response.output_text.delta",
            {"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Reading both."},
        ),
        call_added(1, "call_read", "Read", "fc_1"),
        call_delta(1, "fc_1", '{"file_path":'),
        call_added(2, "call_bash", "Bash", "fc_2"),
        call_delta(2, "fc_2", '{"command":'),
        (
            "response.output_text.delta",
            {"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": " Then compare."},
        ),
        call_delta(1, "fc_1", '"/tmp/a.txt"}'),
        call_delta(2, "fc_2", '"echo hi"}'),
        *call_done(2, "call_bash", "Bash", "fc_2", '{"command":"echo hi"}'),
        (
            "response.output_item.done",
            {
                "output_index": 0,
                "item": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Reading both. Then compare."}],
                },
            },
        ),
        *call_done(1, "call_read", "Read", "fc_1", '{"file_path":"/tmp/a.txt"}'),
        completed(300, 0, 40),
    ]
)

# Arguments only at done, text only in the finished item: nothing may be lost.
WHOLE_ITEMS_ONLY = numbered(
    [
        *opening(),
        (
            "response.output_item.added",
            {
                "output_index": 0,
                "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []},
            },
        ),
        (
            "response.output_item.done",
            {
                "output_index": 0,
                "item": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Let me look."}],
                },
            },
        ),
        call_added(1, "call_1", "Read", "fc_1"),
        (
            "response.output_item.done",
            {
                "output_index": 1,
                "item": {
                    "id": "fc_1",
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": "Read",
                    "arguments": '{"file_path":"/etc/hosts"}',
                },
            },
        ),
        completed(),
    ]
)

# Items only in response.completed.output (no item events at all).
OUTPUT_ONLY_IN_COMPLETED = numbered(
    [
        *opening(),
        completed(
            output=[
                {
                    "id": "rs_1",
                    "type": "reasoning",
                    "summary": [{"type": "summary_text", "text": "Thought."}],
                    "encrypted_content": ENCRYPTED,
                },
                {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Answer."}],
                },
            ]
        ),
    ]
)


def single_call(name: str, arguments: str = '{"query":"x"}', call_id: str = "call_1") -> Stream:
    """One function call named as Codex saw the tool (tests pass a shortened name)."""
    return numbered(
        [
            *opening(),
            call_added(0, call_id, name, "fc_1"),
            call_delta(0, "fc_1", arguments),
            *call_done(0, call_id, name, "fc_1", arguments),
            completed(),
        ]
    )


CONTEXT_OVERFLOW = numbered(
    [
        *opening(),
        (
            "response.failed",
            {
                "response": response(
                    "failed",
                    error={
                        "code": "context_length_exceeded",
                        "message": "Your input exceeds the context window of this model. Please adjust your input and try again.",
                    },
                )
            },
        ),
    ]
)

USAGE_LIMIT = numbered(
    [
        *opening(),
        (
            "error",
            {
                "error": {
                    "type": "usage_limit_reached",
                    "message": "The usage limit has been reached",
                    "plan_type": "plus",
                    "resets_at": 1777936568,
                    "eligible_promo": None,
                    "resets_in_seconds": 13872,
                },
                "status_code": 429,
            },
        ),
    ]
)

OVERLOADED = numbered(
    [
        *opening(),
        (
            "error",
            {
                "code": "server_is_overloaded",
                "message": "Our servers are currently overloaded.",
                "param": None,
            },
        ),
    ]
)

BAD_REASONING_REPLAY = numbered(
    [
        (
            "response.failed",
            {
                "response": response(
                    "failed",
                    error={
                        "code": "invalid_encrypted_content",
                        "message": "The encrypted content gAAAABoQ1xYz0123456789abcdefRg== could not be verified.",
                    },
                )
            },
        ),
    ]
)

CUT_OFF = numbered([*opening(), *message(0, "Partial")[:3]])

MAX_OUTPUT = numbered(
    [
        *opening(),
        *message(0, "A very long answer"),
        (
            "response.incomplete",
            {
                "response": response(
                    "incomplete",
                    usage=usage(10, 0, 128000),
                    incomplete_details={"reason": "max_output_tokens"},
                )
            },
        ),
    ]
)

REFUSAL = numbered(
    [
        *opening(),
        (
            "response.output_item.added",
            {
                "output_index": 0,
                "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []},
            },
        ),
        (
            "response.refusal.delta",
            {"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "I can't help with that."},
        ),
        (
            "response.output_item.done",
            {
                "output_index": 0,
                "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []},
            },
        ),
        completed(),
    ]
)

WEB_SEARCH_THEN_TEXT = numbered(
    [
        *opening(),
        (
            "response.output_item.added",
            {"output_index": 0, "item": {"id": "ws_1", "type": "web_search_call", "status": "in_progress"}},
        ),
        ("response.web_search_call.searching", {"item_id": "ws_1", "output_index": 0}),
        (
            "response.output_item.done",
            {
                "output_index": 0,
                "item": {
                    "id": "ws_1",
                    "type": "web_search_call",
                    "status": "completed",
                    "action": {"type": "search", "query": "x"},
                },
            },
        ),
        *message(1, "Found it."),
        ("response.some_future_event", {"whatever": True}),
        completed(),
    ]
)
