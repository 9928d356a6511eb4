"""Switchyard: an Anthropic Messages API router over pluggable backends.

This module is the plugin API: the contract a provider implements and the toolkit of helpers
it may use, each re-exported from the module that defines it. `__all__` is pinned by a test
(`tests/test_plugin_api.py`) and every name in it is documented in `docs/plugins.md`. The
value types live in their own modules: `router.conversation` (the canonical request),
`router.events` (the canonical stream events) and `router.errors` (the exception tree).
"""

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
