"""Tests of router.server.rules: tier detection and matching a model name to routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from router.server.config import Config, builtin_default, parse_config
from router.conversation import Request
from router.errors import NoRoute, NotFound
from router.events import Batch
from router.provider import Provider
from router.route import Route
from router.server.rules import TIERS, Rules, detect_tier


class _Fake(Provider[Any]):
    async def stream(self, request: Request, route: Route) -> AsyncIterator[Batch]:  # pragma: no cover
        raise NotImplementedError
        yield


@dataclass(frozen=True, slots=True)
class Options:
    verbosity: str = "medium"


class Codex(_Fake):
    name = "codex"
    RouteOptions = Options


class Kiro(_Fake):
    name = "kiro"


class OpenRouter(_Fake):
    name = "openrouter"


class Unused(_Fake):
    name = "unused"


CLASSES: dict[str, type[Provider[Any]]] = {
    "codex": Codex,
    "kiro": Kiro,
    "openrouter": OpenRouter,
    "unused": Unused,
}


def rules(data: dict[str, Any]) -> Rules:
    return Rules(parse_config(data, CLASSES, {}))


def targets(rules: Rules, model: str) -> list[str]:
    return [route.target for route in rules.resolve(model).routes]


# ---------------------------------------------------------------- detect_tier


@pytest.mark.parametrize(
    ("model", "tier"),
    [
        ("claude-opus-4-8", "opus"),
        ("claude-sonnet-5", "sonnet"),
        ("claude-haiku-4-5-20251001", "haiku"),
        ("opus", "opus"),
        ("sonnet", "sonnet"),
        ("haiku", "haiku"),
        ("claude-3-5-sonnet-20241022", "sonnet"),
        ("claude-3-haiku-20240307", "haiku"),
        ("claude-3-opus-latest", "opus"),
        ("claude-opus-4-8[1m]", "opus"),
        ("claude-sonnet-4-5[1M]", "sonnet"),
        ("claude-mythos-5", "mythos"),
        ("claude-3-7-foo", "foo"),
        ("claude-instant-1.2", "instant"),
        ("CLAUDE-OPUS-4-1", "opus"),
        ("Opus", "opus"),
        ("anthropic/claude-opus-4.5", "opus"),
        ("anthropic/claude-3.5-sonnet", "sonnet"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "sonnet"),
        ("us.anthropic.claude-3-haiku-20240307-v1:0", "haiku"),
        ("claude-opus-4-1@20250805", "opus"),
        (" claude-opus-4 ", "opus"),
        ("gpt-5.5", None),
        ("codex/gpt-5.5", None),
        ("openrouter/anthropic/claude-opus-4.5", None),
        ("claude", None),
        ("claude-", None),
        ("claude-2.1", None),
        ("claude-v2", None),
        ("mythos", None),
        ("opus-4", None),
        ("my-claude-opus", None),
        ("", None),
        ("[1m]", None),
    ],
)
def test_detect_tier(model: str, tier: str | None) -> None:
    assert detect_tier(model) == tier


def test_tiers() -> None:
    assert TIERS == ("opus", "sonnet", "haiku")


# ---------------------------------------------------------------- matching rules

TABLE: dict[str, Any] = {
    "providers": {"codex": {}, "kiro": {}, "openrouter": {}},
    "routes": [
        {"when": {"tier": "opus", "model": "*[[]1m]"}, "use": "kiro/claude-opus-1m"},
        {
            "when": {"tier": "opus"},
            "use": "codex/gpt-5.5",
            "effort": "high",
            "fallback": ["openrouter/anthropic/claude-opus-4.5", "kiro/claude-opus-4.5:max"],
            "options": {"verbosity": "high"},
        },
        {"when": {"tier": "sonnet"}, "use": "kiro/claude-sonnet-4.5"},
        {"when": {"model": "gpt-*"}, "use": "codex/{model}", "fallback": "openrouter/openai/{model}:low"},
        {"when": {"model": "llama-*"}, "use": "openrouter/meta-llama/{model}:free"},
        {"when": {"tier": "*", "model": "*-thinking"}, "use": "codex/gpt-5.5:xhigh"},
        {"when": {"tier": "haiku"}, "use": "codex/gpt-5.4-mini:low"},
        {"when": {"model": "sonnet"}, "use": "codex/never"},
    ],
    "default": {"use": "codex/gpt-5.5", "effort": "medium", "fallback": ["kiro/claude-sonnet-4.5"]},
}


@pytest.mark.parametrize(
    ("model", "label", "expected"),
    [
        (
            "claude-opus-4-8",
            "tier=opus",
            ["codex/gpt-5.5:high", "openrouter/anthropic/claude-opus-4.5", "kiro/claude-opus-4.5:max"],
        ),
        (
            "opus",
            "tier=opus",
            ["codex/gpt-5.5:high", "openrouter/anthropic/claude-opus-4.5", "kiro/claude-opus-4.5:max"],
        ),
        ("claude-opus-4-8[1m]", "tier=opus model=*[[]1m]", ["kiro/claude-opus-1m"]),
        ("claude-sonnet-4-5", "tier=sonnet", ["kiro/claude-sonnet-4.5"]),
        ("sonnet", "tier=sonnet", ["kiro/claude-sonnet-4.5"]),  # first match wins over the later model rule
        ("claude-sonnet-4-5-thinking", "tier=sonnet", ["kiro/claude-sonnet-4.5"]),
        ("claude-haiku-4-5-thinking", "tier=* model=*-thinking", ["codex/gpt-5.5:xhigh"]),
        ("claude-haiku-4-5", "tier=haiku", ["codex/gpt-5.4-mini:low"]),
        ("gpt-5.4", "model=gpt-*", ["codex/gpt-5.4", "openrouter/openai/gpt-5.4:low"]),
        ("llama-3.3-70b-instruct", "model=llama-*", ["openrouter/meta-llama/llama-3.3-70b-instruct:free"]),
        ("claude-mythos-5", "default", ["codex/gpt-5.5:medium", "kiro/claude-sonnet-4.5"]),
        ("claude-3-7-foo", "default", ["codex/gpt-5.5:medium", "kiro/claude-sonnet-4.5"]),
        ("gpt-thinking", "model=gpt-*", ["codex/gpt-thinking", "openrouter/openai/gpt-thinking:low"]),
        ("codex/gpt-5.5", "direct", ["codex/gpt-5.5"]),
        ("codex/gpt-5.5:high", "direct", ["codex/gpt-5.5:high"]),
        (
            "openrouter/meta-llama/llama-3.3-70b-instruct:free",
            "direct",
            ["openrouter/meta-llama/llama-3.3-70b-instruct:free"],
        ),
        ("openrouter/anthropic/claude-opus-4.5", "direct", ["openrouter/anthropic/claude-opus-4.5"]),
        ("kiro/claude-sonnet-4.5:max", "direct", ["kiro/claude-sonnet-4.5:max"]),
    ],
)
def test_resolve(model: str, label: str, expected: list[str]) -> None:
    resolution = rules(TABLE).resolve(model)
    assert resolution.requested == model
    assert resolution.rule == label
    assert [route.target for route in resolution.routes] == expected
    assert resolution.tier == detect_tier(model)


def test_resolve_route_fields() -> None:
    resolution = rules(TABLE).resolve("claude-opus-4-1")
    primary, first, second = resolution.routes
    assert primary == Route("codex", "gpt-5.5", "high", Options(verbosity="high"))
    assert first == Route("openrouter", "anthropic/claude-opus-4.5", None)
    assert second == Route("kiro", "claude-opus-4.5", "max")
    assert resolution.primary is primary and resolution.tier == "opus"


def test_direct_route_has_no_tier_and_keeps_free_suffix() -> None:
    resolution = rules(TABLE).resolve("openrouter/meta-llama/llama-3.3-70b-instruct:free")
    assert resolution.primary == Route("openrouter", "meta-llama/llama-3.3-70b-instruct:free", None)
    assert resolution.tier is None


def test_glob_is_case_sensitive() -> None:
    with pytest.raises(NoRoute):
        rules(TABLE).resolve("GPT-5")


def test_rule_order_decides() -> None:
    table = {
        "routes": [
            {"when": {"tier": "*"}, "use": "kiro/any"},
            {"when": {"tier": "opus"}, "use": "codex/opus"},
        ]
    }
    assert targets(rules(table), "claude-opus-4-8") == ["kiro/any"]
    table["routes"].reverse()
    assert targets(rules(table), "claude-opus-4-8") == ["codex/opus"]
    assert targets(rules(table), "claude-haiku-4-5") == ["kiro/any"]


def test_star_tier_needs_a_claude_model() -> None:
    table = {"routes": [{"when": {"tier": "*"}, "use": "kiro/any"}]}
    assert targets(rules(table), "claude-mythos-5") == ["kiro/any"]
    with pytest.raises(NoRoute):
        rules(table).resolve("gpt-5")


def test_model_glob_matches_name_as_sent() -> None:
    table = {"routes": [{"when": {"model": "*"}, "use": "codex/{model}"}]}
    assert targets(rules(table), "claude-opus-4-8[1m]") == ["codex/claude-opus-4-8[1m]"]
    assert targets(rules(table), "codex/gpt-5.5") == ["codex/codex/gpt-5.5"]  # rules come before direct names


def test_default_only_serves_claude_models() -> None:
    table = {"default": {"use": "codex/gpt-5.5"}}
    assert rules(table).resolve("claude-opus-4-8").rule == "default"
    with pytest.raises(NoRoute):
        rules(table).resolve("gpt-5.5")


def test_missing_providers_still_resolve() -> None:
    resolution = Rules(builtin_default({})).resolve("claude-opus-4-8")
    assert resolution.primary == Route("codex", "gpt-5.5", "high")
    assert Rules(builtin_default({})).resolve("codex/gpt-5.4").rule == "direct"


def test_direct_needs_an_enabled_provider() -> None:
    with pytest.raises(NoRoute):
        rules(TABLE).resolve("unused/model")  # installed, but not enabled by the config


# ---------------------------------------------------------------- no route


def test_no_route_message_lists_what_can_be_asked_for() -> None:
    table = {
        "providers": {"codex": {}, "openrouter": {}},
        "routes": [{"when": {"tier": "opus"}, "use": "codex/x"}],
    }
    with pytest.raises(NoRoute) as info:
        rules(table).resolve("foo")
    assert str(info.value) == (
        "model 'foo' matches no route; ask for a Claude model (opus) or name an upstream directly "
        "as provider/model (providers: codex, openrouter)"
    )
    assert isinstance(info.value, NotFound)


def test_no_route_message_for_unknown_provider_and_tier() -> None:
    table = {"routes": [{"when": {"tier": "opus"}, "use": "codex/x"}]}
    with pytest.raises(
        NoRoute, match=r"^model 'kiro2/x' matches no route and 'kiro2' is not an enabled provider;"
    ):
        rules(table).resolve("kiro2/x")
    with pytest.raises(NoRoute, match=r"^model 'claude-haiku-4-5' \(tier haiku\) matches no route; ask for"):
        rules(table).resolve("claude-haiku-4-5")


def test_no_route_message_with_empty_config() -> None:
    with pytest.raises(
        NoRoute, match=r"^model 'opus' \(tier opus\) matches no route; the config has no routes$"
    ):
        Rules(Config(builtin_default({}).server, {}, (), None, None)).resolve("opus")


# ---------------------------------------------------------------- table and model ids


def test_table() -> None:
    assert rules(TABLE).table() == [
        ("tier=opus model=*[[]1m]", "kiro/claude-opus-1m"),
        ("tier=opus", "codex/gpt-5.5:high -> openrouter/anthropic/claude-opus-4.5, kiro/claude-opus-4.5:max"),
        ("tier=sonnet", "kiro/claude-sonnet-4.5"),
        ("model=gpt-*", "codex/{model} -> openrouter/openai/{model}:low"),
        ("model=llama-*", "openrouter/meta-llama/{model}:free"),
        ("tier=* model=*-thinking", "codex/gpt-5.5:xhigh"),
        ("tier=haiku", "codex/gpt-5.4-mini:low"),
        ("model=sonnet", "codex/never"),
        ("default", "codex/gpt-5.5:medium -> kiro/claude-sonnet-4.5"),
    ]


def test_model_ids() -> None:
    assert rules(TABLE).model_ids() == [
        "opus",
        "sonnet",
        "haiku",
        "kiro/claude-opus-1m",
        "codex/gpt-5.5",
        "openrouter/anthropic/claude-opus-4.5",
        "kiro/claude-opus-4.5",
        "kiro/claude-sonnet-4.5",
        "codex/gpt-5.4-mini",
        "codex/never",
    ]


def test_model_ids_only_routable_tiers() -> None:
    table = {"routes": [{"when": {"tier": "sonnet"}, "use": "codex/s"}]}
    assert rules(table).model_ids() == ["sonnet", "codex/s"]


def test_builtin_default_table() -> None:
    assert Rules(builtin_default({})).table() == [
        ("tier=opus", "codex/gpt-5.5:high"),
        ("tier=sonnet", "codex/gpt-5.5:medium"),
        ("tier=haiku", "codex/gpt-5.4-mini:low"),
        ("default", "codex/gpt-5.5:medium"),
    ]
