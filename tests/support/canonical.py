"""Building canonical requests in tests: strings become text blocks, other blocks pass through."""

from __future__ import annotations

from typing import Any

from router.conversation import Message, Request, TextBlock


def user(*blocks: Any) -> Message:
    """A user turn."""
    return Message("user", tuple(TextBlock(b) if isinstance(b, str) else b for b in blocks))


def assistant(*blocks: Any) -> Message:
    """An assistant turn."""
    return Message("assistant", tuple(TextBlock(b) if isinstance(b, str) else b for b in blocks))


def canonical_request(model: str, *messages: Message, **fields: Any) -> Request:
    """A request for `model` (one "hi" user turn by default; max_tokens 1000 unless given)."""
    fields.setdefault("max_tokens", 1000)
    return Request(model=model, messages=messages or (user("hi"),), **fields)
