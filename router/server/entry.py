"""The `router` console script: `router statusline` answers before the server stack is imported.

Claude Code runs its status line command on every prompt, so `router statusline` must start in
a few milliseconds; `router.server.cli` imports uvicorn, starlette, httpx and every module of the
router (a fifth of a second). This module imports nothing but the one it dispatches to.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

STATUSLINE = "statusline"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `router` console script (and `python -m router`)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == [STATUSLINE]:
        from router.server.statusline import main as statusline

        return statusline(arguments[1:])
    from router.server.cli import main as cli

    return cli(arguments)
