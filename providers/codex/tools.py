"""Claude tools -> Codex tools: schemas the backend accepts, names it allows, and the way back.

Codex validates function tools even with `strict: false`: the parameters must be an object
schema at the top level (no `oneOf`/`anyOf`/`allOf`/`enum`/`not` there), and names and
call ids are limited to 64 characters. Claude Code's tools mostly fit already, but MCP tools
can have long names and any client may send schemas Codex refuses, so every tool passes
through here. Shortened names are recorded in a `ToolNames` so replies map back exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from router.conversation import ServerTool, Tool, ToolChoice
from router.toolkit import schema as schema_tools
from router.toolkit.memo import memo_by_json
from router.toolkit.toolnames import MAX_LENGTH as MAX_LENGTH
from router.toolkit.toolnames import NameTable as NameTable
from router.toolkit.toolnames import ToolNames as ToolNames
from router.toolkit.toolnames import short_id
from router.toolkit.toolnames import short_name as short_name

DROPPED_KEYWORDS = frozenset({"$schema", "$id", "$comment", "propertyNames"})
"""Keywords removed at every depth: annotations Codex has no use for, and `propertyNames`,
which only narrows what the client validates again anyway."""

_COMBINATORS = ("oneOf", "anyOf", "allOf")
_TOP_LEVEL_REJECTED = (*_COMBINATORS, "enum", "not", "const")
_WEB_LOCATION_KEYS = ("type", "city", "region", "country", "timezone")


# -- schemas ------------------------------------------------------------------------------------


@memo_by_json()
def function_parameters(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A Claude `input_schema` reshaped into parameters Codex accepts for a non-strict function.

    Memoised, since the same tools come every turn: the result is shared and must not be changed.
    """
    clean = clean_schema(schema) if isinstance(schema, Mapping) else {}
    return _object_at_top(clean)


def clean_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without `DROPPED_KEYWORDS`, every object schema given `properties` (Codex wants them)."""
    return schema_tools.clean_schema(schema, DROPPED_KEYWORDS, complete_objects=True)


def _object_at_top(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the top level a plain object, folding the properties of combinator variants into it.

    Only `allOf` variants add to `required`: with `anyOf`/`oneOf` no single variant's list holds.
    """
    properties = dict(_mapping(schema.get("properties")))
    for variant in _variants(schema, _COMBINATORS):
        for name, sub in _mapping(variant.get("properties")).items():
            properties.setdefault(name, sub)
    required = _names(schema.get("required"))
    for variant in _variants(schema, ("allOf",)):
        required += _names(variant.get("required"))
    top = {k: v for k, v in schema.items() if k not in _TOP_LEVEL_REJECTED and k != "required"}
    top.update(type="object", properties=properties)
    kept = list(dict.fromkeys(name for name in required if name in properties))
    return {**top, "required": kept} if kept else top


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _names(value: Any) -> list[str]:
    return [name for name in value if isinstance(name, str)] if isinstance(value, list) else []


def _variants(schema: Mapping[str, Any], keys: tuple[str, ...]) -> Iterator[Mapping[str, Any]]:
    for key in keys:
        variants = schema.get(key)
        for variant in variants if isinstance(variants, list) else ():
            if isinstance(variant, Mapping):
                yield variant


def strict_compatible(schema: Mapping[str, Any]) -> bool:
    """True when Codex's strict mode would accept `schema` as it is.

    Strict mode wants every object closed (`additionalProperties: false`) and every property
    required; a schema that is not must be sent non-strict rather than rejected with a 400.
    """
    if schema_tools.is_object(schema) or "properties" in schema:
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False:
            return False
        if not isinstance(properties, Mapping) or set(schema.get("required") or ()) != set(properties):
            return False
    return all(strict_compatible(sub) for sub in schema_tools.subschemas(schema))


# -- tool specs and tool choice ----------------------------------------------------------------


def function_tool(tool: Tool, names: NameTable) -> dict[str, Any]:
    """A client tool as a Codex function tool (always non-strict: Claude schemas are not strict)."""
    return {
        "type": "function",
        "name": names.name(tool.name),
        "description": tool.description,
        "parameters": function_parameters(tool.input_schema),
        "strict": False,
    }


def is_web_search(tool: ServerTool) -> bool:
    """Anthropic's web search server tools (`web_search_20250305` and later versions)."""
    return tool.type.startswith("web_search")


def hosted_tool(tool: ServerTool) -> tuple[dict[str, Any] | None, tuple[str, ...]]:
    """Codex's own tool for an Anthropic server tool, if it has one, and notes on what was lost."""
    if not is_web_search(tool):
        return None, (f"dropped server tool '{tool.name}' ({tool.type}): Codex has no equivalent",)
    spec: dict[str, Any] = {"type": "web_search"}
    notes: list[str] = []
    domains = tool.config.get("allowed_domains")
    if isinstance(domains, list) and domains:
        spec["filters"] = {"allowed_domains": [str(domain) for domain in domains]}
    location = tool.config.get("user_location")
    if isinstance(location, Mapping):
        spec["user_location"] = {k: location[k] for k in _WEB_LOCATION_KEYS if k in location}
    for ignored in ("blocked_domains", "max_uses"):
        if tool.config.get(ignored):
            notes.append(f"web search: '{ignored}' has no Codex equivalent and was ignored")
    return spec, tuple(notes)


def tool_choice(
    choice: ToolChoice | None, names: NameTable, hosted: Mapping[str, str]
) -> str | dict[str, str]:
    """Anthropic's tool_choice in Codex's terms; `hosted` maps server tool names to Codex tool types."""
    if choice is None or choice.type == "auto":
        return "auto"
    if choice.type == "any":
        return "required"
    if choice.type == "none":
        return "none"
    name = choice.name or ""
    if name in hosted:
        return {"type": hosted[name]}
    return {"type": "function", "name": names.name(name)}


def short_call_id(call_id: str) -> str:
    """A call id Codex accepts: at most 64 characters."""
    return short_id(call_id)

