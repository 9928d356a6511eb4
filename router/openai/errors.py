"""Router errors as OpenAI reports them: a status and `{"error": {"message", "type", "param", "code"}}`.

The statuses mirror `router.anthropic.errors` (the same failure is the same status in both
dialects) except that an overloaded backend is 503, OpenAI's word for it, rather than Anthropic's
own 529. The messages are the Anthropic dialect's (`message_of`): bounded, and a context overflow
says "prompt is too long" either way. A rate limit is always `rate_limit_exceeded`: the router
cannot tell a spent quota from a momentary limit reliably, and `insufficient_quota` tells
OpenAI clients not to retry at all.
"""

from __future__ import annotations

import orjson

from router import errors
from router.anthropic.errors import message_of, retry_headers

_STATUS: tuple[tuple[type[errors.RouterError], int, str, str | None], ...] = (
    (errors.NoRoute, 404, "invalid_request_error", "model_not_found"),
    (errors.NotFound, 404, "invalid_request_error", None),
    (errors.RequestError, 400, "invalid_request_error", None),
    (errors.AuthError, 401, "authentication_error", "invalid_api_key"),
    (errors.PermissionDenied, 403, "permission_error", None),
    (errors.RateLimited, 429, "rate_limit_error", "rate_limit_exceeded"),
    (errors.Overloaded, 503, "server_error", "overloaded"),
    (errors.ContextTooLong, 400, "invalid_request_error", "context_length_exceeded"),
    (errors.ModelUnavailable, 400, "invalid_request_error", "model_not_found"),
    (errors.UpstreamRejected, 400, "invalid_request_error", None),
    (errors.UpstreamTimeout, 504, "server_error", "timeout"),
    (errors.UpstreamUnavailable, 502, "server_error", None),
    (errors.ProviderError, 502, "server_error", None),
)


def status_type_code(exc: BaseException) -> tuple[int, str, str | None]:
    """The HTTP status, OpenAI error type and code for any exception (unknown ones are 500 server_error)."""
    for cls, status, error_type, code in _STATUS:
        if isinstance(exc, cls):
            return status, error_type, code
    return 500, "server_error", None


def error_json(exc: BaseException) -> dict[str, object]:
    """The `error` object; `param` names the request field at fault when the decoder knows it."""
    _, error_type, code = status_type_code(exc)
    param = getattr(exc, "param", None) if isinstance(exc, errors.RequestError) else None
    return {"message": message_of(exc), "type": error_type, "param": param, "code": code}


def error_response_parts(exc: BaseException) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and extra headers (e.g. `retry-after`) for a failure before the first byte."""
    status, _, _ = status_type_code(exc)
    return status, orjson.dumps({"error": error_json(exc)}), retry_headers(exc)


def error_chunk(exc: BaseException) -> bytes:
    """The SSE chunk that ends a stream which already started (OpenAI sends no `[DONE]` after it)."""
    return b"data: " + orjson.dumps({"error": error_json(exc)}) + b"\n\n"
