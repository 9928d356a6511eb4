"""The plugin API is deliberate: what `router` exports is pinned, and `docs/plugins.md` documents all of it.

In datasette's manner, the documentation is checked against the code: every hook with its
parameters, every `Provider` method with its parameters, and every exported name of the
contract and the toolkit. Changing any of them without the docs fails here.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path

import pluggy

import router
from router import hookspecs
from router.conversation import Usage
from router.provider import Provider

DOCS = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text(encoding="utf-8")

PINNED = [
    "ENTRY_POINT_GROUP", "Batch", "CredentialStatus", "InvalidField", "LoginOptions", "ModelInfo", "NoSettings",
    "Provider", "ProviderContext", "Route", "Say", "__version__", "build_settings", "check_field", "hookimpl",
    "DEFAULT_ACCOUNT", "QuotaSink", "QuotaWindow",
    "Backend", "BlockQueue", "Catalogue", "NameTable", "Payload", "ServerSentEvent", "SingleFlightRefresh",
    "ToolNames", "accept", "body_chunks", "clean_schema", "describe_wait", "document_text", "drain", "json_body",
    "memo_by_json", "read_events", "retry_after", "safe_message", "short_id", "short_name", "shows_thinking",
    "too_long_message", "write_private_text", "token_expiry", "read_login_text", "parse_login_json", "split_user_turn",
    "credential_lock",
]
_HEADING = re.compile(r"^#{3,4} `(?P<name>\w+)\((?P<params>[^)]*)\)", re.MULTILINE)


def documented_signatures() -> dict[str, list[str]]:
    """`### \\`name(a, b)\\`` headings of the docs: name -> parameter names (without `self`, `*`, defaults)."""
    found = {}
    for match in _HEADING.finditer(DOCS):
        params = [p.strip().split("=")[0].split(":")[0].strip() for p in match["params"].split(",")]
        found[match["name"]] = [p for p in params if p and p not in ("self", "*")]
    return found


def parameters(function: object) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]  # type: ignore[arg-type]


def test_the_exported_names_are_pinned() -> None:
    assert router.__all__ == PINNED
    assert all(hasattr(router, name) for name in router.__all__)


def test_every_hook_is_documented_with_its_parameters() -> None:
    hooks = {name: function for name, function in vars(hookspecs).items()
             if callable(function) and hasattr(function, f"{hookspecs.PROJECT_NAME}_spec")}
    assert hooks, "no hook specifications found"
    documented = documented_signatures()
    for name, function in hooks.items():
        assert documented.get(name) == parameters(function), f"docs/plugins.md: hook {name} not documented as coded"
        assert function.__doc__, name


def test_every_provider_method_is_documented_with_its_parameters() -> None:
    methods = {name: member for name, member in vars(Provider).items()
               if not name.startswith("_") and inspect.isfunction(member)}
    assert {"stream", "count_tokens", "list_models", "credential_status", "usage_report", "login", "logout",
            "aclose", "route_options"} <= set(methods)
    documented = documented_signatures()
    for name, method in methods.items():
        assert documented.get(name) == parameters(method), f"docs/plugins.md: Provider.{name} not documented as coded"
        assert method.__doc__, name


def test_every_exported_name_has_a_row_in_the_reference() -> None:
    rows = set(re.findall(r"^\| `(\w+)", DOCS, re.MULTILINE))
    missing = [name for name in router.__all__ if name != "__version__" and name not in rows]
    assert not missing, f"docs/plugins.md has no reference row for {missing}"


def test_every_usage_field_is_documented() -> None:
    names = [field.name for field in dataclasses.fields(Usage)]
    documented = re.search(r"`router\.conversation\.Usage\((?P<params>[^)]*)\)`", DOCS)
    assert documented is not None, "docs/plugins.md does not describe router.conversation.Usage"
    assert [p.strip() for p in documented["params"].split(",")] == names


def test_the_hook_marker_is_the_projects() -> None:
    assert isinstance(router.hookimpl, pluggy.HookimplMarker)
    assert router.hookimpl.project_name == hookspecs.PROJECT_NAME
