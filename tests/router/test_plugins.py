"""The plugin contract: registration through pluggy, attribution, and start-up failures."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

import router
from router import Provider, hookimpl
from router.errors import ConfigError
from router.server.plugins import (
    BUILTIN_PLUGINS,
    PluginLoadError,
    make_plugin_manager,
    plugin_infos,
    provider_classes,
)
from tests.support import scripted

ROOT = Path(__file__).resolve().parents[2]


class _Plugin:
    """A plugin object as third parties write them: hashable, hooks as attributes (pluggy's subset callers need the hash)."""

    def __init__(self, **hooks: Any) -> None:
        self.__dict__.update(hooks)


def plugin(**hooks: Any) -> _Plugin:
    return _Plugin(**hooks)


def test_providers_are_attributed_to_the_plugin_that_registered_them() -> None:
    pm = make_plugin_manager(builtins=(), extra=[scripted], autoload=False)
    assert provider_classes(pm) == {"scripted": scripted.ScriptedProvider, "other": scripted.OtherProvider}
    (info,) = plugin_infos(pm)
    assert info.providers == ("other", "scripted")
    assert info.version == router.__version__  # not installed from a distribution: the router's own


def test_builtin_plugins_register_through_the_same_hook() -> None:
    if not BUILTIN_PLUGINS:
        pytest.skip("no built-in provider ships yet")
    pm = make_plugin_manager(autoload=False)
    names = {pm.get_name(p) for p in pm.get_plugins()}
    assert set(BUILTIN_PLUGINS) <= names
    for impl in pm.hook.register_providers.get_hookimpls():
        assert impl.plugin_name in BUILTIN_PLUGINS


def test_a_misspelt_hook_fails_at_start_up() -> None:
    @hookimpl
    def register_provider(register: Any) -> None:  # missing the trailing "s"
        pass

    with pytest.raises(PluginLoadError, match="unknown hook"):
        make_plugin_manager(builtins=(), extra=[plugin(register_provider=register_provider)], autoload=False)


def test_two_plugins_registering_one_name_is_a_start_up_error() -> None:
    @hookimpl
    def register_providers(register: Any) -> None:
        register(scripted.ScriptedProvider)

    pm = make_plugin_manager(builtins=(), extra=[scripted, plugin(register_providers=register_providers)],
                             autoload=False)
    with pytest.raises(ConfigError, match="'scripted' is registered by both"):
        provider_classes(pm)


@pytest.mark.parametrize("thing", [object, Provider, int])
def test_registering_something_that_is_not_a_named_provider_is_refused(thing: Any) -> None:
    @hookimpl
    def register_providers(register: Any) -> None:
        register(thing)

    pm = make_plugin_manager(builtins=(), extra=[plugin(register_providers=register_providers)], autoload=False)
    with pytest.raises(ConfigError):
        provider_classes(pm)


def test_entry_point_plugins_load_unless_autoload_is_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[str] = []

    import pluggy

    def fake_load(self: pluggy.PluginManager, group: str, name: str | None = None) -> int:
        loaded.append(group)
        return 0

    monkeypatch.setattr(pluggy.PluginManager, "load_setuptools_entrypoints", fake_load)
    monkeypatch.delenv("SWITCHYARD_NO_PLUGIN_AUTOLOAD", raising=False)
    make_plugin_manager(builtins=())
    monkeypatch.setenv("SWITCHYARD_NO_PLUGIN_AUTOLOAD", "1")
    make_plugin_manager(builtins=())
    assert loaded == ["switchyard.providers"]


def test_the_core_never_imports_a_provider() -> None:
    offenders = []
    for path in (ROOT / "router").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n == "providers" or n.startswith("providers.")]
    assert offenders == []


def test_hooks_are_documented_and_typed() -> None:
    from router import hookspecs

    spec = hookspecs.register_providers
    assert spec.__doc__ and ":param register:" in spec.__doc__
    assert "register" in spec.__annotations__


def test_the_hook_is_called_through_pluggy_once_per_plugin() -> None:
    """Pluggy's call machinery runs (monitoring sees each call), and each call reaches one plugin only."""
    pm = make_plugin_manager(extra=[scripted], autoload=False)
    calls: list[list[str]] = []
    pm.add_hookcall_monitoring(
        lambda name, impls, kwargs: calls.append([impl.plugin_name for impl in impls]), lambda *args: None
    )
    classes = provider_classes(pm)
    assert {"codex", "kiro", "openrouter", "scripted", "other"} <= set(classes)
    assert len(calls) == len(pm.hook.register_providers.get_hookimpls())
    assert all(len(plugins) == 1 for plugins in calls)
