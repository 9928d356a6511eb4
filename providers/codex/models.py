"""The Codex model catalogue: fetched live (`GET {base}/models?client_version=…`), cached, with a fallback.

The live list depends on the account's plan and on the client version announced, so it is
the source of truth; the built-in list (from the public catalogue as of 2026-08) keeps the
router usable when the list cannot be fetched.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from router.provider import ModelInfo


@dataclass(frozen=True, slots=True)
class CodexModel:
    """A model with what the payload needs: its efforts and the one it uses by default."""

    info: ModelInfo
    default_effort: str = "medium"


def _builtin(slug: str, name: str, window: int, efforts: tuple[str, ...], default: str) -> CodexModel:
    return CodexModel(ModelInfo(slug, name, context_window=window, efforts=efforts), default)


_STANDARD = ("low", "medium", "high", "xhigh")
FALLBACK_MODELS: tuple[CodexModel, ...] = (
    _builtin("gpt-5.5", "GPT-5.5", 272_000, _STANDARD, "medium"),
    _builtin("gpt-5.4", "GPT-5.4", 272_000, _STANDARD, "medium"),
    _builtin("gpt-5.4-mini", "GPT-5.4 mini", 272_000, _STANDARD, "medium"),
    _builtin("gpt-5.6-sol", "GPT-5.6 Sol", 272_000, (*_STANDARD, "max", "ultra"), "low"),
    _builtin("gpt-5.6-terra", "GPT-5.6 Terra", 272_000, (*_STANDARD, "max", "ultra"), "medium"),
    _builtin("gpt-5.6-luna", "GPT-5.6 Luna", 272_000, (*_STANDARD, "max"), "medium"),
)


def parse_catalogue(document: Any) -> tuple[CodexModel, ...]:
    """Models from the backend's `{"models": [...]}` answer; hidden and malformed entries are skipped."""
    entries = document.get("models") if isinstance(document, Mapping) else None
    models = []
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("slug"), str):
            continue
        if entry.get("visibility") not in (None, "list"):
            continue
        levels = entry.get("supported_reasoning_levels") or ()
        efforts = tuple(level["effort"] for level in levels if isinstance(level, Mapping) and "effort" in level)
        window = entry.get("context_window")
        info = ModelInfo(
            entry["slug"],
            str(entry.get("display_name") or entry["slug"]),
            context_window=window if isinstance(window, int) else None,
            efforts=efforts,
        )
        models.append(CodexModel(info, str(entry.get("default_reasoning_level") or "medium")))
    return tuple(models)


class Catalogue:
    """The live catalogue, refreshed at most every `ttl` seconds; failures fall back to the last or built-in list."""

    def __init__(self, fetch: Callable[[], Awaitable[Any]], ttl: float, clock: Callable[[], float] = time.monotonic,
                 retry_after_failure: float = 60.0):
        self.fetch = fetch
        self.ttl = ttl
        self.retry_after_failure = min(retry_after_failure, ttl)
        self.clock = clock
        self.models: tuple[CodexModel, ...] = ()
        self.fetched_at: float | None = None

    async def all(self) -> Sequence[CodexModel]:
        """The current list (fetched when stale)."""
        now = self.clock()
        if self.fetched_at is None or now - self.fetched_at >= self.ttl:
            self.fetched_at = now  # one attempt per ttl, even when it fails
            try:
                fetched = parse_catalogue(await self.fetch())
            except Exception:  # any failure: keep serving from what we have
                fetched = ()
            if fetched:
                self.models = fetched
            else:  # try again soon rather than pinning the fallback for a whole ttl
                self.fetched_at = now - self.ttl + self.retry_after_failure
        return self.models or FALLBACK_MODELS

    async def find(self, slug: str) -> CodexModel | None:
        """The model called `slug`, if the catalogue (live or built-in) knows it."""
        for model in await self.all():
            if model.info.id == slug:
                return model
        return next((model for model in FALLBACK_MODELS if model.info.id == slug), None)
