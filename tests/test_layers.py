"""The import direction between the router's layers, checked on the source with `ast`.

Every import counts: at module level, inside functions, under `TYPE_CHECKING`. Relative
imports are resolved; `from pkg import name` counts as importing `pkg.name` when that is a
module. The one facade import allowed inside `router` is `from router import __version__`
(the version lives in `router/__init__.py` because `pyproject.toml` reads it from there).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("router", "providers")

CORE = frozenset(
    f"router.{name}"
    for name in (
        "conversation",
        "events",
        "errors",
        "route",
        "quota",
        "provider",
        "settings",
        "hookspecs",
        "collect",
        "tokens",
    )
)
"""The top-level contract and canonical model; a new top-level module must be placed here or in a sub-package."""

FACADE_NAMES_ALLOWED = frozenset({"__version__"})

LAYER_MAY_IMPORT: dict[str, frozenset[str]] = {
    "transport": frozenset({"transport"}),
    "toolkit": frozenset({"core", "transport", "toolkit"}),
    "anthropic": frozenset({"core", "toolkit", "anthropic"}),
    "openai": frozenset({"core", "toolkit", "anthropic", "openai"}),  # reuses the Anthropic guards and messages
    "core": frozenset({"core"}),
    "facade": frozenset({"core", "transport", "toolkit"}),  # the plugin API re-exports the contract and the toolkit
    "testing": frozenset({"core", "transport", "toolkit", "anthropic", "testing"}),
    "server": frozenset({"core", "transport", "toolkit", "anthropic", "openai", "testing", "server"}),
    "providers": frozenset({"core", "transport", "toolkit", "anthropic", "testing", "facade"}),
}
"""Which layers of `router` each layer may import (`providers` here means any module under providers/).

