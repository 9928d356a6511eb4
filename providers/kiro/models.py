"""Claude model names -> the dotted model ids Kiro's `modelId` field expects.

Kiro names models `claude-sonnet-4.5`, `claude-opus-4.5`, `claude-3.7-sonnet` (protocol sheet
A6); clients and route configs often use Anthropic's names (`claude-sonnet-4-5-20250929`).
An unknown `modelId` is a 400 (`INVALID_MODEL_ID`), so the mapping is applied to every
route model by default; anything that is not an Anthropic-style name passes through as is
(`auto`, `claude-opus-latest`, already dotted ids, Kiro's internal upper-case ids).

The catalogue (`Catalogue`, over Kiro's `ListAvailableModels`) and the built-in fallback
list at the end of this module serve `router models` and the context-window estimate.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from router.provider import ModelInfo
from router.toolkit import catalogue

DEFAULT_CONTEXT_WINDOW = 200_000
"""Tokens of context assumed when nothing better is known (Kiro's default per the sheet)."""

_DATE_SUFFIX = re.compile(r"-(\d{8})$")
_CONTEXT_SUFFIX = re.compile(r"\[[^\]]*\]$")
_FAMILY_FIRST = re.compile(r"^(claude-[a-z]+-)(\d+)-(\d{1,2})(?=$|-)")
_VERSION_FIRST = re.compile(r"^(claude-)(\d+)-(\d{1,2})(?=-[a-z])")
_LARGE_CONTEXT = re.compile(r"^claude-opus-4\.(?:[6-9]|\d\d)")


def kiro_model_id(name: str) -> str:
    """Kiro's id for `name`: `claude-sonnet-4-5-20250929` -> `claude-sonnet-4.5`.

    Steps: drop a `[1m]`-style context suffix and an 8-digit date suffix, then turn the
    `-<major>-<minor>` version separator into a dot (family-first `claude-opus-4-5` and
    version-first `claude-3-7-sonnet` alike). A name that already has a dot, or matches
    neither shape, is returned unchanged apart from those suffixes.
    """
    model = _CONTEXT_SUFFIX.sub("", name.strip())
    if not model.startswith("claude-"):
        return model
    model = _DATE_SUFFIX.sub("", model)
    if "." in model:
        return model
    for pattern in (_FAMILY_FIRST, _VERSION_FIRST):
        dotted, count = pattern.subn(r"\g<1>\g<2>.\g<3>", model, count=1)
        if count:
            return dotted
    return model


def context_window(model_id: str) -> int:
    """Context tokens of a Kiro model id, by the sheet's tables: 1M for Opus 4.6 and later,
    else 200k. Only used to turn `contextUsagePercentage` into a token estimate."""
    return 1_000_000 if _LARGE_CONTEXT.match(model_id) else DEFAULT_CONTEXT_WINDOW


# -- the model catalogue (ListAvailableModels), for `router models` and usage estimates ------------

FALLBACK_IDS: tuple[tuple[str, str], ...] = (
    ("auto", "Auto (Kiro picks the model)"),
    ("claude-sonnet-4.5", "Claude Sonnet 4.5"),
    ("claude-sonnet-4.6", "Claude Sonnet 4.6"),
    ("claude-sonnet-4", "Claude Sonnet 4"),
    ("claude-haiku-4.5", "Claude Haiku 4.5"),
    ("claude-opus-4.5", "Claude Opus 4.5"),
    ("claude-opus-4.6", "Claude Opus 4.6"),
    ("claude-3.7-sonnet", "Claude 3.7 Sonnet"),
)
"""Ids every gateway of the sheet (A6) lists; whether an account may use each is up to Kiro."""

FALLBACK_MODELS: tuple[ModelInfo, ...] = tuple(
    ModelInfo(model_id, name, context_window=context_window(model_id)) for model_id, name in FALLBACK_IDS
)
"""The built-in list, used when ListAvailableModels cannot be fetched."""

MAX_PAGES = 10
"""ListAvailableModels may page with `nextToken` (the sheet is unsure); never follow more than this."""


def parse_models(document: Any) -> tuple[list[ModelInfo], str | None]:
    """Models and the next page's token from ListAvailableModels' answer.

    Current shape: `{"models": [{"modelId", "modelName", "tokenLimits": {"maxInputTokens",
    "maxOutputTokens"}, …}], "nextToken"?}`; older answers had `{"modelIds": [...]}`.
    Malformed entries are skipped.
    """
    if not isinstance(document, Mapping):
        return [], None
    models: list[ModelInfo] = []
    for entry in document.get("models") or ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("modelId"), str):
            continue
        limits = entry.get("tokenLimits")
        limits = limits if isinstance(limits, Mapping) else {}
        window, output = limits.get("maxInputTokens"), limits.get("maxOutputTokens")
        model_id = entry["modelId"]
        models.append(
            ModelInfo(
                model_id,
                str(entry.get("modelName") or model_id),
                context_window=window if _positive(window) else context_window(model_id),
                max_output_tokens=output if _positive(output) else None,
            )
        )
    for model_id in document.get("modelIds") or ():
        if isinstance(model_id, str) and model_id:
            models.append(ModelInfo(model_id, model_id, context_window=context_window(model_id)))
    token = document.get("nextToken")
    return models, token if isinstance(token, str) and token else None


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


class Catalogue(catalogue.Catalogue[ModelInfo]):
    """The live model list, cached for `ttl` seconds; `FALLBACK_MODELS` until a fetch succeeds.

    `fetch(next_token)` returns one page of ListAvailableModels (None asks for the first);
    pages are followed up to `MAX_PAGES`, and a model listed twice keeps its first entry.
    """

    def __init__(self, fetch: Callable[[str | None], Awaitable[Any]], ttl: float) -> None:
        super().__init__(lambda: _all_pages(fetch), ttl, key=lambda model: model.id, fallback=FALLBACK_MODELS)


async def _all_pages(fetch: Callable[[str | None], Awaitable[Any]]) -> tuple[ModelInfo, ...]:
    models: dict[str, ModelInfo] = {}
    token: str | None = None
    for _ in range(MAX_PAGES):
        page, next_token = parse_models(await fetch(token))
        for model in page:
            models.setdefault(model.id, model)
        if next_token is None or next_token == token:
            break
        token = next_token
    return tuple(models.values())
