"""Finding plugins and the providers they register.

Built-in providers are imported by module name and registered like any third-party plugin;
third-party ones come from the `switchyard.providers` entry-point group unless the
environment variable `SWITCHYARD_NO_PLUGIN_AUTOLOAD` is set (tests use it for a clean slate).
"""

from __future__ import annotations

from typing import Any

import importlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata

import pluggy

from router import hookspecs
from router.errors import ConfigError
from router.provider import Provider

BUILTIN_PLUGINS: tuple[str, ...] = ("providers.codex", "providers.openrouter", "providers.kiro")
"""Modules of the providers that ship with the router, registered under their module name."""

AUTOLOAD_ENV = "SWITCHYARD_NO_PLUGIN_AUTOLOAD"


class PluginLoadError(Exception):
    """A plugin could not be imported or does not fit the hook specifications."""


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """One loaded plugin, for `router plugins`."""

    name: str
    version: str
    builtin: bool
    providers: tuple[str, ...]


def make_plugin_manager(
    *, builtins: Iterable[str] = BUILTIN_PLUGINS, extra: Iterable[object] = (), autoload: bool | None = None
) -> pluggy.PluginManager:
    """A fresh plugin manager: built-ins, then `extra` plugin objects, then entry points.

    Raises `PluginLoadError` naming the culprit when a plugin fails to import or implements
    a hook that does not exist (a misspelling), so it fails at start-up, not at first use.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    try:
        for module_name in builtins:
            pm.register(importlib.import_module(module_name), name=module_name)
        for plugin in extra:
            pm.register(plugin)
        if autoload is None:
            autoload = not os.environ.get(AUTOLOAD_ENV)
        if autoload:
            pm.load_setuptools_entrypoints(hookspecs.ENTRY_POINT_GROUP)
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginLoadError(f"plugin {exc.plugin!r} does not fit the hook specifications: {exc}") from exc
    except ImportError as exc:
        raise PluginLoadError(f"a plugin failed to import: {exc}") from exc
    return pm


def provider_classes(pm: pluggy.PluginManager) -> dict[str, type[Provider[Any]]]:
    """Every registered provider class by name; a name registered twice is a start-up error."""
    return {name: cls for info in _registrations(pm) for name, cls in info[1].items()}


def plugin_infos(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """What `router plugins` shows: each plugin, its version and the providers it registers."""
    versions = {_dist_plugin_name(pm, plugin): dist.version for plugin, dist in pm.list_plugin_distinfo()}
    infos = []
    for plugin_name, classes in _registrations(pm):
        builtin = plugin_name.startswith("providers.") or plugin_name in BUILTIN_PLUGINS
        version = versions.get(plugin_name) or _builtin_version()
        infos.append(PluginInfo(plugin_name, version, builtin, tuple(sorted(classes))))
    return infos


def _registrations(pm: pluggy.PluginManager) -> list[tuple[str, dict[str, type[Provider[Any]]]]]:
    """Call the hook once per plugin, through pluggy, so every provider is attributed to its plugin.

    `subset_hook_caller` keeps pluggy's own calling machinery (hook wrappers, tracing,
    monitoring) while leaving out the other plugins' implementations; plugins are asked in
    the order they were registered.
    """
    seen: dict[str, str] = {}
    result = []
    impls = list(reversed(pm.hook.register_providers.get_hookimpls()))
    for impl in impls:
        classes: dict[str, type[Provider[Any]]] = {}
        others = [other.plugin for other in impls if other.plugin is not impl.plugin]
        caller = pm.subset_hook_caller("register_providers", remove_plugins=others)
        caller(register=_recorder(impl.plugin_name, classes, seen))
        result.append((impl.plugin_name, classes))
    return result


def _recorder(
    plugin: str, classes: dict[str, type[Provider[Any]]], seen: dict[str, str]
) -> Callable[[type[Provider[Any]]], None]:
    """The `register` callable handed to one plugin's hook."""

    def register(cls: type[Provider[Any]]) -> None:
        _check_provider_class(cls, plugin)
        if cls.name in seen:
            raise ConfigError("plugins", f"provider '{cls.name}' is registered by both {seen[cls.name]} and {plugin}")
        seen[cls.name] = plugin
        classes[cls.name] = cls

    return register


def _check_provider_class(cls: object, plugin: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise ConfigError("plugins", f"{plugin} registered {cls!r}, which is not a router.Provider subclass")
    if not getattr(cls, "name", ""):
        raise ConfigError("plugins", f"{plugin} registered {cls.__name__} without a `name`")


def _dist_plugin_name(pm: pluggy.PluginManager, plugin: object) -> str:
    return pm.get_name(plugin) or ""


def _builtin_version() -> str:
    try:
        return metadata.version("switchyard-router")
    except metadata.PackageNotFoundError:
        from router import __version__

        return __version__
