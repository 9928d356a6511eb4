"""Memoising pure functions of JSON documents, keyed by their serialised bytes.

Claude Code sends the same two dozen tool schemas on every turn, and providers reshape each
one for their backend (cleaning keywords, forcing an object at the top): about 0.2 ms of a
150 KB request's CPU, every turn. Serialising a schema with orjson costs well under a
microsecond per schema, so the serialised form is a cheap exact key. Results are shared
between requests: callers must treat them as read-only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import orjson

T = TypeVar("T")


def memo_by_json(size: int = 256) -> Callable[[Callable[[Any], T]], Callable[[Any], T]]:
    """Decorator: cache `function(document)` by `orjson.dumps(document)`, at most `size` entries (oldest out first)."""

    def decorate(function: Callable[[Any], T]) -> Callable[[Any], T]:
        cache: dict[bytes, T] = {}

        @wraps(function)
        def cached(document: Any) -> T:
            try:
                key = orjson.dumps(document)
            except TypeError:  # not plain JSON (a test's custom Mapping, say): no caching
                return function(document)
            try:
                return cache[key]
            except KeyError:
                pass
            result = function(document)
            if len(cache) >= size:
                del cache[next(iter(cache))]
            cache[key] = result
            return result

        cached.cache = cache  # type: ignore[attr-defined]
        return cached

    return decorate
