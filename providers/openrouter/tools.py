"""Claude tools -> chat-completions function tools, tool_choice, and the way back for names.

Chat completions name functions with `^[A-Za-z0-9_-]{1,64}$` (OpenAI's rule, which several of
OpenRouter's upstreams enforce), while Claude allows 128 characters, so long MCP tool names
are shortened deterministically and mapped back in the reply. Schemas go through unchanged:
OpenRouter adapts them per upstream, and rewriting them here would only lose meaning.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from router.conversation import Tool, ToolChoice

MAX_NAME = 64
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_DIGEST = 8


def short_name(name: str) -> str:
    """`name` when chat completions accept it, else a readable stand-in of at most 64 characters.

    MCP names (`mcp__server__tool`) keep their first and last segment so the model still sees
    what the tool does; a hash of the full name keeps stand-ins distinct.
    """
    if _NAME.fullmatch(name):
        return name
    segments = name.split("__")
    head = f"{segments[0]}__{segments[-1]}" if len(segments) > 2 else name
    head = _UNSAFE.sub("_", head)[: MAX_NAME - _DIGEST - 1]
    return f"{head}_{hashlib.sha256(name.encode()).hexdigest()[:_DIGEST]}"


@dataclass(frozen=True, slots=True)
class ToolNames:
    """Tool names that were shortened, keyed by what the upstream saw; others map to themselves."""

    names: Mapping[str, str] = field(default_factory=dict)

    def tool_name(self, upstream: str) -> str:
        """The client's name for a tool the model called `upstream`."""
        return self.names.get(upstream, upstream)


class NameTable:
    """Shortens names while a payload is built, remembering every substitution for the reply."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}

    def name(self, original: str) -> str:
        """The name the upstream gets for `original`."""
        short = short_name(original)
        if short != original:
            self._names[short] = original
        return short

    def frozen(self) -> ToolNames:
        """The substitutions made so far."""
        return ToolNames(dict(self._names))


def function_tool(tool: Tool, names: NameTable) -> dict[str, Any]:
    """A client tool as a chat-completions function tool."""
    function: dict[str, Any] = {"name": names.name(tool.name), "parameters": dict(tool.input_schema)}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def tool_choice(choice: ToolChoice, names: NameTable) -> str | dict[str, Any]:
    """Anthropic's tool_choice in chat-completions terms (`any` is `required`)."""
    match choice.type:
        case "any":
            return "required"
        case "none":
            return "none"
        case "tool":
            return {"type": "function", "function": {"name": names.name(choice.name or "")}}
        case _:
            return "auto"
