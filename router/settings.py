"""The generic settings validator: a YAML mapping into a frozen dataclass, with dotted-path errors.

Used for the `server:` section and for every provider's own `Settings` and `RouteOptions`, so
plugins get the same error messages as the core without a schema library. Values that came
from `${VAR}` references are remembered as such and never shown in an error.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from router.errors import ConfigError

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECRET_WORDS = ("key", "token", "secret", "password")


class InvalidField(ValueError):
    """Raise from a settings dataclass's `__post_init__` to blame one field (`server.port`, not `server`)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field


def check_field(ok: bool, field: str, problem: str) -> None:
    if not ok:
        raise InvalidField(field, problem)


# ---------------------------------------------------------------- environment references


class _FromEnv(str):
    """A string with `${VAR}` expanded into it: it may hold a secret, so errors never show it."""

    __slots__ = ()


def expand_env(data: object, env: Mapping[str, str], path: str = "") -> object:
    """Expand `${VAR}` and `${VAR:-fallback}` in every string value of a YAML tree (keys are left alone)."""
    if isinstance(data, str):
        return _expand_string(data, env, path)
    if isinstance(data, Mapping):
        return {key: expand_env(value, env, join_path(path, key)) for key, value in data.items()}
    if isinstance(data, list):
        return [expand_env(value, env, f"{path}[{i}]") for i, value in enumerate(data)]
    return data


def _expand_string(text: str, env: Mapping[str, str], path: str) -> str:
    if "${" not in text:
        return text
    if "${" in _REF.sub("", text):
        raise ConfigError(path, "malformed environment reference", "write ${NAME} or ${NAME:-fallback}")

    def substitute(match: re.Match[str]) -> str:
        name, fallback = match.group(1), match.group(2)
        value = env.get(name)
        if fallback is not None and not value:
            return fallback
        if value is None:
            raise ConfigError(
                path, f"environment variable {name} is not set", f"or write ${{{name}:-fallback}}"
            )
        return value

    return _FromEnv(_REF.sub(substitute, text))


# ---------------------------------------------------------------- the generic dataclass validator


