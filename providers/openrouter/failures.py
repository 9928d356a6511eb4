"""OpenRouter failures -> the router's exception tree, from HTTP error replies and from the stream alike.

OpenRouter reports a failure as `{"error": {"code", "message", "metadata"}}`: with that status
on the HTTP reply when the request fails before streaming, or inside a 200 stream as an SSE
`data:` event once generation started. The Anthropic-compatible endpoint may answer in
Anthropic's shape instead (`{"type": "error", "error": {"type", "message"}}`). All are reduced
to one `_Failure` and classified once, so a context overflow is a `ContextTooLong` however it
arrived (which is what makes Claude Code compact).

The provider's own message is kept (it says which upstream failed and why), but shortened to
one line and scrubbed of anything shaped like a key or token (`router.toolkit.failures`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from router import errors
from router.toolkit.failures import retry_after, safe_message, too_long_message

PROVIDER = "openrouter"


class ReasoningMandatory(errors.UpstreamRejected):
    """Raised when a request turned reasoning off for a model that always reasons; the provider
    resends it once without the `reasoning` field and remembers the model."""


_CONTEXT_WORDS = (
    "context length",
    "context_length",
    "context window",
    "maximum context",
    "too many tokens",
    "prompt is too long",
    "input is too long",
    "exceeds the context",
)
_MANDATORY = "reasoning is mandatory"
_ANTHROPIC_TYPES: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 502,
    "overloaded_error": 529,
    "timeout_error": 504,
}


@dataclass(frozen=True, slots=True)
class _Failure:
    """One OpenRouter failure, whatever shape it came in."""

    status: int | None
    message: str
    metadata: Mapping[str, Any]
    headers: Mapping[str, str]
    model: str
    now: float

    @property
    def text(self) -> str:
        """The message and the upstream's raw error, lowercased, for matching."""
        raw = self.metadata.get("raw")
        return f"{self.message} {raw if isinstance(raw, str) else ''}".lower()


def error_from_http(
    status: int, body: bytes, headers: Mapping[str, str], *, model: str = "", now: float | None = None
) -> errors.ProviderError:
    """The router error for a non-200 reply (any body shape, even an HTML page)."""
    try:
        data: Any = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        data = {"message": "an error page instead of an OpenRouter error" if b"<html" in body.lower()
                else body.decode("utf-8", "replace")}
    error = data.get("error") if isinstance(data, Mapping) else None
    fields = error if isinstance(error, Mapping) else data if isinstance(data, Mapping) else {}
    lowered = {key.lower(): value for key, value in headers.items()}
    return _classify(_failure(status, fields, lowered, model, now))


def error_from_stream(error: Mapping[str, Any], *, model: str = "", now: float | None = None) -> errors.ProviderError:
    """The router error for an error object that arrived inside a 200 stream.

    A numeric `code` is the HTTP status the failure would have had; an Anthropic-style `type`
    is mapped to its status the same way.
    """
    code = error.get("code")
    status = code if isinstance(code, int) and not isinstance(code, bool) else None
    kind = error.get("type")
    if status is None and isinstance(kind, str):
        status = _ANTHROPIC_TYPES.get(kind)
    failure = _failure(status, error, {}, model, now)
    if status is None:
        return _classify_text(failure) or errors.UpstreamUnavailable(
            _said("OpenRouter failed during the reply", failure), **_origin(failure)
        )
    return _classify(failure)


def _failure(
    status: int | None, fields: Mapping[str, Any], headers: Mapping[str, str], model: str, now: float | None
) -> _Failure:
    metadata = fields.get("metadata")
    return _Failure(
        status,
        safe_message(str(fields.get("message") or "")),
        metadata if isinstance(metadata, Mapping) else {},
        headers,
        model,
        time.time() if now is None else now,
    )


# -- classification ------------------------------------------------------------------------------


def _classify(failure: _Failure) -> errors.ProviderError:
    """What the message says outranks the status: a context overflow may come as any 4xx."""
    return _classify_text(failure) or _by_status(failure)


def _classify_text(failure: _Failure) -> errors.ProviderError | None:
    text = failure.text
    if _MANDATORY in text:
        return ReasoningMandatory(_said("the model cannot turn reasoning off", failure), **_origin(failure))
    if failure.status == 413 or any(word in text for word in _CONTEXT_WORDS):
        return errors.ContextTooLong(_context_message(failure), **_origin(failure))
    return None


def _by_status(failure: _Failure) -> errors.ProviderError:
    status, origin = failure.status, _origin(failure)
    if status == 401:
        return errors.AuthError(
            "OpenRouter refused the API key (HTTP 401); check providers.openrouter.api_key", **origin
        )
    if status == 402:  # the account's balance: every model of it waits until credits are added
        text = "OpenRouter credits exhausted: add credits in your OpenRouter account settings"
        return errors.RateLimited(_said(text, failure), scope="account", **origin)
    if status == 403:
        text = _said("OpenRouter refused the request (HTTP 403)", failure) + _moderation(failure)
        return errors.PermissionDenied(text, **origin)
    if status == 404:
        what = f"model '{failure.model}'" if failure.model else "the model"
        return errors.ModelUnavailable(_said(f"OpenRouter cannot serve {what} (HTTP 404)", failure), **origin)
    if status == 429:  # limited per model (and its upstream), not per key: other models stay usable
        wait = retry_after(failure.headers, failure.now)
        what = f"model '{failure.model}'" if failure.model else "the model"
        text = _said(f"OpenRouter rate limit reached for {what} (HTTP 429)", failure)
        return errors.RateLimited(text, retry_after=wait, scope="model", **origin)
    if status in (408, 504, 524):
        return errors.UpstreamTimeout(_said(f"OpenRouter timed out (HTTP {status})", failure), **origin)
    if status in (503, 529):
        return errors.Overloaded(_said(f"OpenRouter has no provider available (HTTP {status})", failure), **origin)
    if status is not None and 400 <= status < 500:
        return errors.UpstreamRejected(_said(f"OpenRouter rejected the request (HTTP {status})", failure), **origin)
    where = f"HTTP {status}" if status is not None else "during the reply"
    return errors.UpstreamUnavailable(_said(f"OpenRouter failed ({where})", failure), **origin)


def _origin(failure: _Failure) -> dict[str, Any]:
    return {"provider": PROVIDER, "status": failure.status}


def _said(summary: str, failure: _Failure) -> str:
    upstream = failure.metadata.get("provider_name")
    via = f" [{upstream}]" if isinstance(upstream, str) and upstream else ""
    return f"{summary}{via}: {failure.message}" if failure.message else summary + via


def _moderation(failure: _Failure) -> str:
    """Why a moderation check flagged the input, from the error's metadata."""
    reasons = failure.metadata.get("reasons")
    flagged = failure.metadata.get("flagged_input")
    parts = []
    if isinstance(reasons, list) and reasons:
        parts.append("flagged for " + ", ".join(str(reason) for reason in reasons))
    if isinstance(flagged, str) and flagged:
        parts.append(f"input {safe_message(flagged)[:80]!r}")
    return f" ({'; '.join(parts)})" if parts else ""


def _context_message(failure: _Failure) -> str:
    return too_long_message("OpenRouter", failure.message or "context length exceeded", model=failure.model)

