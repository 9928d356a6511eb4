"""Reading a backend's failure: what every provider's `failures.py` needs besides its own codes.

A provider classifies its backend's errors itself (the codes and words differ per backend),
but the pieces around the classification are the same everywhere: the backend's message
must be made safe before a client or a log sees it, a rate limit's wait is read from the
same headers, a context overflow must be worded the way Claude Code recognises, and a wait
is told in the same words.
"""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Mapping
from datetime import UTC

MAX_MESSAGE = 300
"""The longest backend message passed on, in characters (an ellipsis ends a shortened one)."""

_SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(Bearer\s+)\S+", re.IGNORECASE), r"\1…"),
    (re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_.-]+"), "…"),  # a JWT
    (re.compile(r"gAAAA[A-Za-z0-9_=-]{12,}"), "gAAAA…"),  # an encrypted reasoning blob (Codex)
    (re.compile(r"sk-or-[A-Za-z0-9_-]+"), "sk-or-…"),  # an OpenRouter key
    (re.compile(r"ao[ar][A-Za-z0-9_-]{20,}"), "…"),  # a Kiro (AWS) access or refresh token
)
"""What may never leave the router: credentials, and opaque blobs that only bloat a message."""

CONTEXT_TOO_LONG = "prompt is too long"
"""How Anthropic's context overflow error starts; Claude Code compacts when it reads it."""


def safe_message(text: str) -> str:
    """A backend message fit for logs and clients: one line, at most `MAX_MESSAGE` characters,
    with bearer tokens, JWTs, API keys and encrypted blobs cut out."""
    text = " ".join(text.split())
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds to wait, from `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP
    date, measured from `now`, epoch seconds); None when neither is there or readable.

    Header names match in any case; a wait is never negative.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    milliseconds = _number(lowered.get("retry-after-ms"))
    if milliseconds is not None:
        return max(0.0, milliseconds / 1000)
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC with no claim about the sender's zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def too_long_message(backend: str, said: str, *, model: str = "", context_window: int | None = None) -> str:
    """A context overflow in Anthropic's words, so that Claude Code compacts: "prompt is too long: …",
    naming the model and its window when known, and what `backend` itself `said`."""
    whose = f"{model}'s" if model else "the model's"
    limit = f" of {context_window:,} tokens" if context_window else ""
    return f"{CONTEXT_TOO_LONG}: the conversation exceeds {whose} context window{limit} ({backend}: {said})"


def describe_wait(seconds: float) -> str:
    """A wait as people say it: `45 s`, `12 min`, `3 h 51 min`, `2 d 4 h`."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, hours, days = whole // 60 % 60, whole // 3600 % 24, whole // 86400
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"