def build_settings(cls: type, data: object, path: str) -> Any:
    """Validate a YAML mapping into the frozen dataclass `cls`; None or empty means all defaults."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r} is not a dataclass")
    section = as_mapping(data, path)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    reject_unknown(section, tuple(fields), path)
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if name in section:
            values[name] = _convert(hints[name], section[name], join_path(path, name), name)
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ConfigError(join_path(path, name), "required")
    try:
        return cls(**values)
    except InvalidField as exc:
        raise ConfigError(join_path(path, exc.field), str(exc)) from None
    except ValueError as exc:
        raise ConfigError(path, str(exc)) from None


def _convert(tp: Any, value: object, path: str, name: str) -> Any:
    """Check `value` against the annotation `tp` and return it in the annotated shape."""
    if tp is Any or tp is object:
        return plain(value)
    origin, args = get_origin(tp) or tp, get_args(tp)
    if origin in (Union, types.UnionType):
        return _convert_union(args, value, path, name)
    if origin is Literal:
        return _convert_literal(args, value, path, name)
    if origin in (tuple, list, Sequence):
        return _convert_sequence(origin, args, value, path, name)
    if origin in (dict, Mapping):
        return _convert_mapping(args, value, path)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return build_settings(tp, value, path)
    if tp in _SCALARS:
        return _SCALARS[tp](value, path, name)
    raise TypeError(f"{path}: unsupported annotation {tp!r}")


def _convert_union(args: tuple[Any, ...], value: object, path: str, name: str) -> Any:
    options = [arg for arg in args if arg is not type(None)]
    if value is None and len(options) < len(args):
        return None
    if len(options) == 1:
        return _convert(options[0], value, path, name)
    for option in options:
        try:
            return _convert(option, value, path, name)
        except ConfigError:
            continue
    expected = " or ".join(_describe(option) for option in options)
    raise ConfigError(path, f"expected {expected}, got {show_value(value, name)}")


def _convert_literal(args: tuple[Any, ...], value: object, path: str, name: str) -> Any:
    for arg in args:
        if type(plain(value)) is type(arg) and value == arg:  # so True is not 1, and env strings count
            return arg
    words = [arg for arg in args if isinstance(arg, str)]
    fixable = isinstance(value, str) and not from_env(value)
    hint = suggest(str(value).lower(), words, listing=False) if fixable else None
    raise ConfigError(path, f"expected {_describe(Literal[args])}, got {show_value(value, name)}", hint)


def _convert_sequence(origin: Any, args: tuple[Any, ...], value: object, path: str, name: str) -> Any:
    if not isinstance(value, (list, tuple)):
        raise ConfigError(path, f"expected a list, got {show_value(value, name)}")
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise ConfigError(path, f"expected a list of {len(args)} items, got {len(value)}")
        return tuple(
            _convert(arg, item, f"{path}[{i}]", name) for i, (arg, item) in enumerate(zip(args, value))
        )
    item_type = args[0] if args else Any
    items = [_convert(item_type, item, f"{path}[{i}]", name) for i, item in enumerate(value)]
    return items if origin is list else tuple(items)


def _convert_mapping(args: tuple[Any, ...], value: object, path: str) -> dict[Any, Any]:
    key_type, value_type = args if args else (Any, Any)
    result = {}
    for key, item in as_mapping(value, path).items():
        sub = join_path(path, key)
        result[_convert(key_type, key, sub, str(key))] = _convert(value_type, item, sub, str(key))
    return result


def _to_str(value: object, path: str, name: str) -> str:
    if isinstance(value, str):
        return str(value)
    raise ConfigError(path, f"expected a string, got {show_value(value, name)}")


def _to_int(value: object, path: str, name: str) -> int:
    if isinstance(value, _FromEnv) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ConfigError(path, f"expected an integer, got {show_value(value, name)}")


def _to_float(value: object, path: str, name: str) -> float:
    if isinstance(value, _FromEnv):
        try:
            return float(value)
        except ValueError:
            pass
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ConfigError(path, f"expected a number, got {show_value(value, name)}")


def _to_bool(value: object, path: str, name: str) -> bool:
    if isinstance(value, _FromEnv) and value.strip().lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.strip().lower()]
    if isinstance(value, bool):
        return value
    raise ConfigError(path, f"expected true or false, got {show_value(value, name)}")


def _to_path(value: object, path: str, name: str) -> Path:
    return Path(_to_str(value, path, name)).expanduser()


_BOOL_WORDS = dict.fromkeys(("true", "yes", "on", "1"), True) | dict.fromkeys(
    ("false", "no", "off", "0"), False
)
_SCALARS: dict[Any, Any] = {str: _to_str, int: _to_int, float: _to_float, bool: _to_bool, Path: _to_path}
_DESCRIPTIONS: dict[Any, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    Path: "a path",
}


def _describe(tp: Any) -> str:
    """What an annotation expects, in words, for error messages."""
    origin = get_origin(tp) or tp
    if origin is Literal:
        return "one of " + ", ".join(repr(arg) for arg in get_args(tp))
    if origin in (tuple, list, Sequence):
        return "a list"
    if origin in (dict, Mapping) or dataclasses.is_dataclass(tp):
        return "a mapping"
    return _DESCRIPTIONS.get(tp, getattr(tp, "__name__", repr(tp)))


# ---------------------------------------------------------------- small helpers


def join_path(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def as_mapping(value: object, path: str) -> Mapping[Any, Any]:
    """`value` as a mapping; None (an empty YAML section) is an empty one."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return value
    raise ConfigError(path, f"expected a mapping, got {show_value(value)}")


def reject_unknown(section: Mapping[Any, Any], allowed: Sequence[str], path: str) -> None:
    for key in section:
        if not isinstance(key, str):
            raise ConfigError(path, f"keys must be strings, got {key!r}")
        if key not in allowed:
            hint = suggest(key, allowed) if allowed else "this section takes no settings"
            raise ConfigError(join_path(path, key), "unknown key", hint)


def suggest(word: str, choices: Sequence[str], listing: bool = True) -> str | None:
    """A 'did you mean' hint, else (when `listing`) the list of valid choices."""
    close = difflib.get_close_matches(word, choices, n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return "expected one of: " + ", ".join(choices) if listing and choices else None


def from_env(value: object) -> bool:
    """Whether `value` holds anything that came from the environment."""
    if isinstance(value, str):
        return isinstance(value, _FromEnv)
    if isinstance(value, Mapping):
        return any(from_env(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(from_env(item) for item in value)
    return False


_KINDS: tuple[tuple[type, str], ...] = ((bool, "a boolean"), (int, "an integer"), (float, "a number"))
_KINDS += ((str, "a string"), (Mapping, "a mapping"), (list, "a list"))


def kind_of(value: object) -> str:
    if value is None:
        return "null"
    return next((text for cls, text in _KINDS if isinstance(value, cls)), type(value).__name__)


def show_value(value: object, name: str = "") -> str:
    """How an error shows a bad value: quoted, unless it may be a secret (then only its kind)."""
    if from_env(value):
        return f"{kind_of(value)} from the environment (not shown)"
    if any(word in name.lower() for word in _SECRET_WORDS):
        return f"{kind_of(value)} (not shown)"
    text = repr(plain(value))
    return text if len(text) <= 80 else text[:77] + "..."


def plain(value: object) -> Any:
    """`value` with environment markers dropped, for storing raw YAML (`Any` fields, route options)."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
