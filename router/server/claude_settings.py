"""`router claude-settings`: the router's keys in Claude Code's user settings, added and taken out again.

Claude Code reads `$CLAUDE_CONFIG_DIR/settings.json` (default `~/.claude/settings.json`) and
exports its `env` block into its own environment, so every `claude` started anywhere talks to
the router. What we write is `env.ANTHROPIC_BASE_URL`, `env.ANTHROPIC_AUTH_TOKEN` and, with
`--statusline`, `statusLine`; every other key is left exactly as it was.

Which keys are ours is kept beside them, in a `switchyard` object holding a fingerprint (a short
sha256) of each value we wrote, never the value itself. Comparing values alone could not tell
our URL from the same URL typed by hand, nor find our keys after the config's port or token
changed; the marker can, and the fingerprint still lets `uninstall` leave a key alone when the
user has edited it since (Claude Code keeps unknown top-level keys and ignores them). If the
marker is gone, `uninstall` falls back to removing keys whose value is what `install` would write
now. The pure part (`planned`, `installed`, `uninstalled`, `display`, `diff`) is separate from the
file handling: a timestamped backup beside the file, then an atomic replace keeping its mode.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
import re
import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from router.server.config import ServerConfig
from router.server import launcher, statusline
from router.server.launcher import router_env
from router.toolkit.secretfile import write_text_atomically

MARKER = "switchyard"
NOTE = "written by `router claude-settings install`; `router claude-settings uninstall` removes these keys"
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)
NEW_FILE_MODE = 0o600
"""A settings file we create holds a token: owner only. An existing file keeps its own mode."""

Doc = dict[str, Any]


def statusline_entry() -> dict[str, str]:
    """Claude Code's `statusLine` for `router statusline`, run as `python -S <its file>`.

    Claude Code runs it on every prompt. The console script starts the interpreter with `site`
    (every `.pth` file, the editable install's finder: 25 ms and more on a slow machine); the
    status line needs only the standard library, so its file runs without it. Installing the
    router elsewhere moves the file: `router claude-settings install` again updates the entry.
    """
    command = f"{shlex.quote(sys.executable)} -S {shlex.quote(str(Path(statusline.__file__).resolve()))}"
    return {"type": "command", "command": command}


class SettingsError(Exception):
    """The settings file cannot be edited safely (not JSON, not an object); the message says why."""


def settings_path(env: Mapping[str, str] = os.environ) -> Path:
    """Claude Code's user settings file: `$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json`."""
    folder = env.get("CLAUDE_CONFIG_DIR")
    if folder:
        return Path(folder).expanduser() / "settings.json"
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".claude" / "settings.json"


# -- pure: what the file becomes --------------------------------------------------------------


def planned(server: ServerConfig, *, statusline: bool) -> dict[str, Any]:
    """Dotted key -> value of everything `install` writes."""
    keys: dict[str, Any] = {f"env.{name}": value for name, value in router_env(server).items()}
    if statusline:
        keys["statusLine"] = statusline_entry()
    return keys


def fingerprint(value: Any) -> str:
    """A short, stable digest of a value, to recognise it later without storing it."""
    return "sha256:" + hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


_ABSENT = object()


def get(doc: Doc, key: str) -> Any:
    """The value at dotted `key` ('env.X' or a top-level name), or `_ABSENT`."""
    if key.startswith("env."):
        env = doc.get("env")
        return env.get(key[4:], _ABSENT) if isinstance(env, dict) else _ABSENT
    return doc.get(key, _ABSENT)


def owned(doc: Doc) -> dict[str, str]:
    """Dotted key -> fingerprint of the value we wrote there, from the marker ({} without one)."""
    marker = doc.get(MARKER)
    keys = marker.get("owns") if isinstance(marker, dict) else None
    return {k: v for k, v in keys.items() if isinstance(v, str)} if isinstance(keys, dict) else {}


def check(doc: Any) -> Doc:
    """`doc` if we can edit it: an object whose `env`, if any, is an object."""
    if not isinstance(doc, dict):
        raise SettingsError("the file does not hold a JSON object")
    if "env" in doc and not isinstance(doc["env"], dict):
        raise SettingsError("its `env` is not a JSON object")
    return doc


def installed(doc: Doc, keys: Mapping[str, Any]) -> Doc:
    """`doc` with `keys` set and recorded as ours; keys we wrote before and still hold stay ours."""
    new = copy.deepcopy(doc)
    still = {k: fp for k, fp in owned(doc).items() if get(doc, k) is not _ABSENT and fingerprint(get(doc, k)) == fp}
    for key, value in keys.items():
        if key.startswith("env."):
            new.setdefault("env", {})[key[4:]] = value
        else:
            new[key] = copy.deepcopy(value)
        still[key] = fingerprint(value)
    new[MARKER] = {"note": NOTE, "owns": dict(sorted(still.items()))}
    return new


@dataclass
class Removal:
    """What `uninstall` does: the new document, the keys it removes, and ours the user has edited since."""

    doc: Doc
    removed: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)


def uninstalled(doc: Doc, fallback: Mapping[str, Any]) -> Removal:
    """`doc` without our keys (those still holding what we wrote) and without the marker.

    With no marker, the keys of `fallback` (what `install` would write now) whose values match.
    """
    marks = owned(doc) if MARKER in doc else {k: fingerprint(v) for k, v in fallback.items()}
    removal = Removal(copy.deepcopy(doc))
    for key, mark in marks.items():
        value = get(doc, key)
        if value is _ABSENT:
            continue
        if fingerprint(value) != mark:
            removal.edited.append(key)
            continue
        removal.removed.append(key)
        if key.startswith("env."):
            del removal.doc["env"][key[4:]]
        else:
            del removal.doc[key]
    if isinstance(removal.doc.get("env"), dict) and not removal.doc["env"] and "env" in doc and doc["env"]:
        del removal.doc["env"]  # emptied by us: an empty block means nothing
    removal.doc.pop(MARKER, None)
    return removal


