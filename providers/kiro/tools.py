"""Claude tools -> Kiro `toolSpecification`s: names Kiro allows, schemas it accepts, and the way back.

Kiro's validator answers most mistakes with a bare "Improperly formed request", so the
known triggers (protocol sheet A4, rules 6-8 and 10) are avoided up front:

- names longer than 64 characters (MCP tools such as `mcp__plugin_…`) are shortened
  deterministically to a readable head plus a hash, recorded in a `ToolNames` so the reply
  maps calls back to the client's names;
- descriptions longer than `DESCRIPTION_LIMIT` are cut, and the full text travels in the
  prompt instead (the limit is the gateways' 10,000 characters; the sheet names no other);
- schemas lose `additionalProperties`, empty `required` lists and annotation keywords;
- no `cachePoint` entries are ever put in the tools array.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from router.conversation import Tool
from router.toolkit import schema as schema_tools
from router.toolkit.memo import memo_by_json
from router.toolkit.toolnames import MAX_LENGTH, short_id
from router.toolkit.toolnames import NameTable as NameTable
from router.toolkit.toolnames import ToolNames as ToolNames
from router.toolkit.toolnames import short_name as short_name

MAX_NAME_LENGTH = MAX_LENGTH
"""The longest tool name Kiro accepts."""

DESCRIPTION_LIMIT = 10_000
"""Longest tool description sent in the spec (C2C/JWG `TOOL_DESCRIPTION_MAX_LENGTH`)."""

DROPPED_KEYWORDS = frozenset({"additionalProperties", "$schema", "$id", "$comment"})
"""Keywords removed at every depth (with empty `required` lists): Kiro's validator refuses them."""


def safe_id(tool_use_id: str) -> str:
    """A tool-use id Kiro accepts (`[A-Za-z0-9_-]`, at most 64): the id itself when it already is.

    Uses and results go through the same function, so pairs keep matching; no reverse map is
    needed because replies carry Kiro's own ids.
    """
    return short_id(tool_use_id, safe_characters=True)


def clean_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy Kiro accepts: no `additionalProperties`/annotations, no empty `required`."""
    return schema_tools.clean_schema(schema, DROPPED_KEYWORDS)


@memo_by_json()
def input_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned schema, always with an object at the top (Kiro wants object inputs).

    Memoised, since the same tools come every turn: the result is shared and must not be changed.
    """
    clean = clean_schema(schema) if isinstance(schema, Mapping) else {}
    if clean.get("type") != "object":
        clean = {**clean, "type": "object"}
    clean.setdefault("properties", {})
    return clean


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One converted tool, and the full description when it had to move into the prompt."""

    spec: dict[str, Any]
    moved_description: str | None = None


def tool_spec(tool: Tool, names: NameTable, *, limit: int = DESCRIPTION_LIMIT) -> ToolSpec:
    """A client tool as `{"toolSpecification": {...}}`; an empty description becomes `Tool: <name>`."""
    name = names.name(tool.name)
    description = tool.description.strip() or f"Tool: {name}"
    moved = None
    if len(description) > limit:
        moved = description
        pointer = f"\n\n[Description shortened; the full documentation of '{name}' is in the instructions.]"
        description = description[: limit - len(pointer)].rstrip() + pointer
    spec = {
        "name": name,
        "description": description,
        "inputSchema": {"json": input_schema(tool.input_schema)},
    }
    return ToolSpec({"toolSpecification": spec}, moved)


def stub_spec(name: str) -> dict[str, Any]:
    """A minimal spec for a tool the history used but the request no longer declares.

    Kiro refuses tool uses in history without a tool config (`TOOL_CONFIG_MISSING`); the
    stub keeps the history valid without turning earlier calls into text (llmhub's approach).
    """
    schema = {"type": "object", "properties": {}}
    spec = {"name": name, "description": f"Tool: {name} (no longer offered)", "inputSchema": {"json": schema}}
    return {"toolSpecification": spec}

