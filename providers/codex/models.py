"""The Codex model catalogue: fetched live (`GET {base}/models?client_version=…`), cached, with a fallback.

The live list depends on the account's plan and on the client version announced, so it is
the source of truth; the built-in list (from the public catalogue as of 2026-08) keeps the
router usable when the list cannot be fetched.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from router.provider import ModelInfo
from router.toolkit import catalogue


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


class Catalogue(catalogue.Catalogue[CodexModel]):
    """The account's live catalogue (what `fetch()` answers, parsed), cached for `ttl` seconds;
    `FALLBACK_MODELS` until a fetch succeeds."""

    def __init__(self, fetch: Callable[[], Awaitable[Any]], ttl: float) -> None:
        async def models() -> tuple[CodexModel, ...]:
            return parse_catalogue(await fetch())

        super().__init__(models, ttl, key=lambda model: model.info.id, fallback=FALLBACK_MODELS)
