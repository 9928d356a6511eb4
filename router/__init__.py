"""Switchyard: an Anthropic Messages API router over pluggable backends.

This module is the plugin API: the contract a provider implements and the toolkit of helpers
it may use, each re-exported from the module that defines it. `__all__` is pinned by a test
(`tests/test_plugin_api.py`) and every name in it is documented in `docs/plugins.md`. The
value types live in their own modules: `router.conversation` (the canonical request),
`router.events` (the canonical stream events) and `router.errors` (the exception tree).
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing's own would import typing, which `router statusline` can do without
if TYPE_CHECKING:  # the names resolve lazily (`__getattr__` below); type checkers read them here
    from typing import Any

    from router.events import Batch
    from router.hookspecs import ENTRY_POINT_GROUP, hookimpl
    from router.provider import (
        DEFAULT_ACCOUNT,
        CredentialStatus,
        LoginOptions,
        ModelInfo,
        NoSettings,
        Provider,
        ProviderContext,
        QuotaSink,
        Say,
    )
    from router.quota import QuotaWindow
    from router.route import Route
    from router.settings import InvalidField, build_settings, check_field
    from router.toolkit.blocks import BlockQueue
    from router.toolkit.catalogue import Catalogue
    from router.toolkit.clock import token_expiry
    from router.toolkit.documents import document_text
    from router.toolkit.eventsource import ServerSentEvent, read_events
    from router.toolkit.failures import describe_wait, retry_after, safe_message, too_long_message
    from router.toolkit.filelock import credential_lock
    from router.toolkit.jsonbody import json_body
    from router.toolkit.loginfile import parse_login_json, read_login_text
    from router.toolkit.memo import memo_by_json
    from router.toolkit.refresh import SingleFlightRefresh
    from router.toolkit.schema import clean_schema
    from router.toolkit.secretfile import write_private_text
    from router.toolkit.toolnames import NameTable, ToolNames, short_id, short_name
    from router.toolkit.translation import Payload, shows_thinking
    from router.toolkit.turns import split_user_turn
    from router.toolkit.upstream import Backend, accept, drain
    from router.transport.body import body_chunks

__version__ = "0.1.0"

__all__ = [
    # the contract
    "ENTRY_POINT_GROUP",
    "Batch",
    "CredentialStatus",
    "InvalidField",
    "LoginOptions",
    "ModelInfo",
    "NoSettings",
    "Provider",
    "ProviderContext",
    "Route",
    "Say",
    "__version__",
    "build_settings",
    "check_field",
    "hookimpl",
    "DEFAULT_ACCOUNT",
    "QuotaSink",
    "QuotaWindow",
    # the toolkit
    "Backend",
    "BlockQueue",
    "Catalogue",
    "NameTable",
    "Payload",
    "ServerSentEvent",
    "SingleFlightRefresh",
    "ToolNames",
    "accept",
    "body_chunks",
    "clean_schema",
    "describe_wait",
    "document_text",
    "drain",
    "json_body",
    "memo_by_json",
    "read_events",
    "retry_after",
    "safe_message",
    "short_id",
    "short_name",
    "shows_thinking",
    "too_long_message",
    "write_private_text",
    "token_expiry",
    "read_login_text",
    "parse_login_json",
    "split_user_turn",
    "credential_lock",
]

_EXPORTS = {
    "router.events": "Batch",
    "router.hookspecs": "ENTRY_POINT_GROUP hookimpl",
    "router.provider": "DEFAULT_ACCOUNT CredentialStatus LoginOptions ModelInfo NoSettings Provider ProviderContext "
                       "QuotaSink Say",
    "router.quota": "QuotaWindow",
    "router.route": "Route",
    "router.settings": "InvalidField build_settings check_field",
    "router.toolkit.blocks": "BlockQueue",
    "router.toolkit.catalogue": "Catalogue",
    "router.toolkit.clock": "token_expiry",
    "router.toolkit.documents": "document_text",
    "router.toolkit.eventsource": "ServerSentEvent read_events",
    "router.toolkit.failures": "describe_wait retry_after safe_message too_long_message",
    "router.toolkit.filelock": "credential_lock",
    "router.toolkit.jsonbody": "json_body",
    "router.toolkit.loginfile": "parse_login_json read_login_text",
    "router.toolkit.memo": "memo_by_json",
    "router.toolkit.refresh": "SingleFlightRefresh",
    "router.toolkit.schema": "clean_schema",
    "router.toolkit.secretfile": "write_private_text",
    "router.toolkit.toolnames": "NameTable ToolNames short_id short_name",
    "router.toolkit.translation": "Payload shows_thinking",
    "router.toolkit.turns": "split_user_turn",
    "router.toolkit.upstream": "Backend accept drain",
    "router.transport.body": "body_chunks",
}
"""Where each exported name is defined; `__getattr__` imports the module on first use."""
_HOMES = {name: module for module, names in _EXPORTS.items() for name in names.split()}


def __getattr__(name: str) -> Any:
    """An exported name (or a submodule, as `router.toolkit` after a bare `import router`),
    imported on first use: `import router` stays cheap for `router statusline`, which Claude Code
    runs on every prompt and which needs none of the plugin API."""
    home = _HOMES.get(name)
    if home is None:
        if name.startswith("_"):
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        try:
            __import__(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
        return sys.modules[f"{__name__}.{name}"]
    __import__(home)
    value = getattr(sys.modules[home], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
