"""Guards for client request bodies, shared by both client dialects (Anthropic and OpenAI).

How deep a body may nest, how a wrong value is quoted in a message, and the scalar type checks,
so that a bad request reads alike whichever front door it came through. Each dialect supplies
its own error (`Checks(fail)`) and path notation.
"""

from __future__ import annotations

import reprlib
import threading
from collections.abc import Callable
from typing import Any

import orjson

MAX_DEPTH = 128
"""How many levels a request body may nest. Claude Code's requests nest about a dozen (their JSON
Schemas included). Deeper ones would fail later, and as 500s: orjson's encoder stops at
`_ENCODER_DEPTH` levels (tool inputs and schemas are re-encoded, providers nest them a few levels
deeper than the client did), and nested tool results are decoded recursively."""
_ENCODER_DEPTH = 254
"""The deepest value `orjson.dumps` encodes; one level more raises "Recursion limit reached"."""
_PATH_LEVELS = 4
"""How far down a too-deep body's error message follows the nesting (each level is one more pass)."""
_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 60
_SHOWN.maxlevel = 3


def load_object(body: bytes, fail: Callable[[str, str], Exception],
                param: Callable[[str], str] = str) -> dict[str, Any]:
    """A request body parsed as a JSON object nesting at most `MAX_DEPTH` levels, else `fail(path, problem)`.

    The path is "" for the body as a whole; a too-deep body names the field it nests in, as
    `param` writes a dotted path in the dialect's own notation.
    """
    if not body:
        raise fail("", "request body is empty; expected a JSON object")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise fail("", f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise fail("", "request body must be a JSON object")
    if not fits_depth(data):
        raise fail(param(too_deep_path(data)), f"JSON nested more than {MAX_DEPTH} levels deep")
    return data


# -- nesting -------------------------------------------------------------------------------


class _Depth:
    """Nested lists that move orjson's depth limit to where `MAX_DEPTH` is, for a value found
    `level` levels down the body: the value fits when orjson encodes it in the innermost list."""

    def __init__(self, level: int = 1) -> None:
        self.inner: list[Any] = [None]
        self.outer = self.inner
        for _ in range(_ENCODER_DEPTH - MAX_DEPTH + level - 2):
            self.outer = [self.outer]

    def fits(self, value: Any) -> bool:
        self.inner[0] = value
        try:
            orjson.dumps(self.outer)
        except orjson.JSONEncodeError:
            return False
        finally:
            self.inner[0] = None
        return True


class _BodyDepth(_Depth, threading.local):
    """The lists for a whole body, built once per thread: checking one is then a single orjson
    pass (about 12 µs for a 30 KB Claude Code request), and no allocation."""


_BODY_DEPTH = _BodyDepth()


def fits_depth(data: Any) -> bool:
    """True when `data` nests no more than `MAX_DEPTH` levels (one orjson pass, no allocation)."""
    return _BODY_DEPTH.fits(data)


def too_deep_path(data: dict[str, Any]) -> str:
    """The dotted path of the field a too-deep body nests in, followed down `_PATH_LEVELS` levels."""
    path: list[str] = []
    value: Any = data
    while len(path) < _PATH_LEVELS:
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        depth = _Depth(len(path) + 2)
        found = next(((key, item) for key, item in items if isinstance(item, (dict, list)) and not depth.fits(item)),
                     None)
        if found is None:
            break
        path.append(str(found[0]))
        value = found[1]
    return ".".join(path) or "request body"


# -- scalars -------------------------------------------------------------------------------


class Checks:
    """Type checks of JSON values that fail with a dialect's own error (`fail(path, problem)`):
    the Anthropic decoder's and the OpenAI one's, so both word their messages alike."""

    def __init__(self, fail: Callable[[str, str], Exception]) -> None:
        self.fail = fail

    def text(self, value: Any, path: str, *, required: bool = False) -> str:
        if value is None and required:
            raise self.fail(path, "Field required")
        if not isinstance(value, str):
            raise self.fail(path, f"Input should be a valid string, got {kind_of(value)}")
        if required and not value:
            raise self.fail(path, "String should not be empty")
        return value

    def integer(self, value: Any, path: str, minimum: int) -> int:
        if value is None:
            raise self.fail(path, "Field required")
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"Input should be a valid integer, got {kind_of(value)}")
        if value < minimum:
            raise self.fail(path, f"Input should be greater than or equal to {minimum}")
        return value

    def number(self, value: Any, path: str, low: float, high: float) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(path, f"Input should be a valid number, got {kind_of(value)}")
        if not low <= value <= high:
            raise self.fail(path, f"Input should be between {low:g} and {high:g}")
        return float(value)

    def flag(self, value: Any, path: str) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(path, f"Input should be a valid boolean, got {kind_of(value)}")
        return value

    def mapping(self, value: Any, path: str) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(path, f"Input should be an object, got {kind_of(value)}")
        return value

    def items(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, f"Input should be a valid list, got {kind_of(value)}")
        return value



def shown(value: Any) -> str:
    """A wrong value as a message quotes it: its repr, cut short (a client may send megabytes)."""
    return _SHOWN.repr(value)


def kind_of(value: Any) -> str:
    """A JSON value's kind as validation messages name it (`object`, `string`, `null`, ...)."""
    return "null" if value is None else type(value).__name__.replace("dict", "object").replace("str", "string")
