"""Where in the YAML text a `ConfigError`'s dotted path points, so the message can name the line.

Validation works on the plain data `yaml.safe_load` returns, which has no positions; only when
a file turns out wrong is its text composed again (`yaml.compose`, nodes with marks) and the
path (`routes[2].when.tier`) walked down the node tree. Every step is best effort: a path the
file does not spell out (a missing `use:`) names its deepest ancestor that it does.
"""

from __future__ import annotations

import re

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from router.errors import ConfigError

_INDEX = re.compile(r"\[(\d+)\]")
_MERGE_TAG = "tag:yaml.org,2002:merge"


class LocatedConfigError(ConfigError):
    """A `ConfigError` from a file: `path`, `problem` and `hint` are kept, the message gains `file:line:col: `.

    A subclass rather than a new path, so code reading `exc.path` still gets the dotted path.
    `line` and `column` are 1-based, or None when the text has no node for the path.
    """

    def __init__(self, error: ConfigError, file: str, where: tuple[int, int] | None) -> None:
        super().__init__(error.path, error.problem, error.hint)
        self.file = file
        self.line: int | None = where[0] if where is not None else None
        self.column: int | None = where[1] if where is not None else None
        prefix = f"{file}:{where[0]}:{where[1]}" if where is not None else file
        self.message = f"{prefix}: {self.message}"
        self.args = (self.message,)


def located(error: ConfigError, file: str, text: str) -> LocatedConfigError:
    """`error`, raised while validating `text` read from `file`, with the line its path points at."""
    return LocatedConfigError(error, file, locate(text, error.path))


def locate(text: str, path: str) -> tuple[int, int] | None:
    """1-based (line, column) of the key (mapping entry) or item (sequence) at dotted `path`.

    Falls back to the deepest ancestor present in the text; "" is the document itself. Never
    raises: it only decorates an error that is already being reported, so any failure here
    (bad YAML, an odd tree) gives None rather than hiding that error.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        return None if root is None else _walk(root, path)
    except Exception:  # noqa: BLE001 -- see the docstring
        return None


def with_position(exc: yaml.YAMLError, text: str) -> yaml.YAMLError:
    """A `ReaderError` (a control character in the file) as a marked error, so it names a line too.

    The reader reports only a character offset, not the line and column other YAML errors carry.
    """
    if not isinstance(exc, ReaderError) or not isinstance(exc.position, int):
        return exc
    position = min(max(exc.position, 0), len(text))
    line = text.count("\n", 0, position)
    column = position - (text.rfind("\n", 0, position) + 1)
    shown = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
    mark = yaml.Mark(str(exc.name), position, line, column, None, 0)
    return yaml.MarkedYAMLError(problem=f"unacceptable character {shown}: {exc.reason}", problem_mark=mark)


def _walk(node: Node, path: str) -> tuple[int, int]:
    """Follow `path` from `node` as far as the tree goes; the mark of the last step taken."""
    mark = node.start_mark
    rest = path
    while rest:
        index = _INDEX.match(rest)
        if index is not None:
            if not isinstance(node, SequenceNode) or int(index.group(1)) >= len(node.value):
                break
            node = node.value[int(index.group(1))]
            mark, rest = node.start_mark, rest[index.end() :]
            continue
        if rest.startswith(".") and rest != path:
            rest = rest[1:]
        entry = _entry(node, rest)
        if entry is None:
            break
        key, node, rest = entry
        mark = key.start_mark
    return mark.line + 1, mark.column + 1


def _entry(node: Node, rest: str) -> tuple[Node, Node, str] | None:
    """The (key, value, what is left of the path) of the mapping entry `rest` starts with.

    Keys are matched on their text against the path itself, not on the path split at dots, so
    keys holding a '.' (`gpt-5.5`) are found; the longest match wins, and among duplicates the
    last, as in `safe_load`. Entries merged in with `<<:` count after the mapping's own.
    """
    if not isinstance(node, MappingNode):
        return None
    best: tuple[Node, Node, str] | None = None
    merged: list[Node] = []
    for key, value in node.value:
        if key.tag == _MERGE_TAG:
            merged.extend(value.value if isinstance(value, SequenceNode) else [value])
            continue
        if not isinstance(key, ScalarNode):
            continue
        name = str(key.value)
        if rest == name or (rest.startswith(name) and rest[len(name)] in ".["):
            if best is None or len(name) >= len(rest) - len(best[2]):
                best = (key, value, rest[len(name) :])
    if best is not None:
        return best
    for source in merged:
        found = _entry(source, rest)
        if found is not None:
            return found
    return None
