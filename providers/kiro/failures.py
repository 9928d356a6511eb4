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
  overage limit), scoped to the account; a monthly limit (and a bare 402: the monthly credits)
  waits until the next month begins (UTC) unless Kiro says when. `INSUFFICIENT_MODEL_CAPACITY`
  is a `RateLimited` scoped to the model: the account's other models stay usable;
  `MODEL_TEMPORARILY_UNAVAILABLE` is `Overloaded`;
- `AccessDeniedException` (403) is `PermissionDenied`, unless it is about the token (`AuthError`);
- `ValidationException` (400) is `UpstreamRejected`; `INVALID_MODEL_ID` is `ModelUnavailable`,
  which falls back to the next route;
- 5xx are `UpstreamUnavailable`/`Overloaded`, 408/504 `UpstreamTimeout`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from router import errors
from router.toolkit.failures import describe_wait, retry_after, safe_message, too_long_message

PROVIDER = "kiro"
SIGN_IN_AGAIN = "Sign in to Kiro again (open the Kiro IDE and log in) so the router can read fresh tokens."


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
_MONTHLY = frozenset({"MONTHLY_REQUEST_COUNT", "OVERAGE_REQUEST_LIMIT_EXCEEDED"})
_TOKEN_WORDS = ("token", "expired", "credential", "bearer", "unauthorized")


@dataclass(frozen=True, slots=True)
class _Failure:
    """One Kiro failure, whatever shape it came in."""

    status: int | None
    kind: str
    reason: str
    message: str
    model: str
    large: bool
    wait: float | None
    now: float


def error_from_http(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    model: str = "",
    large_request: bool = False,
    now: float | None = None,
) -> errors.ProviderError:
    """The router error for a non-200 reply; `large_request` reads a bare 400 as an overflow,
    `now` (epoch seconds) dates a `Retry-After` given as an HTTP date."""
    fields = _json_fields(body)
    lowered = {key.lower(): value for key, value in headers.items()}
    clock = time.time() if now is None else now
    wait = retry_after(lowered, clock)
    return _classify(_failure(status, _kind(fields, lowered), fields, model, large_request, wait, clock))


def error_from_exception(
    kind: str, payload: Mapping[str, Any], *, model: str = "", large_request: bool = False, now: float | None = None
) -> errors.ProviderError:
    """The router error for an exception or error frame inside a 200 stream (`kind` is its type)."""
    name = kind.rsplit("#", 1)[-1]
    clock = time.time() if now is None else now
    return _classify(_failure(EXCEPTION_STATUS.get(name), name, payload, model, large_request, None, clock))


def seconds_until_next_month(now: float) -> float:
    """Seconds from `now` (epoch) to the start of the next calendar month in UTC, when Kiro's
    monthly credits start afresh (AIC waits for the 1st the same way; sheet A7)."""
    today = datetime.fromtimestamp(now, UTC)
    year, month = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    return datetime(year, month, 1, tzinfo=UTC).timestamp() - now


def refreshable_403(body: bytes) -> bool:
    """Whether a 403 may be an expired token worth one refresh, rather than an account problem.

    AIC's rule: a body about suspension, terms, quota or access to a resource is final.
    """
    text = body.decode("utf-8", "replace").lower()
    return not any(word in text for word in _ACCOUNT_WORDS)


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
    model: str,
    large: bool,
    wait: float | None,
    now: float,
) -> _Failure:
    message = safe_message(str(fields.get("message") or fields.get("Message") or ""))
    reason = str(fields.get("reason") or "").upper()
    return _Failure(status, kind, reason, message, model, large, wait, now)


# -- classification ---------------------------------------------------------------------------------


