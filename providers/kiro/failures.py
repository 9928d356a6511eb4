"""Kiro failures -> the router's exception tree, from HTTP error replies and stream exception frames alike.

Kiro reports a failure either as a non-200 JSON reply (`{"message", "reason", "__type"?}`,
the exception name also in `x-amzn-errortype`) or, mid-stream, as an event-stream frame
with `:message-type` exception (`:exception-type` header, JSON `{"message", "reason"?}`).
Both are reduced to one `_Failure` and classified once (protocol sheet A7):

- "Input is too long" / `CONTENT_LENGTH_EXCEEDS_THRESHOLD` / `PROMPT_TOO_LONG`, and a bare
  "Improperly formed request" for a request the shell marks as large (Opus 4.6 reports an
  overflow that way), become `ContextTooLong` worded as Anthropic's "prompt is too long";
- `ThrottlingException` (429) and `ServiceQuotaExceededException` (402) become `RateLimited`
  naming the limit from the reason (daily or monthly request count, conversation limit,
  overage limit); `INSUFFICIENT_MODEL_CAPACITY` is `Overloaded` instead;
- `AccessDeniedException` (403) is `PermissionDenied`, unless it is about the token (`AuthError`);
- `ValidationException` (400) is `UpstreamRejected`; `INVALID_MODEL_ID` is `ModelNotSupported`,
  which falls back to the next route;
- 5xx are `UpstreamUnavailable`/`Overloaded`, 408/504 `UpstreamTimeout`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from router.errors import (
    AuthError,
    ContextTooLong,
    Overloaded,
    PermissionDenied,
    ProviderError,
    RateLimited,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)

PROVIDER = "kiro"
SIGN_IN_AGAIN = "Sign in to Kiro again (open the Kiro IDE and log in) so the router can read fresh tokens."


class ModelNotSupported(UpstreamRejected):
    """Raised when Kiro does not know the model or the account may not use it: another route
    may serve the request, so unlike other rejections it falls back."""

    fallback = True


EXCEPTION_STATUS = {
    "ValidationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ConflictException": 409,
    "ServiceQuotaExceededException": 402,
    "ThrottlingException": 429,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
}
"""HTTP status of each modelled exception (SDK error traits), for frames that carry none."""

_CONTEXT_REASONS = frozenset({"CONTENT_LENGTH_EXCEEDS_THRESHOLD", "PROMPT_TOO_LONG"})
_CONTEXT_WORDS = ("input is too long", "prompt is too long", "context length", "too many tokens")
_IMPROPER = "improperly formed request"
_LIMITS = {
    "DAILY_REQUEST_COUNT": "daily request limit",
    "MONTHLY_REQUEST_COUNT": "monthly request limit",
    "CONVERSATION_LIMIT_EXCEEDED": "conversation limit",
    "OVERAGE_REQUEST_LIMIT_EXCEEDED": "overage request limit",
}
_ACCOUNT_WORDS = (
    "suspended",
    "violation",
    "terms of service",
    "quota",
    "not authorized to access",
    "feature_not_supported",
    "unauthorized_customization",
)
_TOKEN_WORDS = ("token", "expired", "credential", "bearer", "unauthorized")
_BEARER = re.compile(
    r"(Bearer\s+)\S+|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_.-]+|aoa[A-Za-z0-9_-]{20,}", re.IGNORECASE
)
_MAX_MESSAGE = 300


@dataclass(frozen=True, slots=True)
class _Failure:
    """One Kiro failure, whatever shape it came in."""

    status: int | None
    kind: str
    reason: str
    message: str
    headers: Mapping[str, str]
    model: str
    large: bool


def error_from_http(
    status: int, body: bytes, headers: Mapping[str, str], *, model: str = "", large_request: bool = False
) -> ProviderError:
    """The router error for a non-200 reply; `large_request` reads a bare 400 as an overflow."""
    fields = _json_fields(body)
    lowered = {key.lower(): value for key, value in headers.items()}
    kind = _kind(fields, lowered)
    return _classify(_failure(status, kind, fields, lowered, model, large_request))


def error_from_exception(
    kind: str, payload: Mapping[str, Any], *, model: str = "", large_request: bool = False
) -> ProviderError:
    """The router error for an exception or error frame inside a 200 stream (`kind` is its type)."""
    name = kind.rsplit("#", 1)[-1]
    return _classify(_failure(EXCEPTION_STATUS.get(name), name, payload, {}, model, large_request))


def refreshable_403(body: bytes) -> bool:
    """Whether a 403 may be an expired token worth one refresh, rather than an account problem.

    AIC's rule: a body about suspension, terms, quota or access to a resource is final.
    """
    text = body.decode("utf-8", "replace").lower()
    return not any(word in text for word in _ACCOUNT_WORDS)


def safe_message(text: str) -> str:
    """A backend message fit for logs and clients: one line, short, no tokens."""
    text = _BEARER.sub(lambda m: f"{m.group(1)}…" if m.group(1) else "…", " ".join(text.split()))
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def _json_fields(body: bytes) -> Mapping[str, Any]:
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        return {"message": body.decode("utf-8", "replace")}
    return data if isinstance(data, Mapping) else {"message": str(data)}


def _kind(fields: Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """The exception name: `__type` (`…#ThrottlingException`) or `x-amzn-errortype` (`Name:uri`)."""
    raw = fields.get("__type") or headers.get("x-amzn-errortype") or ""
    return str(raw).split(":", 1)[0].rsplit("#", 1)[-1]


def _failure(
    status: int | None,
    kind: str,
    fields: Mapping[str, Any],
    headers: Mapping[str, str],
    model: str,
    large: bool,
) -> _Failure:
    message = fields.get("message") or fields.get("Message") or ""
    reason = fields.get("reason") or ""
    return _Failure(status, kind, str(reason).upper(), safe_message(str(message)), headers, model, large)


# -- classification ---------------------------------------------------------------------------------


def _classify(failure: _Failure) -> ProviderError:
    """Most specific first: reason and message outrank the exception name, which outranks the status."""
    text, kind, status = failure.message.lower(), failure.kind, failure.status
    if failure.reason in _CONTEXT_REASONS or any(word in text for word in _CONTEXT_WORDS):
        return ContextTooLong(_context_message(failure), **_origin(failure))
    if failure.large and _IMPROPER in text and (status in (None, 400)):
        return ContextTooLong(_context_message(failure), **_origin(failure))
    if failure.reason in ("INSUFFICIENT_MODEL_CAPACITY", "MODEL_TEMPORARILY_UNAVAILABLE"):
        return Overloaded(
            _said(f"Kiro has no capacity for {_model(failure)} right now", failure), **_origin(failure)
        )
    if kind in ("ThrottlingException", "ServiceQuotaExceededException") or status in (402, 429):
        return _rate_limited(failure)
    if kind == "AccessDeniedException" or status == 403:
        return _forbidden(failure)
    if status == 401 or kind in ("UnauthorizedException", "ExpiredTokenException"):
        return AuthError(
            _said("Kiro refused the access token", failure) + f". {SIGN_IN_AGAIN}", **_origin(failure)
        )
    if failure.reason == "INVALID_MODEL_ID" or kind == "ResourceNotFoundException" or status == 404:
        return ModelNotSupported(
            _said(f"Kiro does not serve {_model(failure)} for this account", failure), **_origin(failure)
        )
    return _by_status(failure)


def _by_status(failure: _Failure) -> ProviderError:
    kind, status, origin = failure.kind, failure.status, _origin(failure)
    if kind == "ValidationException" or status == 400:
        return UpstreamRejected(_rejected(failure), **origin)
    if kind == "ServiceUnavailableException" or status in (503, 529):
        return Overloaded(_said("Kiro is unavailable right now", failure), **origin)
    if status in (408, 504):
        return UpstreamTimeout(_said(f"Kiro timed out (HTTP {status})", failure), **origin)
    if status is not None and 400 <= status < 500 and status != 409:
        return UpstreamRejected(_said(f"Kiro rejected the request (HTTP {status})", failure), **origin)
    where = f"HTTP {status}" if status is not None else "during the reply"
    name = f" ({kind})" if kind else ""
    return UpstreamUnavailable(_said(f"Kiro failed{name}, {where}", failure), **origin)


def _origin(failure: _Failure) -> dict[str, Any]:
    return {"provider": PROVIDER, "status": failure.status}


def _model(failure: _Failure) -> str:
    return f"model '{failure.model}'" if failure.model else "this model"


def _said(summary: str, failure: _Failure) -> str:
    detail = failure.message
    if failure.reason and failure.reason not in detail:
        detail = f"{detail} ({failure.reason})" if detail else failure.reason
    return f"{summary}: {detail}" if detail else summary


def _context_message(failure: _Failure) -> str:
    """Anthropic's wording ("prompt is too long") so that Claude Code compacts."""
    said = failure.message or failure.reason or "the request is too large"
    return (
        f"prompt is too long: the conversation exceeds what Kiro accepts for {_model(failure)} (Kiro: {said})"
    )


