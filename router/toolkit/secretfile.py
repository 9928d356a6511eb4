"""Writing credential files safely: one helper every provider that stores tokens can use.

Tokens are written to a temporary file in the same folder (so the final `os.replace` is a
rename on one file system), made 0600 before a byte is written, flushed and fsynced, then
renamed over the old file; a crash leaves either the old file or the new one, never half of
one, and never a world-readable copy.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_private_text(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically, readable by the owner only (folder created 0700)."""
    write_text_atomically(path, text, mode=0o600)


def write_text_atomically(path: Path, text: str, *, mode: int) -> None:
    """Replace `path` with `text` atomically, the new file given `mode` before a byte is written
    (for a file another program owns, whose mode is kept; folder created 0700)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(temp, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable where the platform allows it (best effort)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
