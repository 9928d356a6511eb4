"""Command-line tools the tests drive for real, installed from npm on first use into the repo's `.cache`.

A missing tool skips its tests, unless the tool's "require" variable is set (CI sets them), in
which case it fails them: a CLI that could not be installed is never a silent skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

CACHE = Path(__file__).resolve().parents[2] / ".cache"


@dataclass(frozen=True)
class NpmTool:
    """One npm package pinned at `version`, whose `command` the tests run."""

    package: str
    version: str
    command: str
    folder: str
    """The install prefix under `.cache` (what `.ci/run` installs into too)."""
    override: str
    """The environment variable that names another binary to use instead."""
    require: str
    """The environment variable that turns a missing tool from a skip into a failure."""

    @property
    def prefix(self) -> Path:
        return CACHE / self.folder

    def binary(self) -> Path:
        """The executable: the override's, or the cached install (made if missing)."""
        configured = os.environ.get(self.override)
        if configured:
            return Path(configured)
        binary = self.prefix / "node_modules" / ".bin" / self.command
        if binary.exists():
            return binary
        npm = shutil.which("npm")
        if npm is None:
            self.unavailable(f"npm is not installed, so {self.package} cannot be installed")
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(self.prefix), f"{self.package}@{self.version}"],
            capture_output=True, text=True, timeout=600, check=False,
        )
        if result.returncode != 0 or not binary.exists():
            self.unavailable(f"npm could not install {self.package}: {result.stderr[-2000:]}")
        return binary

    def unavailable(self, reason: str) -> NoReturn:
        if os.environ.get(self.require):
            pytest.fail(reason)
        pytest.skip(reason)
