"""Tests of router.server.yamllines: config errors from a file name the line their path points at."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from router.conversation import Request
from router.errors import ConfigError
from router.events import Batch
from router.provider import Provider
from router.route import Route
from router.server.config import load_config, parse_config
from router.server.yamllines import LocatedConfigError, located, locate

# ---------------------------------------------------------------- fake providers


class _Fake(Provider[Any]):
    async def stream(self, request: Request, route: Route) -> AsyncIterator[Batch]:  # pragma: no cover
        raise NotImplementedError
        yield


@dataclass(frozen=True, slots=True)
class CodexSettings:
    auth_file: str | None = None
    models: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class KeyedSettings:
    api_key: str


class Codex(_Fake):
    name = "codex"
    Settings = CodexSettings


class Kiro(_Fake):
    name = "kiro"


class OpenRouter(_Fake):
    name = "openrouter"
    Settings = KeyedSettings


CLASSES: dict[str, type[Provider[Any]]] = {"codex": Codex, "kiro": Kiro, "openrouter": OpenRouter}
ENV = {"OPENROUTER_API_KEY": "sk-or-x"}


def load_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> ConfigError:
    """Load `text` as ./config.yaml, given relative, as a user would with `--config config.yaml`."""
    (tmp_path / "config.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(Path("config.yaml"), CLASSES, ENV)
    return info.value


# ---------------------------------------------------------------- load_config names the line


@pytest.mark.parametrize(
    ("text", "where", "path"),
    [
        pytest.param(
            "server:\n  port: 8765\nproviders:\n  codex:\n    auth_fil: ~/a.json\n",
            "5:5",
            "providers.codex.auth_fil",
            id="unknown provider key",
        ),
        pytest.param("providers:\n  codex: {}\n  kiro2: {}\n", "3:3", "providers.kiro2", id="unknown provider"),
        pytest.param(
            "routes:\n  - when: {tier: opus}\n    use: codex/a\n  - when:\n      tier: Sonnet\n    use: codex/b\n",
            "5:7",
            "routes[1].when.tier",
            id="bad tier, block style",
        ),
        pytest.param(
            "routes:\n  - when: {tier: opus}\n    use: codex/a\n  - when: {tier: 7}\n    use: codex/b\n",
            "4:12",
            "routes[1].when.tier",
            id="bad tier, flow style",
        ),
        pytest.param("# the server\nserver:\n  host: 0.0.0.0\n  port: high\n", "4:3", "server.port", id="bad type"),
        pytest.param("server:\n    port: 99999\n", "2:5", "server.port", id="out of range"),
        pytest.param(
            "server:\n  port: 8000\nserver:\n  port: 0\n", "4:3", "server.port", id="duplicate key, last wins"
        ),
        pytest.param(
            "providers:\n  openrouter:\n    api_key: ${NOT_SET}\n",
            "3:5",
            "providers.openrouter.api_key",
            id="unset environment variable",
        ),
        pytest.param(
            "providers:\n  codex:\n    models:\n      gpt-5.5: 3\n",
            "4:7",
            "providers.codex.models.gpt-5.5",
            id="key with a dot",
        ),
        pytest.param("- codex\n", "1:1", "", id="top level not a mapping"),
    ],
)
def test_error_names_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, where: str, path: str
) -> None:
    error = load_error(tmp_path, monkeypatch, text)
    assert str(error).startswith(f"config.yaml:{where}: ")
    assert error.path == path


def test_missing_key_names_its_ancestor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "routes:\n  - when: {tier: opus}\n    use: codex/a\n  - when: {tier: haiku}\n"
    error = load_error(tmp_path, monkeypatch, text)
    assert error.path == "routes[1].use"
    assert str(error).startswith("config.yaml:4:5: routes[1].use: required")


def test_message_keeps_the_original_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "routes:\n  - when: {tier: opus}\n    use: kiro2/x\n"
    with pytest.raises(ConfigError) as info:
        parse_config({"routes": [{"when": {"tier": "opus"}, "use": "kiro2/x"}]}, CLASSES, ENV)
    original = info.value
    error = load_error(tmp_path, monkeypatch, text)
    assert isinstance(error, LocatedConfigError)
    assert str(error) == f"config.yaml:3:5: {original}" == error.message
    assert (error.path, error.problem, error.hint) == (original.path, original.problem, original.hint)
    assert (error.file, error.line, error.column) == ("config.yaml", 3, 5)


def test_file_name_is_kept_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "my.yaml").write_text("server:\n  prot: 1\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"^conf/my\.yaml:2:3: server\.prot: unknown key"):
        load_config(Path("conf/my.yaml"), CLASSES, ENV)


def test_yaml_syntax_error_names_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = load_error(tmp_path, monkeypatch, "server:\n  port: 1\n  host: [unclosed\nroutes: []\n")
    assert str(error).startswith("config.yaml:4:")
    assert "invalid YAML" in str(error)


def test_control_character_names_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    error = load_error(tmp_path, monkeypatch, "server:\n  host: a\x01b\n")
    assert error.path == "config.yaml:2:10"
    assert error.problem == "invalid YAML: unacceptable character #x0001: special characters are not allowed"


def test_unlocated_error_still_names_the_file() -> None:
    error = located(ConfigError("server.port", "expected an integer"), "config.yaml", "")
    assert (str(error), error.line, error.column) == ("config.yaml: server.port: expected an integer", None, None)


# ---------------------------------------------------------------- locate


TEXT = """\
server:
  port: 1
providers:
  codex:
    models:
      gpt-5.5: a
      gpt-5: b
routes:
  - when: {tier: opus}
    use: codex/a
  -
    when:
      tier: x
    fallback: [codex/b, codex/c]
base: &base
  effort: high
  use: codex/base
default:
  <<: *base
  use: codex/d
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", (1, 1)),
        ("server", (1, 1)),
        ("server.port", (2, 3)),
        ("providers.codex.models.gpt-5.5", (6, 7)),
        ("providers.codex.models.gpt-5", (7, 7)),
        ("routes[0]", (9, 5)),
        ("routes[0].when.tier", (9, 12)),
        ("routes[1]", (12, 5)),
        ("routes[1].when.tier", (13, 7)),
        ("routes[1].fallback[1]", (14, 25)),
        ("default.use", (20, 3)),
        ("default.effort", (16, 3)),  # merged in from the anchor: where the value is written
        # not in the text: the deepest ancestor that is
        ("routes[1].use", (12, 5)),
        ("routes[7].use", (8, 1)),
        ("providers.codex.models.gpt-6", (5, 5)),
        ("server.port.deeper", (2, 3)),
        ("server[0]", (1, 1)),
        ("nowhere", (1, 1)),
    ],
)
def test_locate(path: str, expected: tuple[int, int]) -> None:
    assert locate(TEXT, path) == expected


@pytest.mark.parametrize(
    "text", ["", "# only a comment\n", "a: [1, 2\n", "a: 1\n---\nb: 2\n", "a: \x00\n", "\tb: 1\n", "a: *nope\n"]
)
def test_locate_never_raises_on_bad_or_empty_yaml(text: str) -> None:
    assert locate(text, "a") is None


@pytest.mark.parametrize("path", ["[", "]", "a[x]", "a..b", ".", "a[99999999999999999999]", "[0]", "a.[0]"])
def test_locate_never_raises_on_odd_paths(path: str) -> None:
    assert locate("a:\n  - 1\n", path) in {(1, 1), (2, 5)}
