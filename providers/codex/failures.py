"""Codex failures -> the router's exception tree, from HTTP error replies and from the stream alike.

Codex reports the same failure in several shapes: FastAPI-style `{"detail": ...}`, OpenAI-style
`{"error": {...}}`, an `error` SSE event with the fields at the top or nested, or a
`response.failed` event inside an HTTP 200. All are reduced to one `_Failure` and classified
once, so a context overflow is a `ContextTooLong` however it arrived (which is what makes
Claude Code compact), and a usage limit always carries its reset time and what it limits
(`RateLimited.scope`: the account's plan, or one model that is at capacity).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from router import errors
from router.toolkit.clock import utc_time
from router.toolkit.failures import describe_wait, retry_after, safe_message, too_long_message

PROVIDER = "codex"


class InvalidEncryptedContent(errors.UpstreamRejected):
    """Raised when Codex cannot verify a replayed reasoning item (another account, a server
    incident); the provider retries once with `replay_reasoning=False`."""


_CONTEXT_CODES = frozenset({"context_length_exceeded", "context_too_large"})
_CONTEXT_WORDS = ("context window", "context length", "maximum context", "too many tokens")
_LIMIT_CODES = frozenset(
    {"usage_limit_reached", "rate_limit_exceeded", "rate_limit_error", "insufficient_quota"}
)
_BUSY_CODES = frozenset({"server_is_overloaded", "slow_down", "service_unavailable_error", "server_error"})
_REJECT_CODES = frozenset({"invalid_request_error", "cyber_policy", "invalid_prompt", "unsupported_value"})
_MODEL_WORDS = ("model is not supported", "model_not_found", "does not exist or you do not have access")
_CAPACITY = "at capacity"
_TRY_AGAIN = re.compile(r"try again in (\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Failure:
    """One Codex failure, whatever shape it came in; `code` is the error's code or type."""

    status: int | None
    code: str
    message: str
    fields: Mapping[str, Any]
    headers: Mapping[str, str]
    model: str
    context_window: int | None
    now: float


def error_from_http(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    model: str = "",
    context_window: int | None = None,
    now: float | None = None,
) -> errors.ProviderError:
    """The router error for a non-200 reply from `/responses` (any body shape, even HTML)."""
    try:
        data: Any = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        data = {"message": _non_json(body, status)}
    fields = _fields(data)
    lowered = {key.lower(): value for key, value in headers.items()}
    return _classify(_failure(status, fields, lowered, model, context_window, now))


def error_from_event(
    data: Mapping[str, Any], *, model: str = "", context_window: int | None = None, now: float | None = None
) -> errors.ProviderError:
    """The router error for an `error` or `response.failed` event inside a 200 stream."""
    response = data.get("response")
    if isinstance(response, Mapping) and isinstance(response.get("error"), Mapping):
        fields = dict(response["error"])
    else:
        fields = _fields(data)
    status = fields.get("status_code", fields.get("status"))
    return _classify(
        _failure(status if isinstance(status, int) else None, fields, {}, model, context_window, now)
    )


def _fields(data: Any) -> dict[str, Any]:
    """The error object's fields, from `{"error": {...}}`, `{"detail": ...}` or a flat object."""
    if not isinstance(data, Mapping):
        return {"message": str(data)}
    for key in ("error", "detail"):
        inner = data.get(key)
        if isinstance(inner, Mapping):
            return {**data, **inner}
        if isinstance(inner, str):
            return {**data, "message": inner}
    return dict(data)


def _non_json(body: bytes, status: int) -> str:
    """HTML error pages come from the CDN in front of Codex; a 403 one means the request was blocked."""
    text = body.decode("utf-8", "replace")
    if "<html" not in text.lower():
        return text
    if status == 403:
        return "an HTML page instead of a Codex error: blocked before reaching Codex (check the User-Agent)"
    return "an HTML error page instead of a Codex error"


def _failure(
    status: int | None,
    fields: Mapping[str, Any],
    headers: Mapping[str, str],
    model: str,
    context_window: int | None,
    now: float | None,
) -> _Failure:
    code = str(fields.get("code") or "")
    kind = str(fields.get("type") or "")
    if not code or kind in _LIMIT_CODES or kind in _BUSY_CODES:
        code = kind or code
    message = safe_message(str(fields.get("message") or ""))
    clock = time.time() if now is None else now
    return _Failure(status, code, message, fields, headers, model, context_window, clock)


# -- classification ----------------------------------------------------------------------------


