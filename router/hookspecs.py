"""The plugin contract, as pluggy hook specifications.

A plugin is any module or object with functions marked `@router.hookimpl`. Built-in
providers are plugins registered through exactly the same hooks as third-party packages,
which are found through the entry-point group `ENTRY_POINT_GROUP`.

Hooks are synchronous and registration-shaped; behaviour lives on the provider objects
they register. New hooks are added only for a real use, and grow only by new arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from router.provider import Provider

PROJECT_NAME = "switchyard"
"""The pluggy project name; hook implementations must use this marker."""

ENTRY_POINT_GROUP = "switchyard.providers"
"""The entry-point group third-party provider packages declare in their `pyproject.toml`."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_providers(register: Callable[[type[Provider[Any]]], None]) -> None:
    """Register provider classes by calling `register(ProviderClass)` once for each.

    :param register: records a `router.Provider` subclass under its `name`. Registering two
        classes under one name is an error reported at start-up, naming both plugins.
    :returns: nothing; the return value is ignored.
    """
