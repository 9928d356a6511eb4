"""Memoising by serialised JSON: the same document is computed once, a different one again."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from providers.codex.tools import function_parameters
from router.toolkit.memo import memo_by_json


def test_equal_documents_share_one_result_and_different_ones_do_not() -> None:
    calls: list[Any] = []

    @memo_by_json(size=2)
    def shape(document: Any) -> dict[str, Any]:
        calls.append(document)
        return {"seen": len(calls)}

    first = shape({"type": "object", "properties": {"a": {"type": "string"}}})
    again = shape({"type": "object", "properties": {"a": {"type": "string"}}})  # a new but equal dict
    assert again is first and len(calls) == 1
    assert shape({"type": "object", "properties": {"a": {"type": "integer"}}}) is not first
    shape({"type": "array"})  # the third distinct document evicts the oldest
    assert len(shape.cache) == 2  # type: ignore[attr-defined]
    shape({"type": "object", "properties": {"a": {"type": "string"}}})
    assert len(calls) == 4


class Opaque(Mapping[str, Any]):
    """A Mapping orjson cannot serialise: computed every time, never cached."""

    def __getitem__(self, key: str) -> Any:
        return {"type": "object"}[key]

    def __iter__(self) -> Iterator[str]:
        return iter(["type"])

    def __len__(self) -> int:
        return 1


def test_documents_that_are_not_plain_json_are_computed_every_time() -> None:
    calls: list[Any] = []

    @memo_by_json()
    def shape(document: Any) -> int:
        calls.append(document)
        return len(calls)

    assert shape(Opaque()) == 1 and shape(Opaque()) == 2


def test_codex_tool_parameters_are_cleaned_once_per_distinct_schema() -> None:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": {}}
    first = function_parameters(dict(schema))
    assert "$schema" not in first
    assert function_parameters(dict(schema)) is first
