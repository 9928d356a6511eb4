"""Reading the JSON files logins live in (a CLI's `auth.json`, an IDE's token cache).

Such files belong to another program, may be missing (never logged in) or broken (a crash,
a hand edit). Either way the user must learn which file and what to do, never a traceback:
every problem is an `AuthError` naming the file and, when the fix is to log in again, how.
Writing them back is `router.toolkit.secretfile`'s job.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from router.errors import AuthError


def read_login_text(path: Path, what: str, *, provider: str) -> str | None:
    """The file's text; None when there is no file. `what` names it in errors ("Kiro login file")."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuthError(f"Cannot read the {what} {path}: {exc.strerror or exc}.", provider=provider) from None


def parse_login_json(text: str, path: Path, what: str, hint: str, *, provider: str) -> dict[str, Any]:
    """The file's JSON object; an `AuthError` ending in `hint` (how to log in again) when it is not one."""
    try:
        document = json.loads(text)
    except ValueError:
        raise AuthError(f"The {what} {path} is not valid JSON. {hint}", provider=provider) from None
    if not isinstance(document, dict):
        raise AuthError(f"The {what} {path} does not hold a JSON object. {hint}", provider=provider)
    return document
