"""Tests of router.server.config: YAML -> validated Config, and the generic settings validator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from providers.codex.provider import CodexProvider, CodexRouteOptions, CodexSettings
from router.server.config import (
    EFFORTS,
    Config,
    RouteRule,
    ServerConfig,
    builtin_default,
    config_candidates,
    find_config,
    load_config,
    parse_config,
    parse_target,
)
from router.conversation import Request
from router.errors import ConfigError
from router.events import Batch
from router.provider import Provider
from router.route import Route
from router.server.rules import Rules
from router.settings import InvalidField, build_settings

REPO = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------- fake providers


class _Fake(Provider[Any]):
    async def stream(self, request: Request, route: Route) -> AsyncIterator[Batch]:  # pragma: no cover
        raise NotImplementedError
        yield


@dataclass(frozen=True, slots=True)
class KeyedSettings:
    api_key: str
    base_url: str = "https://example.invalid/v1"


@dataclass(frozen=True, slots=True)
class OptionalKeySettings:
    api_key: str | None = None
    base_url: str = "https://example.invalid/v1"


@dataclass(frozen=True, slots=True)
class CodexOptions:
    verbosity: Literal["low", "medium", "high"] = "medium"


class Codex(_Fake):
    name = "codex"
    RouteOptions = CodexOptions


class Kiro(_Fake):
    name = "kiro"


class OpenRouter(_Fake):
    name = "openrouter"
    Settings = KeyedSettings


CLASSES: dict[str, type[Provider[Any]]] = {"codex": Codex, "kiro": Kiro, "openrouter": OpenRouter}
ENV = {"OPENROUTER_API_KEY": "sk-or-secret-value"}


def parse(data: object, env: Mapping[str, str] = ENV) -> Config:
    return parse_config(data, CLASSES, env)


def error(data: object, env: Mapping[str, str] = ENV) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(data, env)
    return info.value


# ---------------------------------------------------------------- a valid config


def test_full_config_parses() -> None:
    config = parse(
        {
            "server": {"port": 9000, "log_level": "debug", "ping_interval": 5},
            "providers": {"codex": None, "openrouter": {"api_key": "${OPENROUTER_API_KEY}"}},
            "routes": [
                {
                    "when": {"tier": "opus"},
                    "use": "codex/gpt-5.5",
                    "effort": "high",
                    "fallback": ["openrouter/anthropic/claude-opus-4.5", "kiro/claude-opus-4.5:max"],
                    "options": {"verbosity": "low"},
                },
                {"when": {"model": "gpt-*"}, "use": "codex/{model}"},
                {"when": {"tier": "*", "model": "*-thinking"}, "use": "kiro/x", "fallback": "codex/y"},
            ],
            "default": {"use": "codex/gpt-5.5:medium"},
        }
    )
    assert config.server == ServerConfig(port=9000, log_level="debug", ping_interval=5.0)
    assert isinstance(config.server.ping_interval, float)
    assert config.providers["openrouter"] == KeyedSettings(api_key="sk-or-secret-value")
    assert type(config.providers["openrouter"].api_key) is str
    assert list(config.providers) == ["codex", "openrouter", "kiro"]  # kiro enabled implicitly
    opus, glob, both = config.routes
    assert opus == RouteRule(
        "opus",
        None,
        "codex/gpt-5.5",
        "high",
        ("openrouter/anthropic/claude-opus-4.5", "kiro/claude-opus-4.5:max"),
        CodexOptions(verbosity="low"),
        "tier=opus",
    )
    assert (glob.model, glob.use, glob.label) == ("gpt-*", "codex/{model}", "model=gpt-*")
    assert (both.label, both.fallback) == ("tier=* model=*-thinking", ("codex/y",))
    assert config.default == RouteRule(None, None, "codex/gpt-5.5", "medium", (), None, "default")
    assert config.source is None and config.missing_providers == ()


@pytest.mark.parametrize(
    "data", [None, {}, {"server": None, "providers": None, "routes": None, "default": None}]
)
def test_empty_config_is_all_defaults(data: object) -> None:
    config = parse(data)
    assert config == Config(ServerConfig(), {}, (), None, None)


def test_ledger_defaults_and_a_path_relative_to_the_config_file(tmp_path: Path) -> None:
    ledger = parse({}).ledger
    assert (ledger.enabled, ledger.path, ledger.retention_days) == (True, None, 90)
    config = tmp_path / "config.yaml"
    config.write_text("ledger: {path: usage/mine.sqlite3, retention_days: 7, enabled: false}\n")
    loaded = load_config(config, {}).ledger
    assert (loaded.path, loaded.retention_days, loaded.enabled) == (tmp_path / "usage" / "mine.sqlite3", 7, False)
    assert load_config(_write(tmp_path, "ledger: {path: ~/u.sqlite3}\n"), {}).ledger.path == Path.home() / "u.sqlite3"


def _write(folder: Path, text: str) -> Path:
    path = folder / "other.yaml"
    path.write_text(text)
    return path


def test_empty_auth_token_means_none() -> None:
    assert parse({"server": {"auth_token": "${TOKEN:-}"}}, env={}).server.auth_token is None
    assert parse({"server": {"auth_token": "${TOKEN:-}"}}, env={"TOKEN": "t"}).server.auth_token == "t"


# ---------------------------------------------------------------- error paths


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "the config must be a mapping at the top level, got a list"),
        ({"serverr": {}}, "serverr: unknown key (did you mean 'server'?)"),
        ({"xyz": 1}, "xyz: unknown key (expected one of: server, providers, routes, default, ledger)"),
        ({"ledgr": {}}, "ledgr: unknown key (did you mean 'ledger'?)"),
        ({"ledger": {"retention_days": 0}}, "ledger.retention_days: must be 1 or more"),
        ({"ledger": {"retention_days": "90d"}}, "ledger.retention_days: expected an integer, got '90d'"),
        ({"ledger": {"enabled": "yes"}}, "ledger.enabled: expected true or false, got 'yes'"),
        ({"ledger": {"path": ""}}, "ledger.path: must name a file"),
        ({"ledger": {"pth": "x"}}, "ledger.pth: unknown key (did you mean 'path'?)"),
        ({"ledger": "off"}, "ledger: expected a mapping, got 'off'"),
        ({"server": {"prot": 1}}, "server.prot: unknown key (did you mean 'port'?)"),
        ({"server": {"port": "abc"}}, "server.port: expected an integer, got 'abc'"),
        ({"server": {"port": True}}, "server.port: expected an integer, got True"),
        ({"server": {"port": 0}}, "server.port: must be between 1 and 65535"),
        ({"server": {"port": 70000}}, "server.port: must be between 1 and 65535"),
        ({"server": {"ping_interval": 0}}, "server.ping_interval: must be greater than 0"),
        ({"server": {"retries": -1}}, "server.retries: must be 0 or more"),
        ({"server": {"host": ""}}, "server.host: must not be empty"),
        (
            {"server": {"log_level": "INFO"}},
            (
                "server.log_level: expected one of 'critical', 'error', "
                "'warning', 'info', 'debug', got 'INFO' (did you mean 'info'?)"
            ),
        ),
        (
            {"server": {"auth_token": 12345}},
            "server.auth_token: expected a string, got an integer (not shown)",
        ),
        ({"server": "x"}, "server: expected a mapping, got 'x'"),
        (
            {"providers": {"kiro2": {}}},
            (
                "providers.kiro2: unknown provider 'kiro2' "
                "(did you mean 'kiro'? installed providers: codex, kiro, openrouter)"
            ),
        ),
        ({"providers": {"openrouter": {}}}, "providers.openrouter.api_key: required"),
        (
            {"providers": {"kiro": {"region": "x"}}},
            "providers.kiro.region: unknown key (this section takes no settings)",
        ),
        (
            {"providers": {"openrouter": {"api_key": "k", "base_ur": "u"}}},
            "providers.openrouter.base_ur: unknown key (did you mean 'base_url'?)",
        ),
        ({"providers": ["codex"]}, "providers: expected a mapping, got ['codex']"),
        ({"routes": {"when": {}}}, "routes: expected a list, got {'when': {}}"),
        ({"routes": ["codex/x"]}, "routes[0]: expected a mapping with `use`, got 'codex/x'"),
        ({"routes": [{"use": "codex/x"}]}, "routes[0].when: required"),
        ({"routes": [{"when": {}, "use": "codex/x"}]}, "routes[0].when: needs `tier`, `model` or a request-shape condition"),
        ({"routes": [{"when": {"tier": "opus"}}]}, "routes[0].use: required (e.g. use: codex/gpt-5.5)"),
        (
            {"routes": [{"when": {"teir": "opus"}, "use": "codex/x"}]},
            "routes[0].when.teir: unknown key (did you mean 'tier'?)",
        ),
        (
            {"routes": [{"when": {"tier": "Opus"}, "use": "codex/x"}]},
            "routes[0].when.tier: expected a lowercase word such as 'opus', or '*', got 'Opus' (did you mean 'opus'?)",
        ),
        (
            {"routes": [{"when": {"tier": "opus-4"}, "use": "codex/x"}]},
            "routes[0].when.tier: expected a lowercase",
        ),
        (
            {"routes": [{"when": {"model": ""}, "use": "codex/x"}]},
            "routes[0].when.model: expected a model name",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "codex/x", "fallbak": []}]},
            "routes[0].fallbak: unknown key (did you mean 'fallback'?)",
        ),
        (
            {
                "routes": [
                    {"when": {"tier": "opus"}, "use": "codex/x"},
                    {"when": {"tier": "haiku"}, "use": "kiro2/y"},
                ]
            },
            "routes[1].use: unknown provider 'kiro2' (did you mean 'kiro'? installed providers: codex, kiro, openrouter)",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "zzz/y"}]},
            "routes[0].use: unknown provider 'zzz' (installed providers: codex, kiro, openrouter)",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "codex"}]},
            "routes[0].use: expected 'provider/model' or 'provider/model:effort', got 'codex'",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "codex/"}]},
            "routes[0].use: expected 'provider/model'",
        ),
        ({"routes": [{"when": {"tier": "opus"}, "use": "/gpt"}]}, "routes[0].use: expected 'provider/model'"),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "codex/gpt 5"}]},
            "routes[0].use: expected 'provider/model'",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": 5}]},
            "routes[0].use: expected 'provider/model', got 5",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "codex/{name}"}]},
            "routes[0].use: unknown placeholder (only {model} is replaced",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "codex/x", "effort": "hihg"}]},
            "routes[0].effort: unknown effort 'hihg' (did you mean 'high'?)",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "codex/x", "effort": 3}]},
            "routes[0].effort: unknown effort 3",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "codex/x:low", "effort": "high"}]},
            "routes[0].effort: conflicts with ':low' in `use`",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "codex/x", "fallback": ["codex/y", "nope/z"]}]},
            "routes[0].fallback[1]: unknown provider 'nope'",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "codex/x", "fallback": "bad"}]},
            "routes[0].fallback: expected 'provider/model'",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "codex/x", "fallback": 3}]},
            "routes[0].fallback: expected a list, got 3",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "openrouter/x"}]},
            (
                "routes[0].use: provider 'openrouter' needs a `providers.openrouter` section "
                "(providers.openrouter.api_key: required)"
            ),
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "kiro/x", "options": {"a": 1}}]},
            "routes[0].options: provider 'kiro' takes no route options",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "codex/x", "options": {"verbosty": "low"}}]},
            "routes[0].options.verbosty: unknown key (did you mean 'verbosity'?)",
        ),
        (
            {"routes": [{"when": {"tier": "opus"}, "use": "codex/x", "options": {"verbosity": "loud"}}]},
            "routes[0].options.verbosity: expected one of 'low', 'medium', 'high', got 'loud'",
        ),
        ({"default": {"when": {"tier": "opus"}, "use": "codex/x"}}, "default.when: not allowed here"),
        (
            {"default": {"use": "codex/x", "efort": "low"}},
            "default.efort: unknown key (did you mean 'effort'?)",
        ),
        ({"default": {"effort": "low"}}, "default.use: required"),
        ({"default": "codex/x"}, "default: expected a mapping with `use`, got 'codex/x'"),
    ],
)
def test_config_errors(data: object, message: str) -> None:
    assert str(error(data)).startswith(message)


def test_error_carries_path_problem_and_hint() -> None:
    exc = error(
        {
            "routes": [
                {"when": {"tier": "opus"}, "use": "codex/x"},
                {"when": {"tier": "haiku"}, "use": "kiro2/y"},
            ]
        }
    )
    assert exc.path == "routes[1].use"
    assert exc.problem == "unknown provider 'kiro2'"
    assert exc.hint is not None and "did you mean 'kiro'?" in exc.hint


def test_unknown_provider_when_none_installed() -> None:
    with pytest.raises(ConfigError, match=r"no provider plugins are installed"):
        parse_config({"routes": [{"when": {"tier": "opus"}, "use": "codex/x"}]}, {})


def test_options_become_the_providers_route_options_instance() -> None:
    config = parse(
        {"routes": [{"when": {"tier": "opus"}, "use": "codex/x", "options": {"verbosity": "${V:-high}"}}]}
    )
    options = config.routes[0].options
    assert options == CodexOptions(verbosity="high") and type(options.verbosity) is str


# ---------------------------------------------------------------- environment references


@pytest.mark.parametrize(
    ("value", "env", "expected"),
    [
        ("${A}", {"A": "x"}, "x"),
        ("pre-${A}-post", {"A": "x"}, "pre-x-post"),
        ("${A}${B}", {"A": "x", "B": "y"}, "xy"),
        ("${A:-fb}", {}, "fb"),
        ("${A:-fb}", {"A": ""}, "fb"),
        ("${A:-fb}", {"A": "set"}, "set"),
        ("${A:-}", {}, ""),
        ("${A}", {"A": ""}, ""),
        ("no refs $A {A}", {}, "no refs $A {A}"),
    ],
)
def test_env_expansion(value: str, env: dict[str, str], expected: str) -> None:
    config = parse({"providers": {"openrouter": {"api_key": "k", "base_url": value}}}, env)
    assert config.providers["openrouter"].base_url == expected


def test_env_expansion_reaches_every_string() -> None:
    env = {"P": "codex", "M": "gpt-5.5", "E": "high", "T": "opus"}
    config = parse(
        {
            "routes": [
                {"when": {"tier": "${T}"}, "use": "${P}/${M}", "effort": "${E}", "fallback": ["${P}/y"]}
            ]
        },
        env,
    )
    assert config.routes[0] == RouteRule("opus", None, "codex/gpt-5.5", "high", ("codex/y",), None, "tier=opus")


def test_env_strings_coerce_to_scalars() -> None:
    env = {"PORT": "9001", "PING": "2.5"}
    server = parse(
        {"server": {"port": "${PORT}", "ping_interval": "${PING}", "retries": "${R:-0}"}}, env
    ).server
    assert (server.port, server.ping_interval, server.retries) == (9001, 2.5, 0)


def test_env_var_missing() -> None:
    exc = error({"providers": {"openrouter": {"api_key": "${OPENROUTER_API_KEY}"}}}, env={})
    assert exc.path == "providers.openrouter.api_key"
    assert exc.problem == "environment variable OPENROUTER_API_KEY is not set"


def test_env_var_missing_in_list() -> None:
    exc = error(
        {"routes": [{"when": {"tier": "opus"}, "use": "codex/x", "fallback": ["codex/y", "${NOPE}"]}]}, env={}
    )
    assert str(exc).startswith("routes[0].fallback[1]: environment variable NOPE is not set")


def test_malformed_reference() -> None:
    assert str(error({"server": {"host": "${HOST"}})).startswith(
        "server.host: malformed environment reference"
    )


@pytest.mark.parametrize(
    "data",
    [
        {"server": {"port": "${SECRET}"}},
        {"server": {"log_level": "${SECRET}"}},
        {"server": {"ping_interval": "${SECRET}"}},
        {"routes": [{"when": {"tier": "opus"}, "use": "${SECRET}"}]},
        {"routes": [{"when": {"tier": "opus"}, "use": "${SECRET}/model"}]},
        {"routes": [{"when": {"tier": "${SECRET}"}, "use": "codex/x"}]},
        {"routes": [{"when": {"tier": "opus"}, "use": "codex/x", "effort": "${SECRET}"}]},
        {"providers": {"openrouter": {"api_key": ["${SECRET}"]}}},
    ],
)
@pytest.mark.parametrize("secret", ["hunter2 value", "Hunter", "HIGH"])
def test_env_value_never_echoed(data: object, secret: str) -> None:
    exc = error(data, env={"SECRET": secret})
    assert secret not in str(exc) and secret.lower() not in str(exc)
    assert "from the environment" in str(exc)


# ---------------------------------------------------------------- parse_target


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("codex/gpt-5.5", ("codex", "gpt-5.5", None)),
        ("codex/gpt-5.5:high", ("codex", "gpt-5.5", "high")),
        ("openrouter/anthropic/claude-opus-4.5", ("openrouter", "anthropic/claude-opus-4.5", None)),
        (
            "openrouter/meta-llama/llama-3.3-70b-instruct:free",
            ("openrouter", "meta-llama/llama-3.3-70b-instruct:free", None),
        ),
        (
            "openrouter/meta-llama/llama-3.3-70b-instruct:free:low",
            ("openrouter", "meta-llama/llama-3.3-70b-instruct:free", "low"),
        ),
        ("kiro/claude:none", ("kiro", "claude", "none")),
        ("kiro/m:HIGH", ("kiro", "m:HIGH", None)),
        ("codex/{model}", ("codex", "{model}", None)),
    ]
    + [(f"p/m:{effort}", ("p", "m", effort)) for effort in EFFORTS],
)
def test_parse_target(text: str, expected: tuple[str, str, str | None]) -> None:
    assert parse_target(text, "x") == expected


@pytest.mark.parametrize("text", ["", "codex", "codex/", "/m", "codex/:high", "a b/c", "codex/m x"])
def test_parse_target_rejects(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_target(text, "routes[3].use")
    assert info.value.path == "routes[3].use"


# ---------------------------------------------------------------- build_settings


@dataclass(frozen=True, slots=True)
class Inner:
    name: str
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    count: int = 0
    ratio: float = 0.5
    flag: bool = False
    maybe: int | None = None
    either: int | str = 0
    mode: Literal["fast", "slow"] = "fast"
    names: tuple[str, ...] = ()
    pair: tuple[int, str] = (0, "")
    items: list[int] = field(default_factory=list)
    table: dict[str, int] = field(default_factory=dict)
    mapping: Mapping[str, bool] = field(default_factory=dict)
    anything: Any = None
    inner: Inner | None = None
    inners: tuple[Inner, ...] = ()
    where: Path = Path(".")


def test_build_settings_every_annotation_kind() -> None:
    data = {
        "text": "t",
        "count": 3,
        "ratio": 2,
        "flag": True,
        "maybe": None,
        "either": "word",
        "mode": "slow",
        "names": ["a", "b"],
        "pair": [1, "x"],
        "items": [1, 2],
        "table": {"a": 1},
        "mapping": {"b": False},
        "anything": {"nested": [1, "x"]},
        "inner": {"name": "n"},
        "inners": [{"name": "a", "weight": 3}],
        "where": "~/x",
    }
    sample = build_settings(Sample, data, "s")
    assert sample == Sample(
        text="t",
        count=3,
        ratio=2.0,
        flag=True,
        either="word",
        mode="slow",
        names=("a", "b"),
        pair=(1, "x"),
        items=[1, 2],
        table={"a": 1},
        mapping={"b": False},
        anything={"nested": [1, "x"]},
        inner=Inner("n"),
        inners=(Inner("a", 3.0),),
        where=Path("~/x").expanduser(),
    )
    assert isinstance(sample.ratio, float) and isinstance(sample.names, tuple)


def test_build_settings_defaults() -> None:
    assert build_settings(Sample, {"text": "t"}, "s") == Sample("t")
    assert build_settings(Inner, {"name": "n"}, "s").weight == 1.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "s.text: required"),
        (None, "s.text: required"),
        ("x", "s: expected a mapping, got 'x'"),
        ({"text": 1}, "s.text: expected a string, got 1"),
        ({"text": "t", "count": 1.5}, "s.count: expected an integer, got 1.5"),
        ({"text": "t", "count": "3"}, "s.count: expected an integer, got '3'"),
        ({"text": "t", "ratio": "0.5"}, "s.ratio: expected a number, got '0.5'"),
        ({"text": "t", "ratio": False}, "s.ratio: expected a number, got False"),
        ({"text": "t", "flag": 1}, "s.flag: expected true or false, got 1"),
        ({"text": "t", "flag": "yes"}, "s.flag: expected true or false, got 'yes'"),
        ({"text": "t", "maybe": "x"}, "s.maybe: expected an integer, got 'x'"),
        ({"text": "t", "either": 1.5}, "s.either: expected an integer or a string, got 1.5"),
        ({"text": "t", "mode": "medium"}, "s.mode: expected one of 'fast', 'slow', got 'medium'"),
        ({"text": "t", "names": "a"}, "s.names: expected a list, got 'a'"),
        ({"text": "t", "names": ["a", 2]}, "s.names[1]: expected a string, got 2"),
        ({"text": "t", "pair": [1]}, "s.pair: expected a list of 2 items, got 1"),
        ({"text": "t", "pair": ["1", "x"]}, "s.pair[0]: expected an integer, got '1'"),
        ({"text": "t", "items": [1, None]}, "s.items[1]: expected an integer, got None"),
        ({"text": "t", "table": []}, "s.table: expected a mapping, got []"),
        ({"text": "t", "table": {"a": "b"}}, "s.table.a: expected an integer, got 'b'"),
        ({"text": "t", "table": {1: 1}}, "s.table.1: expected a string, got 1"),
        ({"text": "t", "mapping": {"a": "no"}}, "s.mapping.a: expected true or false, got 'no'"),
        ({"text": "t", "inner": {}}, "s.inner.name: required"),
        (
            {"text": "t", "inner": {"name": "n", "wieght": 2}},
            "s.inner.wieght: unknown key (did you mean 'weight'?)",
        ),
        ({"text": "t", "inners": [{"name": "a"}, {"name": 1}]}, "s.inners[1].name: expected a string, got 1"),
        ({"text": "t", "where": 3}, "s.where: expected a string, got 3"),
        ({"text": "t", "txet": 3}, "s.txet: unknown key (did you mean 'text'?)"),
        ({"text": "t", 5: 3}, "s: keys must be strings, got 5"),
    ],
)
def test_build_settings_errors(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_settings(Sample, data, "s")
    assert str(info.value) == message


@dataclass(frozen=True, slots=True)
class Secretive:
    api_key: str = ""
    client_secret: str = ""
    refresh_token: str = ""
    user_password: str = ""


@pytest.mark.parametrize("name", ["api_key", "client_secret", "refresh_token", "user_password"])
def test_build_settings_never_echoes_secret_fields(name: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_settings(Secretive, {name: 123456789}, "p")
    assert "123456789" not in str(info.value)
    assert str(info.value) == f"p.{name}: expected a string, got an integer (not shown)"


@dataclass(frozen=True, slots=True)
class Checked:
    low: int = 0
    high: int = 10

    def __post_init__(self) -> None:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        if self.high > 100:
            raise InvalidField("high", "must be at most 100")


def test_build_settings_post_init_errors() -> None:
    with pytest.raises(ConfigError, match=r"^p: low must not exceed high$"):
        build_settings(Checked, {"low": 5, "high": 1}, "p")
    with pytest.raises(ConfigError, match=r"^p\.high: must be at most 100$"):
        build_settings(Checked, {"high": 101}, "p")


def test_build_settings_rejects_non_dataclass() -> None:
    with pytest.raises(TypeError):
        build_settings(dict, {}, "p")


# ---------------------------------------------------------------- load_config


def test_load_config(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("server:\n  port: 9100\nroutes:\n  - when: {tier: opus}\n    use: codex/gpt-5.5:high\n")
    config = load_config(path, CLASSES, ENV)
    assert config.source == path
    assert config.server.port == 9100
    assert config.routes[0].effort == "high"


def test_load_config_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("# nothing yet\n")
    assert load_config(path, CLASSES, ENV).routes == ()


def test_load_config_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("server:\n  port: 8765\n  host: [unclosed\nroutes: []\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, CLASSES, ENV)
    assert info.value.path.startswith(f"{path}:")
    assert info.value.path.split(":")[-2] in {"3", "4"}
    assert "invalid YAML" in info.value.problem
    assert info.value.hint == "while parsing a flow sequence, from line 3"


def test_load_config_hints_quoting_env_references_in_flow_mappings(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("providers:\n  openrouter: {api_key: ${OPENROUTER_API_KEY}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, CLASSES, ENV)
    assert info.value.path.startswith(f"{path}:2:")
    assert info.value.hint is not None and "quote" in info.value.hint


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file") as info:
        load_config(tmp_path / "nope.yaml", CLASSES, ENV)
    assert info.value.path == str(tmp_path / "nope.yaml")


def test_load_config_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path, CLASSES, ENV)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary, CLASSES, ENV)


def test_load_config_semantic_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("routes:\n  - when: {tier: opus}\n    use: kiro2/x\n")
    with pytest.raises(ConfigError, match=r"config\.yaml:3:5: routes\[0\]\.use: unknown provider 'kiro2'"):
        load_config(path, CLASSES, ENV)


# ---------------------------------------------------------------- the example config


@dataclass(frozen=True, slots=True)
class LooseSettings:
    api_key: str | None = None


class ExampleKiro(_Fake):
    name = "kiro"
    Settings = LooseSettings


class ExampleOpenRouter(_Fake):
    name = "openrouter"
    Settings = LooseSettings


EXAMPLE_CLASSES: dict[str, type[Provider[Any]]] = {
    "codex": CodexProvider,  # the real one: its documented settings must validate
    "kiro": ExampleKiro,
    "openrouter": ExampleOpenRouter,
}


def test_example_config_validates_and_routes() -> None:
    config = load_config(REPO / "config.example.yaml", EXAMPLE_CLASSES, {"OPENROUTER_API_KEY": "sk-or-x"})
    assert config.server == ServerConfig()
    assert config.providers["openrouter"] == LooseSettings("sk-or-x")
    assert set(config.providers) == {"codex", "kiro", "openrouter"}
    assert config.providers["codex"] == CodexSettings()  # every codex setting in the example is the default
    rules = Rules(config)
    expected = {
        "claude-opus-4-8": ("tier=opus", ["codex/gpt-5.5:high", "openrouter/anthropic/claude-opus-4.5"]),
        "claude-sonnet-4-5": ("tier=sonnet", ["codex/gpt-5.5:medium", "kiro/claude-sonnet-4.5"]),
        "claude-haiku-4-5-20251001": (
            "tier=haiku",
            ["codex/gpt-5.4-mini:low", "openrouter/anthropic/claude-haiku-4.5"],
        ),
        "gpt-5.4": ("model=gpt-*", ["codex/gpt-5.4"]),  # with options {fast: true}
        "claude-mythos-5": ("default", ["codex/gpt-5.5:medium"]),
    }
    for model, (label, targets) in expected.items():
        resolution = rules.resolve(model)
        assert (resolution.rule, [route.target for route in resolution.routes]) == (label, targets), model
    assert rules.resolve("gpt-5.4").primary.options == CodexRouteOptions(fast=True)


def test_example_config_needs_its_env_variable() -> None:
    with pytest.raises(ConfigError, match="OPENROUTER_API_KEY is not set"):
        load_config(REPO / "config.example.yaml", EXAMPLE_CLASSES, {})


# ---------------------------------------------------------------- builtin_default


def test_builtin_default_with_codex() -> None:
    config = builtin_default({"codex": CodexProvider})
    assert config.providers == {"codex": CodexSettings()}
    assert config.missing_providers == () and config.source is None
    assert [(rule.tier, rule.use, rule.effort) for rule in config.routes] == [
        ("opus", "codex/gpt-5.5", "high"),
        ("sonnet", "codex/gpt-5.5", "medium"),
        ("haiku", "codex/gpt-5.4-mini", "low"),
    ]
    assert config.default is not None
    assert (config.default.use, config.default.effort, config.default.label) == (
        "codex/gpt-5.5",
        "medium",
        "default",
    )


def test_builtin_default_without_codex() -> None:
    config = builtin_default({"kiro": Kiro})
    assert config.providers == {}
    assert config.missing_providers == ("codex",)
    assert len(config.routes) == 3 and config.default is not None


def test_user_config_missing_provider_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown provider 'codex'"):
        parse_config({"routes": [{"when": {"tier": "opus"}, "use": "codex/gpt-5.5"}]}, {"kiro": Kiro})


# ---------------------------------------------------------------- finding the file


def test_config_candidates_default_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert config_candidates({"HOME": "/home/u"}) == [
        tmp_path / "config.yaml",
        Path("/home/u/.config/switchyard/config.yaml"),
    ]


def test_config_candidates_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    assert config_candidates({"HOME": "/home/u", "XDG_CONFIG_HOME": "/xdg"})[1] == Path(
        "/xdg/switchyard/config.yaml"
    )
    assert config_candidates({"HOME": "/home/u", "XDG_CONFIG_HOME": ""})[1] == Path(
        "/home/u/.config/switchyard/config.yaml"
    )
    assert config_candidates({"HOME": "/home/u", "XDG_CONFIG_HOME": "rel"})[1] == Path(
        "/home/u/.config/switchyard/config.yaml"
    )


def test_config_candidates_env_override_is_the_only_one() -> None:
    env = {"SWITCHYARD_CONFIG": "/etc/sy.yaml", "XDG_CONFIG_HOME": "/xdg"}
    assert config_candidates(env) == [Path("/etc/sy.yaml")]


def test_find_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    env = {"HOME": str(home)}
    assert find_config(env) is None
    user = home / ".config" / "switchyard" / "config.yaml"
    user.parent.mkdir(parents=True)
    user.write_text("{}")
    assert find_config(env) == user
    (work / "config.yaml").write_text("{}")
    assert find_config(env) == work / "config.yaml"


def test_find_config_env_override_returned_even_if_missing(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert find_config({"SWITCHYARD_CONFIG": str(missing)}) == missing


# ---------------------------------------------------------------- accounts and strategies


def test_listed_accounts_merge_their_settings_over_a_section_that_need_not_be_complete() -> None:
    config = parse({
        "providers": {"openrouter": {"accounts": {"personal": {"api_key": "k1"}, "team": {"api_key": "k2"}},
                                     "strategy": "fill-first"}},
        "default": {"use": "openrouter/x"},
    }, env={})
    pool = config.pools["openrouter"]
    assert [(a.name, a.settings.api_key) for a in pool.accounts or ()] == [("personal", "k1"), ("team", "k2")]
    assert pool.strategy == "fill-first"
    assert config.providers["openrouter"].api_key == "k1"  # the first account stands for the provider


def test_without_accounts_the_pool_is_left_to_discovery_and_sticky() -> None:
    config = parse({"providers": {"codex": {}}, "default": {"use": "codex/x"}})
    assert config.pools["codex"].accounts is None and config.pools["codex"].strategy == "sticky"
    assert [a.name for a in parse({"providers": {"codex": {"accounts": ["default", "work"]}}}).pools["codex"].accounts
            or ()] == ["default", "work"]


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"accounts": {"team": {}}}, "providers.openrouter.accounts.team.api_key: required"),
        ({"api_key": "k", "accounts": ["a", "a"]}, "providers.openrouter.accounts: lists an account twice"),
        ({"api_key": "k", "accounts": []}, "providers.openrouter.accounts: must name at least one account"),
        ({"api_key": "k", "accounts": ["../up"]}, "providers.openrouter.accounts[0]: expected an account name"),
        ({"api_key": "k", "accounts": {"default": {"api_key": "x"}}},
         "providers.openrouter.accounts.default: takes no settings"),
        ({"api_key": "k", "accounts": {"a": {"strategy": "fill-first"}}},
         "providers.openrouter.accounts.a.strategy: not allowed inside an account"),
        ({"api_key": "k", "accounts": "a"}, "providers.openrouter.accounts: expected a list of names or a mapping"),
        ({"api_key": "k", "strategy": "round_robin"},
         "providers.openrouter.strategy: unknown strategy 'round_robin' (did you mean 'round-robin'?)"),
    ],
)
def test_account_mistakes_name_their_place(section: dict[str, Any], message: str) -> None:
    assert str(error({"providers": {"openrouter": section}}, env={})).startswith(message)


def test_a_rule_limits_accounts_only_of_its_own_providers() -> None:
    rule = parse({"routes": [{"when": {"tier": "opus"}, "use": "codex/a", "fallback": ["kiro/b"],
                              "accounts": {"codex": ["work"], "kiro": "x"}, "strategy": "round-robin"}]}).routes[0]
    assert rule.accounts == {"codex": ("work",), "kiro": ("x",)} and rule.strategy == "round-robin"
    assert parse({"routes": [{"when": {"tier": "opus"}, "use": "codex/a", "accounts": ["work"]}]}).routes[0].accounts \
        == {"codex": ("work",)}
    assert str(error({"routes": [{"when": {"tier": "opus"}, "use": "codex/a", "accounts": {"kiro": ["x"]}}]})) \
        .startswith("routes[0].accounts.kiro: not a provider of this rule (providers here: codex)")