def _classify(failure: _Failure) -> errors.ProviderError:
    """Most specific first: reason and message outrank the exception name, which outranks the status."""
    text, kind, status = failure.message.lower(), failure.kind, failure.status
    if failure.reason in _CONTEXT_REASONS or any(word in text for word in _CONTEXT_WORDS):
        return errors.ContextTooLong(_context_message(failure), **_origin(failure))
    if failure.large and _IMPROPER in text and (status in (None, 400)):
        return errors.ContextTooLong(_context_message(failure), **_origin(failure))
    if failure.reason == "INSUFFICIENT_MODEL_CAPACITY":
        return errors.RateLimited(
            _said(f"Kiro has no capacity for {_model(failure)} right now", failure),
            retry_after=failure.wait, scope="model", **_origin(failure),
        )
    if failure.reason == "MODEL_TEMPORARILY_UNAVAILABLE":
        return errors.Overloaded(
            _said(f"Kiro has no capacity for {_model(failure)} right now", failure), **_origin(failure)
        )
    if kind in ("ThrottlingException", "ServiceQuotaExceededException") or status in (402, 429):
        return _rate_limited(failure)
    if kind == "AccessDeniedException" or status == 403:
        return _forbidden(failure)
    if status == 401 or kind in ("UnauthorizedException", "ExpiredTokenException"):
        return errors.AuthError(
            _said("Kiro refused the access token", failure) + f". {SIGN_IN_AGAIN}", **_origin(failure)
        )
    if failure.reason == "INVALID_MODEL_ID" or kind == "ResourceNotFoundException" or status == 404:
        return errors.ModelUnavailable(
            _said(f"Kiro does not serve {_model(failure)} for this account", failure), **_origin(failure)
        )
    return _by_status(failure)


def _by_status(failure: _Failure) -> errors.ProviderError:
    kind, status, origin = failure.kind, failure.status, _origin(failure)
    if kind == "ValidationException" or status == 400:
        return errors.UpstreamRejected(_rejected(failure), **origin)
    if kind == "ServiceUnavailableException" or status in (503, 529):
        return errors.Overloaded(_said("Kiro is unavailable right now", failure), **origin)
    if status in (408, 504):
        return errors.UpstreamTimeout(_said(f"Kiro timed out (HTTP {status})", failure), **origin)
    if status is not None and 400 <= status < 500 and status != 409:
        return errors.UpstreamRejected(_said(f"Kiro rejected the request (HTTP {status})", failure), **origin)
    where = f"HTTP {status}" if status is not None else "during the reply"
    name = f" ({kind})" if kind else ""
    return errors.UpstreamUnavailable(_said(f"Kiro failed{name}, {where}", failure), **origin)


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
    said = failure.message or failure.reason or "the request is too large"
    return too_long_message("Kiro", said, model=failure.model)


def _rejected(failure: _Failure) -> str:
    summary = "Kiro rejected the request as invalid"
    if _IMPROPER in failure.message.lower() and not failure.reason:
        summary += " (its validator gives no reason; the request log shows what was sent)"
    return _said(summary, failure)


def _forbidden(failure: _Failure) -> errors.ProviderError:
    text = failure.message.lower()
    if any(word in text for word in _TOKEN_WORDS) and not any(word in text for word in _ACCOUNT_WORDS):
        return errors.AuthError(
            _said("Kiro refused the access token", failure) + f". {SIGN_IN_AGAIN}", **_origin(failure)
        )
    return errors.PermissionDenied(_said("Kiro denied access for this account", failure), **_origin(failure))


def _rate_limited(failure: _Failure) -> errors.RateLimited:
    """A usage or rate limit of the account, named after its reason; a bare throttle may be the
    monthly credits (the usage check the provider then runs tells)."""
    limit = _LIMITS.get(failure.reason)
    quota = failure.kind == "ServiceQuotaExceededException" or failure.status == 402
    if limit is not None:
        summary = f"Kiro {limit} reached ({failure.reason})"
    elif quota:
        summary = "Kiro usage limit reached (the plan's monthly credits are used up)"
    else:
        summary = (
            "Kiro is throttling requests (if this persists, the plan's monthly credits may be used up; "
            "check usage in the Kiro IDE)"
        )
    wait = failure.wait
    if wait is None and (failure.reason in _MONTHLY or (quota and limit is None)):
        wait = seconds_until_next_month(failure.now)
        summary += f"; it starts afresh with the next month (UTC), in {describe_wait(wait)}"
    text = f"{summary}: {failure.message}" if failure.message else summary
    return errors.RateLimited(text, retry_after=wait, scope="account", **_origin(failure))
