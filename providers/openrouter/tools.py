"""Claude tools -> chat-completions function tools, tool_choice, and the way back for names.

Chat completions name functions with `^[A-Za-z0-9_-]{1,64}$` (OpenAI's rule, which several of
OpenRouter's upstreams enforce), while Claude allows 128 characters, so long MCP tool names
are shortened deterministically and mapped back in the reply. Schemas go through unchanged:
OpenRouter adapts them per upstream, and rewriting them here would only lose meaning.
"""

from __future__ import annotations

from typing import Any

from router.conversation import Tool, ToolChoice
from router.toolkit.toolnames import MAX_LENGTH
from router.toolkit.toolnames import NameTable as NameTable
from router.toolkit.toolnames import ToolNames as ToolNames
from router.toolkit.toolnames import short_name as short_name

MAX_NAME = MAX_LENGTH
"""The longest function name chat completions accept."""


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