`router.testing` (the contract kit for provider authors' tests) sits beside the toolkit: it
may use everything a provider may, except the server. `router.openai`, the second client dialect,
is for the server only: no provider, toolkit or testing module may depend on it.
"""


@dataclass(frozen=True, slots=True)
class Imported:
    line: int
    target: str
    names: tuple[str, ...]
    text: str


def layer_of(module: str) -> str | None:
    """The layer `module` belongs to; None for a module outside router and providers."""
    parts = module.split(".")
    if parts[0] == "providers":
        return "providers"
    if parts[0] != "router":
        return None
    if module == "router":
        return "facade"
    if parts[1] in ("transport", "toolkit", "anthropic", "openai", "testing", "server"):
        return parts[1]
    if module == "router.__main__":
        return "server"
    return "core" if module in CORE else "unclassified"


def imports_in(source: str, module: str, is_package: bool, modules: frozenset[str]) -> Iterator[Imported]:
    """Every import statement anywhere in `source`, with relative names resolved."""
    tree = ast.parse(source)
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        text = ast.get_source_segment(source, node) or ""
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Imported(node.lineno, alias.name, (), text)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    yield Imported(node.lineno, sub, (), text)
                else:
                    yield Imported(node.lineno, base, (alias.name,), text)


def _absolute(name: str | None, level: int, package: str) -> str:
    if level == 0:
        return name or ""
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - level + 1])
    return f"{base}.{name}" if name else base


def problem(module: str, imported: Imported) -> str | None:
    """Why `module` may not import `imported`, or None when it may."""
    source_layer = layer_of(module)
    target_layer = layer_of(imported.target)
    if source_layer is None or target_layer is None:
        return None
    if target_layer == "providers":
        return None if source_layer == "providers" else "nothing in router imports providers"
    if source_layer != "providers" and target_layer == "facade" and module != "router":
        if imported.names and set(imported.names) <= FACADE_NAMES_ALLOWED:
            return None
        return "inside router, import from the defining module, not from the router facade"
    if target_layer not in LAYER_MAY_IMPORT[source_layer]:
        allowed = ", ".join(sorted(LAYER_MAY_IMPORT[source_layer]))
        return f"the {source_layer} layer may import only {allowed} from router, not {imported.target}"
    return None


def violations(source: str, path: str, modules: frozenset[str]) -> list[str]:
    """`path:line: import text: reason` for each forbidden import in one module's source."""
    module, is_package = module_of(path)
    if layer_of(module) == "unclassified":
        return [f"{path}:1: {module} is in no layer: add it to CORE in tests/test_layers.py or to a sub-package"]
    found = []
    for imported in imports_in(source, module, is_package, modules):
        reason = problem(module, imported)
        if reason is not None:
            found.append(f"{path}:{imported.line}: `{imported.text}`: {reason}")
    return found


def module_of(path: str) -> tuple[str, bool]:
    """The dotted module name of a file path relative to the project root, and whether it is a package."""
    parts = list(Path(path).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def source_files() -> list[str]:
    return sorted(
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    )


def all_modules(paths: list[str]) -> frozenset[str]:
    return frozenset(module_of(path)[0] for path in paths)


# ---------------------------------------------------------------- the real tree


def test_the_tree_follows_the_import_direction() -> None:
    paths = source_files()
    modules = all_modules(paths)
    assert {"router.transport.http1", "router.toolkit.eventsource", "router.server.app"} <= modules
    found = [line for path in paths for line in violations((ROOT / path).read_text(), path, modules)]
    assert not found, "imports against the layering rules:\n" + "\n".join(found)


def test_every_core_module_exists() -> None:
    """A core name that no longer exists would make the rules quietly looser."""
    assert CORE <= all_modules(source_files())


# ---------------------------------------------------------------- the checker itself

MODULES = frozenset(
    {
        "router",
        "router.conversation",
        "router.errors",
        "router.provider",
        "router.server",
        "router.server.app",
        "router.toolkit",
        "router.toolkit.eventsource",
        "router.transport",
        "router.transport.http1",
        "router.anthropic",
        "router.anthropic.encode",
        "router.openai",
        "router.openai.chat_encode",
        "providers",
        "providers.codex",
        "providers.codex.tools",
    }
)


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        ("router/transport/body.py", "from router.errors import ProviderError\n", "transport layer may import only"),
        ("router/transport/body.py", "from ..errors import ProviderError\n", "not router.errors"),
        ("router/toolkit/x.py", "def f():\n    from router.server.app import create_app\n", "not router.server.app"),
        ("router/toolkit/x.py", "from router.anthropic import encode\n", "not router.anthropic.encode"),
        (
            "router/provider.py",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from router.transport import http1\n",
            "core layer may import only core",
        ),
        ("router/anthropic/encode.py", "import router.transport.http1\n", "not router.transport.http1"),
        ("router/errors.py", "from router import Provider\n", "not from the router facade"),
        ("router/server/app.py", "import router\n", "not from the router facade"),
        ("router/server/app.py", "from providers.codex import tools\n", "nothing in router imports providers"),
        ("router/server/app.py", "from providers import codex\n", "nothing in router imports providers"),
        ("providers/codex/tools.py", "from router.server.app import create_app\n", "not router.server.app"),
        ("router/toolkit/x.py", "from ..server import app\n", "not router.server.app"),
        ("router/openai/chat_encode.py", "from router.server import app\n", "not router.server.app"),
        ("router/openai/chat_encode.py", "import router.transport.http1\n", "openai layer may import only"),
        ("router/openai/chat_encode.py", "from providers.codex import tools\n", "nothing in router imports providers"),
        ("providers/codex/tools.py", "from router.openai import chat_encode\n", "not router.openai.chat_encode"),
        ("router/anthropic/encode.py", "from router.openai import chat_encode\n", "not router.openai.chat_encode"),
    ],
)
def test_a_forbidden_import_is_reported_with_file_and_line(path: str, source: str, expected: str) -> None:
    found = violations(source, path, MODULES)
    assert len(found) == 1, found
    line = source.count("\n", 0, source.rindex("import")) + 1
    assert found[0].startswith(f"{path}:{line}: `"), found
    assert expected in found[0]


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("router/transport/body.py", "from router.transport import http1\nfrom . import http1\nimport httpx\n"),
        ("router/toolkit/x.py", "from router.errors import AuthError\nfrom router.transport.http1 import Pool\n"),
        ("router/toolkit/x.py", "from .eventsource import read\n"),
        ("router/anthropic/encode.py", "from router.toolkit import eventsource\nfrom router import errors\n"),
        ("router/provider.py", "from router.conversation import Request\n"),
        ("router/openai/chat_encode.py", "from router.anthropic import encode\nfrom router.errors import AuthError\n"),
        ("router/server/app.py", "from router.openai import chat_encode\n"),
        ("router/__init__.py", "from router.provider import Provider\n"),
        ("router/server/app.py", "from router import __version__\nfrom router.transport import http1\n"),
        ("router/server/plugins.py", "BUILTIN_PLUGINS = ('providers.codex',)\n"),
        ("providers/codex/tools.py", "from router import Provider, hookimpl\nfrom router.toolkit import eventsource\n"),
        ("providers/codex/__init__.py", "from .tools import NameTable\nfrom providers.codex import tools\n"),
    ],
)
def test_an_allowed_import_is_not_reported(path: str, source: str) -> None:
    assert violations(source, path, MODULES) == []


def test_a_top_level_module_outside_the_core_is_reported() -> None:
    assert violations("import json\n", "router/helpers.py", MODULES) == [
        "router/helpers.py:1: router.helpers is in no layer: add it to CORE in tests/test_layers.py or to a sub-package"
    ]
