"""The OpenRouter model catalogue: `GET {base_url}/models`, cached for `models_ttl` seconds.

There is no built-in fallback list. OpenRouter serves hundreds of models that come and go
weekly, so any list shipped here would be wrong soon, and nothing depends on it: routes
name model ids directly and requests never wait for the catalogue. When the list cannot be
fetched, `router models` shows none for OpenRouter (with a warning in the log) and tries
again a minute later.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from router.provider import ModelInfo
from router.toolkit import catalogue

DEFAULT_EFFORTS = ("low", "medium", "high")
"""Efforts assumed for a model that takes `reasoning` but does not list its own."""


def parse_models(document: Any) -> tuple[ModelInfo, ...]:
    """Models from `{"data": [...]}`; malformed entries are skipped."""
    entries = document.get("data") if isinstance(document, Mapping) else None
    models = []
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str) and entry["id"]:
            models.append(_model(entry))
    return tuple(models)


def _model(entry: Mapping[str, Any]) -> ModelInfo:
    top = entry.get("top_provider")
    top = top if isinstance(top, Mapping) else {}
    return ModelInfo(
        entry["id"],
        str(entry.get("name") or entry["id"]),
        context_window=_positive(entry.get("context_length")) or _positive(top.get("context_length")),
        max_output_tokens=_positive(top.get("max_completion_tokens")),
        efforts=_efforts(entry),
    )


def _efforts(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """The model's own effort list when it gives one, else low/medium/high for reasoning models."""
    parameters = entry.get("supported_parameters")
    if not isinstance(parameters, list) or "reasoning" not in parameters:
        return ()
    reasoning = entry.get("reasoning")
    listed = reasoning.get("supported_efforts") if isinstance(reasoning, Mapping) else None
    if isinstance(listed, list) and listed and all(isinstance(effort, str) for effort in listed):
        return tuple(listed)
    return DEFAULT_EFFORTS


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


class Catalogue(catalogue.Catalogue[ModelInfo]):
    """The live list (what `fetch()` answers, parsed), cached for `ttl` seconds; a failure is
    told to `warn` and gives the last good list, or none."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Any]],
        ttl: float,
        *,
        warn: Callable[[str], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        async def models() -> tuple[ModelInfo, ...]:
            return parse_models(await fetch())

        super().__init__(models, ttl, key=lambda model: model.id, warn=warn, what="OpenRouter models", clock=clock)
