"""Tool names and call ids a backend accepts, and the way back: a helper for providers.

Most backends allow tool names of at most 64 characters from `[A-Za-z0-9_-]`, while Claude
allows 128 and MCP names run long (`mcp__server__some_long_tool_name`). A name that does not
fit is replaced by a readable, deterministic stand-in (an MCP name keeps its first and last
segment, so the model still sees what the tool does) ending in a hash of the full name, so two
stand-ins never collide. A `NameTable` records every substitution while a payload is built;
the frozen `ToolNames` maps the backend's names and ids in the reply back to the client's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_LENGTH = 64
"""The longest tool name or call id the backends accept."""

_FITS = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_DIGEST = 8


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_DIGEST]


def short_name(name: str) -> str:
    """`name` when it fits, else a readable stand-in of at most 64 characters (same input, same output)."""
    if _FITS.fullmatch(name):
        return name
    segments = name.split("__")
    head = f"{segments[0]}__{segments[-1]}" if len(segments) > 2 else name
    head = _UNSAFE.sub("_", head)[: MAX_LENGTH - _DIGEST - 1]
    return f"{head}_{_digest(name)}"


def short_id(value: str, *, safe_characters: bool = False) -> str:
    """A call id of at most 64 characters (and only `[A-Za-z0-9_-]` if `safe_characters`): head + hash."""
    fits = _FITS.fullmatch(value) if safe_characters else len(value) <= MAX_LENGTH
    if fits:
        return value
    head = _UNSAFE.sub("_", value) if safe_characters else value
    return f"{head[: MAX_LENGTH - _DIGEST - 1]}_{_digest(value)}"


@dataclass(frozen=True, slots=True)
class ToolNames:
    """Names and call ids that were shortened, keyed by what the backend saw; others map to themselves."""

    names: Mapping[str, str] = field(default_factory=dict)
    call_ids: Mapping[str, str] = field(default_factory=dict)

    def tool_name(self, upstream: str) -> str:
        """The client's name for a tool the backend called `upstream`."""
        return self.names.get(upstream, upstream)

    def call_id(self, upstream: str) -> str:
        """The client's id for a call the backend identified as `upstream`."""
        return self.call_ids.get(upstream, upstream)


class NameTable:
    """Shortens names and ids while a payload is built, remembering every substitution."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._call_ids: dict[str, str] = {}

    def name(self, original: str) -> str:
        """The name the backend gets for `original`."""
        short = short_name(original)
        if short != original:
            self._names[short] = original
        return short

    def call_id(self, original: str) -> str:
        """The call id the backend gets for `original`."""
        short = short_id(original)
        if short != original:
            self._call_ids[short] = original
        return short

    def substitutions(self) -> dict[str, str]:
        """Original name -> short name, for rewriting mentions of tools in prompt text."""
        return {original: short for short, original in self._names.items()}

    def frozen(self) -> ToolNames:
        """The substitutions made so far, for reading the reply."""
        return ToolNames(dict(self._names), dict(self._call_ids))
