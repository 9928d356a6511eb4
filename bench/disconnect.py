"""The disconnect experiment: how soon the upstream request ends after the client walks away.

A client that leaves mid-stream (Ctrl-C in Claude Code, a killed subagent) must not keep an
upstream reply running, and billing, for minutes. Each trial opens a stream through the
router to a fake that sends one event every `interval` seconds, reads until the first text
delta, notes the time and closes the socket; the fake notes when the router closed its side
of the upstream connection (`/_bench/cuts`). Both clocks are `time.monotonic()`, which is
one clock for every process of the machine. The router runs with its configured ping
interval (the default, 10 s, in the benchmark's config), since a disconnect noticed only at
the next ping is the failure this looks for.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any

from bench.measure import median, percentile

FIRST_DELTA = b"content_block_delta"
WAIT_FOR_CUT = 15.0
"""Seconds to wait for the fake to see its connection closed: longer than the 10 s ping interval."""


@dataclass
class Disconnects:
    """One provider's trials: the delay from the client's close to the upstream's, in ms."""

    provider: str
    delays_ms: list[float] = field(default_factory=list)
    missed: int = 0  # trials where the upstream was still open after `WAIT_FOR_CUT`
    failed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        delays = sorted(self.delays_ms)
        return {
            "provider": self.provider, "trials": len(delays) + self.missed + len(self.failed),
            "cancelled": len(delays), "missed": self.missed, "failed": self.failed[:5],
            "p50_ms": median(delays) if delays else float("nan"),
            "p99_ms": percentile(delays, 99) if delays else float("nan"),
            "max_ms": max(delays) if delays else float("nan"),
            "delays_ms": delays,
        }


def trial(port: int, request: bytes, cuts: Any, timeout: float = 10.0) -> float | None:
    """One stream opened, read to its first text delta and dropped: the delay in ms, or None if missed.

    `cuts()` returns (and forgets) the times the fake saw connections closed mid-reply.
    """
    cuts()  # forget anything earlier
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        seen = b""
        deadline = time.monotonic() + timeout
        while FIRST_DELTA not in seen:
            if time.monotonic() > deadline:
                raise TimeoutError("no text delta within the timeout")
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError(f"the router closed the stream first: {seen[:300]!r}")
            seen = seen[-4096:] + chunk
        left = time.monotonic()
    # the socket is closed here, as a client that goes away closes it
    deadline = left + WAIT_FOR_CUT
    while time.monotonic() < deadline:
        after = [t for t in cuts() if t >= left]
        if after:
            return (min(after) - left) * 1000
        time.sleep(0.002)
    return None


def run_trials(provider: str, port: int, request: bytes, cuts: Any, trials: int) -> Disconnects:
    """`trials` disconnects through the router for one provider."""
    result = Disconnects(provider)
    for _ in range(trials):
        try:
            delay = trial(port, request, cuts)
        except (OSError, TimeoutError, ConnectionError) as exc:
            result.failed.append(f"{type(exc).__name__}: {exc}")
            continue
        if delay is None:
            result.missed += 1
        else:
            result.delays_ms.append(delay)
    return result
