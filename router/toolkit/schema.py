"""Cleaning the JSON schemas of client tools for backends that validate them more strictly.

Backends refuse or choke on keywords Claude accepts (`$schema`, `additionalProperties`,
`propertyNames`, an empty `required`), each backend on its own set. `clean_schema` drops the
keywords a provider names, at every depth of the schema, and nothing else. It walks the
schema's structure rather than every key, so a *property* that happens to be called
`$schema` or `additionalProperties` is kept: only keywords are dropped, never property names.

Claude Code sends the same tools every turn, so a provider memoises the function that builds
its final schema with `router.toolkit.memo.memo_by_json` (whose results are shared and must
not be changed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
"""Keywords whose value maps names to subschemas."""
SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
"""Keywords whose value is a list of subschemas."""
SCHEMA_VALUES = (
    "items",
    "additionalProperties",
    "not",
    "contains",
    "if",
    "then",
    "else",
    "unevaluatedProperties",
)
"""Keywords whose value is a subschema (or, for `items` in old drafts, a list of them)."""


def clean_schema(schema: Mapping[str, Any], drop: Iterable[str], *, complete_objects: bool = False) -> dict[str, Any]:
    """A copy of `schema` without the keywords in `drop` and without empty `required` lists.

    With `complete_objects`, every object schema also gets `properties` (`{}` when it had
    none) and its `required` keeps only names that are properties, which backends that
    check `required` against `properties` insist on.
    """
    return _clean(schema, frozenset(drop), complete_objects)


def _clean(schema: Mapping[str, Any], drop: frozenset[str], complete: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in drop or (key == "required" and isinstance(value, list) and not value):
            continue
        if key in SCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {name: _clean_value(sub, drop, complete) for name, sub in value.items()}
        elif key in SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_clean_value(sub, drop, complete) for sub in value]
        elif key in SCHEMA_VALUES:
            out[key] = (
                [_clean_value(sub, drop, complete) for sub in value]
                if isinstance(value, list)
                else _clean_value(value, drop, complete)
            )
        else:
            out[key] = value
    return _complete_object(out) if complete else out


def _clean_value(value: Any, drop: frozenset[str], complete: bool) -> Any:
    return _clean(value, drop, complete) if isinstance(value, Mapping) else value


def is_object(schema: Mapping[str, Any]) -> bool:
    """Whether the schema's `type` is, or includes, `object`."""
    kind = schema.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind)


def _complete_object(schema: dict[str, Any]) -> dict[str, Any]:
    if not is_object(schema):
        return schema
    properties = schema.setdefault("properties", {})
    required = schema.get("required")
    if isinstance(required, list) and isinstance(properties, Mapping):
        kept = [name for name in required if isinstance(name, str) and name in properties]  # [{}] is no name
        if kept:
            schema["required"] = kept
        else:
            del schema["required"]
    return schema


def subschemas(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """The schemas directly inside `schema`, by the same keywords `clean_schema` follows."""
    for key in SCHEMA_MAPS:
        value = schema.get(key)
        if isinstance(value, Mapping):
            yield from (sub for sub in value.values() if isinstance(sub, Mapping))
    for key in (*SCHEMA_LISTS, *SCHEMA_VALUES):
        value = schema.get(key)
        subs = value if isinstance(value, list) else [value]
        yield from (sub for sub in subs if isinstance(sub, Mapping))
