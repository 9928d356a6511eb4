"""Upstream request bodies as compact JSON."""

from __future__ import annotations

from typing import Any

import orjson


def json_body(document: Any) -> bytes:
    """`document` as compact JSON for an upstream request, in a buffer of exactly its size.

    orjson's output keeps its over-allocated buffer (about 3.5x the JSON for a 150 KB body), and
    the HTTP client holds a request's body for as long as its streamed reply lasts; an exact-size
    copy costs one memcpy and releases the rest at once.
    """
    return bytes(memoryview(orjson.dumps(document)))
