"""The real Claude Code CLI, installed from npm on first use into a cache folder of the repo.

Tests that drive it skip when npm is missing, unless `SWITCHYARD_REQUIRE_CLAUDE_CODE` is set
(CI sets it), in which case a missing CLI is a failure, never a silent skip.
"""

from __future__ import annotations

import os
from pathlib import Path


from tests.support.npm import NpmTool

VERSION = "2.1.197"  # the version the fixtures under tests/fixtures/claude-code were captured from
TOOL = NpmTool("@anthropic-ai/claude-code", VERSION, command="claude", folder="claude-code",
               override="CLAUDE_CODE_BIN", require="SWITCHYARD_REQUIRE_CLAUDE_CODE")


def claude_code_binary() -> Path:
    """The `claude` executable: $CLAUDE_CODE_BIN, or the cached install (made if missing)."""
    return TOOL.binary()


def claude_env(home: Path, base_url: str) -> dict[str, str]:
    """An environment that points Claude Code at the router and keeps it off the network."""
    keep = ("PATH", "LANG", "LC_ALL", "TERM", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        HOME=str(home),
        ANTHROPIC_BASE_URL=base_url,
        ANTHROPIC_API_KEY="sk-router-test",
        DISABLE_AUTOUPDATER="1",
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
    )
    return env
