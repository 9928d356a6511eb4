"""Router errors as Anthropic reports them: one status, one error type, one JSON body.

This is the only place where an exception becomes something a client sees.
"""

from __future__ import annotations

import math

import orjson

from router import errors
from router.toolkit.failures import CONTEXT_TOO_LONG

_STATUS: tuple[tuple[type[errors.RouterError], int, str], ...] = (
    (errors.NotFound, 404, "not_found_error"),
    (errors.RequestError, 400, "invalid_request_error"),
    (errors.AuthError, 401, "authentication_error"),
    (errors.PermissionDenied, 403, "permission_error"),
    (errors.RateLimited, 429, "rate_limit_error"),
    (errors.Overloaded, 529, "overloaded_error"),
    (errors.ContextTooLong, 400, "invalid_request_error"),
    (errors.UpstreamRejected, 400, "invalid_request_error"),
    (errors.UpstreamTimeout, 504, "timeout_error"),
    (errors.UpstreamUnavailable, 502, "api_error"),
    (errors.ProviderError, 502, "api_error"),
)


def status_and_type(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and Anthropic error type for any exception (unknown ones are 500 api_error)."""
    for cls, status, error_type in _STATUS:
        if isinstance(exc, cls):
            return status, error_type
    return 500, "api_error"


MAX_MESSAGE = 1000
"""The longest error message a client reads. Messages quote what the client sent (a model name) or
what an upstream said; a longer one keeps its start and its end, which say what went wrong and
what to do, and not the megabyte in between."""


def message_of(exc: BaseException) -> str:
    """What the client may read: router errors say what happened, anything else says nothing internal."""
    if isinstance(exc, errors.ContextTooLong):
        text = exc.message
        return _bounded(text if text.lower().startswith(CONTEXT_TOO_LONG) else f"{CONTEXT_TOO_LONG}: {text}")
    if isinstance(exc, errors.RouterError):
        return _bounded(exc.message)
    return "internal router error; the router's log has the details"


def _bounded(text: str) -> str:
    if len(text) <= MAX_MESSAGE:
        return text
    head, tail = MAX_MESSAGE * 6 // 10, MAX_MESSAGE * 3 // 10
    return f"{text[:head]} [... {len(text) - head - tail} characters cut ...] {text[-tail:]}"


def error_body(error_type: str, message: str) -> bytes:
    """The JSON body Anthropic sends for an error."""
    return orjson.dumps({"type": "error", "error": {"type": error_type, "message": message}})


def error_response_parts(exc: BaseException) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and extra headers (e.g. `retry-after`) for a failure before the first byte."""
    status, error_type = status_and_type(exc)
    return status, error_body(error_type, message_of(exc)), retry_headers(exc)


def retry_headers(exc: BaseException) -> dict[str, str]:
    """`retry-after` (whole seconds, rounded up) for a rate limit that says when it lifts; else none."""
    if isinstance(exc, errors.RateLimited) and exc.retry_after is not None:
        return {"retry-after": str(max(0, math.ceil(exc.retry_after)))}
    return {}


def error_event(exc: BaseException) -> bytes:
    """The SSE `error` event that ends a stream which already started."""
    _, error_type = status_and_type(exc)
    return b"event: error\ndata: " + error_body(error_type, message_of(exc)) + b"\n\n"
