"""router.toolkit.schema: keywords dropped at every depth, property names kept, objects completed."""

from __future__ import annotations

from typing import Any

import pytest

from router.toolkit.schema import clean_schema, subschemas

ANNOTATIONS = frozenset({"$schema", "$id", "$comment"})
STRICT = ANNOTATIONS | {"additionalProperties"}

CASES: list[tuple[str, dict[str, Any], frozenset[str], bool, dict[str, Any]]] = [
    ("top-level annotations go",
     {"$schema": "x", "$id": "y", "type": "object", "properties": {}}, ANNOTATIONS, False,
     {"type": "object", "properties": {}}),
    ("a property named like a keyword stays",
     {"type": "object", "properties": {"$schema": {"type": "string", "$comment": "c"}}}, ANNOTATIONS, False,
     {"type": "object", "properties": {"$schema": {"type": "string"}}}),
    ("every depth is cleaned",
     {"type": "object", "properties": {"l": {"type": "array", "items": {"anyOf": [
         {"type": "object", "additionalProperties": False, "$defs": {"d": {"$id": "i"}}}]}}}}, STRICT, False,
     {"type": "object", "properties": {"l": {"type": "array", "items": {"anyOf": [
         {"type": "object", "$defs": {"d": {}}}]}}}}),
    ("an empty required goes, a full one stays",
     {"type": "object", "required": [], "properties": {"a": {"type": "object", "required": ["x"]}}}, ANNOTATIONS, False,
     {"type": "object", "properties": {"a": {"type": "object", "required": ["x"]}}}),
    ("a subschema under additionalProperties is cleaned when kept",
     {"type": "object", "additionalProperties": {"type": "string", "$comment": "c"}}, ANNOTATIONS, False,
     {"type": "object", "additionalProperties": {"type": "string"}}),
    ("completed objects get properties and a required list of properties only",
     {"type": "object", "required": ["a", "ghost"], "properties": {"a": {"type": ["object", "null"]}}},
     ANNOTATIONS, True,
     {"type": "object", "required": ["a"], "properties": {"a": {"type": ["object", "null"], "properties": {}}}}),
    ("required entries that are not names go when completing (a dict in the list failed as unhashable)",
     {"type": "object", "required": ["a", {"b": 1}, ["a"], 3, None], "properties": {"a": {}}}, ANNOTATIONS, True,
     {"type": "object", "required": ["a"], "properties": {"a": {}}}),
    ("a required list of no properties goes when completing",
     {"type": "object", "required": ["ghost"]}, ANNOTATIONS, True, {"type": "object", "properties": {}}),
    ("non-objects are not completed",
     {"type": "string", "enum": ["a"]}, ANNOTATIONS, True, {"type": "string", "enum": ["a"]}),
]


@pytest.mark.parametrize(("schema", "drop", "complete", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_clean_schema(schema: dict[str, Any], drop: frozenset[str], complete: bool, expected: dict[str, Any]) -> None:
    before = repr(schema)
    assert clean_schema(schema, drop, complete_objects=complete) == expected
    assert repr(schema) == before, "the input is never changed"


def test_subschemas_are_the_direct_children() -> None:
    schema = {"properties": {"a": {"type": "string"}}, "items": [{"type": "number"}], "not": {"const": 1},
              "anyOf": [{"type": "null"}, "junk"], "required": ["a"]}
    assert list(subschemas(schema)) == [{"type": "string"}, {"type": "null"}, {"type": "number"}, {"const": 1}]