def _rejected(failure: _Failure) -> str:
    summary = "Kiro rejected the request as invalid"
    if _IMPROPER in failure.message.lower() and not failure.reason:
        summary += " (its validator gives no reason; the request log shows what was sent)"
    return _said(summary, failure)


def _forbidden(failure: _Failure) -> ProviderError:
    text = failure.message.lower()
    if any(word in text for word in _TOKEN_WORDS) and not any(word in text for word in _ACCOUNT_WORDS):
        return AuthError(
            _said("Kiro refused the access token", failure) + f". {SIGN_IN_AGAIN}", **_origin(failure)
        )
    return PermissionDenied(_said("Kiro denied access for this account", failure), **_origin(failure))


def _rate_limited(failure: _Failure) -> RateLimited:
    """A usage or rate limit, named after its reason; a bare throttle may be the monthly credits."""
    limit = _LIMITS.get(failure.reason)
    if limit is not None:
        summary = f"Kiro {limit} reached ({failure.reason})"
    elif failure.kind == "ServiceQuotaExceededException" or failure.status == 402:
        summary = "Kiro usage limit reached (the plan's monthly credits are used up)"
    else:
        summary = (
            "Kiro is throttling requests (if this persists, the plan's monthly credits may be used up; "
            "check usage in the Kiro IDE)"
        )
    text = f"{summary}: {failure.message}" if failure.message else summary
    return RateLimited(text, retry_after=_retry_after(failure.headers), **_origin(failure))


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
