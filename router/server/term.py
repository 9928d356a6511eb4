"""Colour and a spinner for the commands a person watches, and nothing of either for scripts.

Colour follows the NO_COLOR convention (set and non-empty: never colour) and FORCE_COLOR (set,
non-empty and not "0": colour even when piped); otherwise a stream gets colour only when it is
a terminal that is not "dumb". The spinner draws only on a terminal, and never with an escape
code when colour is off (it overwrites its line with `\\r` and spaces instead), so output that
goes to a file or a pipe is exactly the plain lines a script expects.
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}
FRAMES = "|/-\\"
INTERVAL = 0.1


def colour_enabled(stream: TextIO, env: Mapping[str, str] = os.environ) -> bool:
    """Whether text written to `stream` may carry ANSI colour."""
    if env.get("NO_COLOR"):
        return False
    force = env.get("FORCE_COLOR")
    if force and force != "0":
        return True
    return is_terminal(stream) and env.get("TERM") != "dumb"


def is_terminal(stream: TextIO) -> bool:
    """`stream.isatty()`, False for streams that cannot say (closed, replaced by a test)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def paint(text: str, colour: str, stream: TextIO | None = None, env: Mapping[str, str] = os.environ) -> str:
    """`text` in `colour` (a key of CODES) when `stream` (default stdout) takes colour, else `text` itself."""
    if not colour_enabled(stream if stream is not None else sys.stdout, env):
        return text
    return f"\x1b[{CODES[colour]}m{text}\x1b[0m"


def state(ok: bool, text: str, stream: TextIO | None = None, *, warn: bool = False) -> str:
    """A status word: green when `ok`, yellow when only a warning (cooling down), red otherwise."""
    return paint(text, "green" if ok else "yellow" if warn else "red", stream)


class Spinner:
    """A line that spins while something slow runs; `say` prints a line above it without tearing it."""

    def __init__(self, message: str, stream: TextIO, *, delay: float = 0.3,
                 env: Mapping[str, str] = os.environ) -> None:
        self.message = message
        self.stream = stream
        self.delay = delay
        self.active = is_terminal(stream)
        self.escapes = colour_enabled(stream, env)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._drawn = 0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.active:
            self._thread = threading.Thread(target=self._run, name="spinner", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        with self._lock:
            self._clear()

    def update(self, message: str) -> None:
        """Change the text shown beside the spinner (e.g. which provider is being asked)."""
        self.message = message

    def say(self, text: str, out: TextIO | None = None) -> None:
        """Print `text` (to `out`, default stdout) on its own line; the spinner resumes below it."""
        with self._lock:
            self._clear()
            print(text, file=out if out is not None else sys.stdout, flush=True)

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return  # done before anyone had to wait: never drawn, nothing flickers
        for frame in itertools.cycle(FRAMES):
            with self._lock:
                self._clear()
                line = f"{frame} {self.message}"
                self.stream.write(line)
                self.stream.flush()
                self._drawn = len(line)
            if self._stop.wait(INTERVAL):
                return

    def _clear(self) -> None:
        if not self._drawn:
            return
        self.stream.write("\r\x1b[K" if self.escapes else "\r" + " " * self._drawn + "\r")
        self.stream.flush()
        self._drawn = 0


@contextmanager
def spinner(message: str, stream: TextIO | None = None, *, delay: float = 0.3) -> Iterator[Spinner]:
    """Spin beside `message` on `stream` (default stderr) for the duration of the block."""
    spin = Spinner(message, stream if stream is not None else sys.stderr, delay=delay)
    spin.start()
    try:
        yield spin
    finally:
        spin.stop()
