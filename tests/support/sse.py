"""Parse Anthropic SSE text and check Anthropic's event-order invariants on it."""

from __future__ import annotations

import json
from typing import Any

DELTA_FOR_BLOCK = {
    "text": {"text_delta"},
    "thinking": {"thinking_delta", "signature_delta"},
    "tool_use": {"input_json_delta"},
    "server_tool_use": {"input_json_delta"},
    "redacted_thinking": set(),
}


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) pairs; every event must carry both lines and matching types."""
    events = []
    for chunk in text.split("\n\n"):
        if not chunk.strip():
            continue
        lines = dict(line.split(": ", 1) for line in chunk.strip().split("\n"))
        name, data = lines["event"], json.loads(lines["data"])
        assert data["type"] == name, (name, data)
        events.append((name, data))
    return events


def check_order(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Assert the stream is exactly what Anthropic would send (pings allowed anywhere after the start).

    message_start; then blocks numbered 0.. each start/deltas of its kind/stop, a thinking
    block always with a non-empty signature_delta before its stop; then one message_delta
    and message_stop. An `error` event may end the stream at any point.
    """
    names = [name for name, _ in events if name != "ping"]
    assert names and names[0] == "message_start", names
    body = [(n, d) for n, d in events if n != "ping"]
    if names[-1] == "error":
        body = body[:-1]
    else:
        assert names[-2:] == ["message_delta", "message_stop"], names
        body = body[:-2]
    expected_index, open_kind, signed = 0, None, False
    for name, data in body[1:]:
        if name == "content_block_start":
            assert open_kind is None, f"block {expected_index} started while another is open"
            assert data["index"] == expected_index, data
            open_kind, signed = data["content_block"]["type"], False
        elif name == "content_block_delta":
            assert open_kind is not None and data["index"] == expected_index, data
            assert data["delta"]["type"] in DELTA_FOR_BLOCK[open_kind], (open_kind, data)
            signed = signed or bool(data["delta"].get("signature"))
        elif name == "content_block_stop":
            assert open_kind is not None and data["index"] == expected_index, data
            assert open_kind != "thinking" or signed, f"thinking block {expected_index} closed without a signature"
            open_kind, expected_index = None, expected_index + 1
        else:
            raise AssertionError(f"unexpected {name} inside the message: {names}")
    if names[-1] != "error":
        assert open_kind is None, "message ended with a block open"


def checked(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Parse and check in one go."""
    events = parse_sse(text)
    check_order(events)
    return events
