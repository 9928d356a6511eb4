"""switchyard-echo: an example provider plugin for switchyard-router.

The entry point `echo = "switchyard_echo"` in the `switchyard.providers` group points at this
module; the router loads it with pluggy and calls `register_providers` below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from router import Provider, hookimpl
from switchyard_echo.provider import EchoProvider, EchoSettings

__all__ = ["EchoProvider", "EchoSettings", "register_providers"]


@hookimpl
def register_providers(register: Callable[[type[Provider[Any]]], None]) -> None:
    """Make the `echo` provider available to routes (`use: echo/echo-1`)."""
    register(EchoProvider)