def render(doc: Doc) -> str:
    """The file's text, the way Claude Code itself writes it (two-space indent)."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def display(doc: Doc, before: Doc | None = None) -> Doc:
    """`doc` safe to print: values of secret-looking `env` names (and their fingerprints in the marker)
    hidden, a value that differs from `before`'s marked as changed so a diff still shows it."""
    shown = copy.deepcopy(doc)
    env, old_env = shown.get("env"), (before or {}).get("env")
    if isinstance(env, dict):
        for name, value in env.items():
            if SECRET_NAME.search(name) and value != launcher.PLACEHOLDER_TOKEN:
                same = before is None or (isinstance(old_env, dict) and old_env.get(name) == value)
                env[name] = "<hidden>" if same else "<hidden, changed>"
    marks = shown.get(MARKER, {}).get("owns") if isinstance(shown.get(MARKER), dict) else None
    if isinstance(marks, dict):
        for key in marks:
            if SECRET_NAME.search(key):
                marks[key] = "<fingerprint>"
    return shown


def diff(old: Doc | None, new: Doc, path: Path) -> str:
    """A unified diff of the file's (displayable) text before and after."""
    before = render(display(old)).splitlines(keepends=True) if old is not None else []
    after = render(display(new, old if old is not None else {})).splitlines(keepends=True)
    return "".join(difflib.unified_diff(before, after, str(path) if old is not None else "/dev/null", str(path)))


# -- the file ---------------------------------------------------------------------------------


def read(path: Path) -> Doc | None:
    """The settings document, or None when there is no file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SettingsError(f"cannot read it: {exc.strerror}") from None
    if not text.strip():
        return {}
    try:
        return check(json.loads(text))
    except ValueError as exc:
        raise SettingsError(f"it is not valid JSON ({exc}); fix or move it, then try again") from None


def backup(path: Path, now: datetime | None = None) -> Path:
    """Copy `path` to `settings.json.YYYYmmddTHHMMSSZ.bak` beside it (mode kept), never over an older backup."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    for n in range(100):
        target = path.with_name(f"{path.name}.{stamp}{f'-{n}' if n else ''}.bak")
        if not target.exists():
            shutil.copy2(path, target)
            return target
    raise SettingsError(f"too many backups named {path.name}.{stamp}*.bak")


def write(path: Path, doc: Doc) -> Path | None:
    """Back the old file up, then replace it atomically with the same mode; the backup's path, if any."""
    saved = backup(path) if path.exists() else None
    mode = path.stat().st_mode & 0o777 if path.exists() else NEW_FILE_MODE
    write_text_atomically(path, render(doc), mode=mode)
    return saved


# -- the command ------------------------------------------------------------------------------


def command(action: str, server: ServerConfig, *, yes: bool = False, statusline: bool = False,
            path: Path | None = None, out: TextIO | None = None, err: TextIO | None = None,
            ask: Callable[[str], str] = input, interactive: bool | None = None) -> int:
    """`router claude-settings install|uninstall|show`; the exit status."""
    path = path or settings_path()
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        current = read(path)
    except SettingsError as exc:
        print(f"router: cannot edit {path}: {exc}", file=err)
        return 2
    doc = current if current is not None else {}
    keys = planned(server, statusline=statusline)
    if action == "show":
        return _show(path, current, keys, out)
    if action == "install":
        new = installed(doc, keys)
    else:
        removal = uninstalled(doc, keys)
        for key in removal.edited:
            print(f"leaving {key}: it was changed after `router claude-settings install` wrote it", file=out)
        if not removal.removed and MARKER not in doc:
            print(f"nothing to remove: {path} holds none of the router's keys", file=out)
            return 0
        new = removal.doc
    if current is not None and new == current:
        print(f"{path} is up to date; nothing to change", file=out)
        return 0
    print(diff(current, new, path), end="", file=out)
    if not yes:
        if not (sys.stdin.isatty() if interactive is None else interactive):
            print("router: not writing without confirmation: run it in a terminal, or pass --yes", file=err)
            return 1
        if ask(f"write these changes to {path}? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing written", file=out)
            return 1
    saved = write(path, new)
    print(f"wrote {path}" + (f" (the old file is in {saved})" if saved else ""), file=out)
    if action == "install":
        print("Claude Code reads it when it starts: new `claude` sessions use the router "
              "(keep `router serve` running)", file=out)
    return 0


def _show(path: Path, current: Doc | None, keys: Mapping[str, Any], out: TextIO) -> int:
    doc = current if current is not None else {}
    print(f"settings file: {path}" + ("" if current is not None else " (does not exist yet)"), file=out)
    marks = owned(doc)
    print("installed:" if marks else "installed: no (no keys written by `router claude-settings install`)", file=out)
    for key, mark in marks.items():
        value = get(doc, key)
        state = "missing" if value is _ABSENT else "as written" if fingerprint(value) == mark else "edited since"
        print(f"  {key}: {state}", file=out)
    print("install would write:", file=out)
    for key, value in display(_as_doc(keys)).get("env", {}).items():  # what is written, secrets hidden
        print(f"  env.{key} = {json.dumps(value)}", file=out)
    if "statusLine" in keys:
        print(f"  statusLine = {json.dumps(keys['statusLine'])}", file=out)
    change = diff(current, installed(doc, keys), path) if installed(doc, keys) != current else ""
    print(change if change else "  (the file already holds all of it)", end="" if change else "\n", file=out)
    return 0


def _as_doc(keys: Mapping[str, Any]) -> Doc:
    return installed({}, keys)