def _classify(failure: _Failure) -> errors.ProviderError:
    """Most specific first: what the body says outranks the status code."""
    code, text, status = failure.code, failure.message.lower(), failure.status
    if code == "invalid_encrypted_content":
        return InvalidEncryptedContent(
            _said("Codex could not verify a replayed reasoning item", failure), **_origin(failure)
        )
    if code in _CONTEXT_CODES or status == 413 or any(word in text for word in _CONTEXT_WORDS):
        return errors.ContextTooLong(_context_message(failure), **_origin(failure))
    if code == "usage_not_included":
        return errors.PermissionDenied(
            _said("this ChatGPT plan does not include Codex", failure), **_origin(failure)
        )
    if _CAPACITY in text:
        return _at_capacity(failure)
    if code in _LIMIT_CODES or "usage limit" in text or status == 429:
        return _rate_limited(failure)
    if code in _BUSY_CODES or status in (503, 529):
        return errors.Overloaded(_said("Codex is overloaded", failure), **_origin(failure))
    if any(word in text for word in _MODEL_WORDS) or code == "model_not_found":
        return errors.ModelUnavailable(_model_message(failure), **_origin(failure))
    return _by_status(failure)


def _by_status(failure: _Failure) -> errors.ProviderError:
    status, origin = failure.status, _origin(failure)
    if status == 401:
        hint = "log in again (`codex login`) so the router can read fresh tokens"
        return errors.AuthError(f"Codex refused the ChatGPT credentials (HTTP 401); {hint}", **origin)
    if status == 403:
        return errors.PermissionDenied(_said("Codex denied access (HTTP 403)", failure), **origin)
    if status in (408, 504):
        return errors.UpstreamTimeout(_said(f"Codex timed out (HTTP {status})", failure), **origin)
    if status is not None and 400 <= status < 500:
        return errors.UpstreamRejected(_said(f"Codex rejected the request (HTTP {status})", failure), **origin)
    if status is None and failure.code in _REJECT_CODES:
        return errors.UpstreamRejected(_said("Codex rejected the request", failure), **origin)
    where = f"HTTP {status}" if status is not None else "during the reply"
    return errors.UpstreamUnavailable(_said(f"Codex failed ({where})", failure), **origin)


def _origin(failure: _Failure) -> dict[str, Any]:
    return {"provider": PROVIDER, "status": failure.status}


def _said(summary: str, failure: _Failure) -> str:
    return f"{summary}: {failure.message}" if failure.message else summary


def _context_message(failure: _Failure) -> str:
    said = failure.message or failure.code
    return too_long_message("Codex", said, model=failure.model, context_window=failure.context_window)


def _model_message(failure: _Failure) -> str:
    model = f"'{failure.model}'" if failure.model else "this model"
    return f"Codex does not serve {model} for this ChatGPT account: {failure.message}"


# -- rate limits ------------------------------------------------------------------------------------


def _rate_limited(failure: _Failure) -> errors.RateLimited:
    """A usage or rate limit, with when it resets: body first, then headers, then the message.

    Both are the account's: the plan's usage windows, and a rate limit Codex keeps per
    account, so every model of the account waits (scope "account").
    """
    wait = _wait(failure)
    plan = failure.fields.get("plan_type")
    rate = failure.code in ("rate_limit_exceeded", "rate_limit_error")
    what = "Codex rate limit reached" if rate else "Codex usage limit reached"
    text = f"{what} ({plan} plan)" if isinstance(plan, str) and plan else what
    if wait is not None:
        text += f"; it resets in {describe_wait(wait)}"
        resets_at = failure.fields.get("resets_at")
        if isinstance(resets_at, (int, float)):
            text += f" (at {utc_time(resets_at)})"
    elif failure.message:
        text += f": {failure.message}"
    return errors.RateLimited(text, retry_after=wait, scope="account", **_origin(failure))


def _at_capacity(failure: _Failure) -> errors.RateLimited:
    """A model "at capacity" limits that model only: the account's other models stay usable."""
    model = f"'{failure.model}'" if failure.model else "the model"
    wait = retry_after(failure.headers, failure.now)
    return errors.RateLimited(
        _said(f"Codex model {model} is at capacity", failure), retry_after=wait, scope="model", **_origin(failure)
    )


def _wait(failure: _Failure) -> float | None:
    """`resets_at` (when still ahead: a past one means a skewed clock), then `resets_in_seconds`,
    then the headers, then the message's "try again in"."""
    fields = failure.fields
    resets_at = fields.get("resets_at")
    until: float | None = None
    if isinstance(resets_at, (int, float)) and not isinstance(resets_at, bool):
        until = float(resets_at) - failure.now
        if until > 0:
            return until
    seconds = fields.get("resets_in_seconds")
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool):
        return max(0.0, float(seconds))
    if until is not None:
        return 0.0
    header = retry_after(failure.headers, failure.now)
    if header is not None:
        return header
    match = _TRY_AGAIN.search(failure.message)
    if match is not None:
        value = float(match.group(1))
        return value / 1000 if match.group(2).lower() == "ms" else value
    return None
