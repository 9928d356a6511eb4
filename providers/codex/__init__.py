"""The Codex provider: Claude Code on a ChatGPT Plus/Pro subscription, through the Codex backend."""

from typing import Any

from router import hookimpl


@hookimpl
def register_providers(register: Any) -> None:
    """Register `CodexProvider` (imported lazily, so `router plugins` stays fast)."""
    from providers.codex.provider import CodexProvider

    register(CodexProvider)
