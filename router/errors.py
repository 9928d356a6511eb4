"""The one exception tree of the router.

    RouterError                    base; never raised itself
    ├── ConfigError                start-up: the config file or a provider's section is invalid
    ├── RequestError               the client's request is malformed or asks for the impossible (400)
    │   └── NotFound               a path or model the client asked for does not exist (404)
    │       └── NoRoute            the model name matches no route and names no provider (404)
    └── ProviderError              anything that went wrong on the way to or from a backend (502)
        ├── AuthError              no usable credentials, or the backend refused them (401)
        ├── PermissionDenied       the account may not use this model or feature (403)
        ├── RateLimited            usage or rate limit reached; `retry_after` seconds if known (429)
        ├── Overloaded             the backend is busy or unavailable; worth retrying (529)
        ├── ContextTooLong         the conversation exceeds the model's context (400, "prompt is too long")
        ├── UpstreamRejected       the backend refused the request as invalid (400)
        │   └── ModelUnavailable   the backend does not serve this model to this account; falls back (400)
        ├── UpstreamTimeout        the backend did not answer in time (504)
        └── UpstreamUnavailable    the backend could not be reached or failed with 5xx (502)

Providers raise these at their boundary: no httpx, botocore or other library exception
ever reaches the core. `router.anthropic.errors` maps them to Anthropic's statuses and
error types, in one place.
"""

from __future__ import annotations

from typing import Literal


class RouterError(Exception):
    """Base of every error the router raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(RouterError):
    """Raised at start-up when the config is invalid; `path` is the dotted location."""

    def __init__(self, path: str, problem: str, hint: str | None = None) -> None:
        text = f"{path}: {problem}" if path else problem
        if hint:
            text += f" ({hint})"
        super().__init__(text)
        self.path = path
        self.problem = problem
        self.hint = hint


class RequestError(RouterError):
    """Raised while decoding or routing when the client's request cannot be served as sent."""


class NotFound(RequestError):
    """Raised when the client names a path, model or resource that does not exist."""


class NoRoute(NotFound):
    """Raised when a model name matches no route; the message lists what can be asked for."""


class ProviderError(RouterError):
    """Raised by a provider for any backend failure; `retryable` failures may be retried or fall back."""

    retryable: bool = False
    fallback: bool = True

    def __init__(self, message: str, *, provider: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.upstream_status = status


class AuthError(ProviderError):
    """Raised when credentials are missing, expired beyond refresh, or refused by the backend."""


class PermissionDenied(ProviderError):
    """Raised when the account is known but may not use what was asked."""


class RateLimited(ProviderError):
    """Raised on a rate or usage limit; `retry_after` is in seconds, when the backend says.

    `scope` says what ran dry, so the router cools down the right thing: "account" (the
    account's quota or credits: every model of it waits) or "model" (a limit on this model
    only: the account's other models stay usable).
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        scope: Literal["account", "model"] = "account",
        provider: str = "",
        status: int | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.retry_after = retry_after
        self.scope = scope


class Overloaded(ProviderError):
    """Raised when the backend is temporarily unable to serve; retried before falling back."""

    retryable = True


class ContextTooLong(ProviderError):
    """Raised when the conversation does not fit the model; reported so that clients compact."""

    fallback = False


class UpstreamRejected(ProviderError):
    """Raised when the backend rejects the request itself as invalid; retrying cannot help."""

    fallback = False


class ModelUnavailable(UpstreamRejected):
    """Raised when the backend does not serve the model (unknown, retired, not in the plan, no
    endpoint meeting the preferences). Unlike other rejections another route may well serve the
    request, so it falls back."""

    fallback = True


class UpstreamTimeout(ProviderError):
    """Raised when the backend does not answer within the configured time."""

    retryable = True


class UpstreamUnavailable(ProviderError):
    """Raised when the backend cannot be reached, answers 5xx, or breaks off its reply."""

    retryable = True
