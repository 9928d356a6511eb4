"""The real Claude Code CLI, installed from npm on first use into a cache folder of the repo.

Tests that drive it skip when npm is missing, unless `SWITCHYARD_REQUIRE_CLAUDE_CODE` is set
(CI sets it), in which case a missing CLI is a failure, never a silent skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import NoReturn

import pytest

VERSION = "2.1.197"  # the version the fixtures under tests/fixtures/claude-code were captured from
CACHE = Path(__file__).resolve().parents[2] / ".cache" / "claude-code"


def claude_code_binary() -> Path:
    """The `claude` executable: $CLAUDE_CODE_BIN, or the cached install (made if missing)."""
    configured = os.environ.get("CLAUDE_CODE_BIN")
    if configured:
        return Path(configured)
    binary = CACHE / "node_modules" / ".bin" / "claude"
    if binary.exists():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        _unavailable("npm is not installed, so the Claude Code CLI cannot be installed")
    result = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--prefix", str(CACHE), f"@anthropic-ai/claude-code@{VERSION}"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    if result.returncode != 0 or not binary.exists():
        _unavailable(f"npm could not install the Claude Code CLI: {result.stderr[-2000:]}")
    return binary


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("SWITCHYARD_REQUIRE_CLAUDE_CODE"):
        pytest.fail(reason)
    pytest.skip(reason)


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
