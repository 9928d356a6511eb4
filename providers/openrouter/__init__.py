"""The OpenRouter provider: Claude Code on any of OpenRouter's models, with one API key."""

from typing import Any

from router import hookimpl


@hookimpl
def register_providers(register: Any) -> None:
    """Register `OpenRouterProvider` (imported lazily, so `router plugins` stays fast)."""
    from providers.openrouter.provider import OpenRouterProvider

    register(OpenRouterProvider)
