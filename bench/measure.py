"""Reading a process's CPU time and memory from /proc (psutil where there is no /proc), and percentiles.

- CPU: the sum over the process's threads of `/proc/<pid>/task/<tid>/schedstat` (nanoseconds on
  the CPU), cross-checked with `utime + stime` of `/proc/<pid>/stat` (clock ticks, 10 ms, but
  counting threads that have exited): `CpuSnapshot.take(pid)`, then `later.since(earlier)`.
- RSS: `VmRSS` of `/proc/<pid>/status`; peak: `VmHWM`, which `reset_peak` (writing 5 to
  `/proc/<pid>/clear_refs`) restarts so that each cell gets its own peak. A sampling thread
  (`RssSampler`) records VmRSS over time as well, for timelines and where the reset is refused.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return _psutil_cpu(pid)
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15 of stat)


@dataclass(frozen=True)
class CpuSnapshot:
    """A process's CPU time at one moment: per thread in ns, and the whole process in clock ticks."""

    ticks: float
    threads: dict[str, int]

    @classmethod
    def take(cls, pid: int) -> CpuSnapshot:
        threads: dict[str, int] = {}
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                try:
                    threads[tid] = int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
                except (OSError, ValueError, IndexError):
                    pass
        except OSError:
            pass
        return cls(cpu_seconds(pid), threads)

    def since(self, earlier: CpuSnapshot) -> float:
        """CPU seconds used between `earlier` and this snapshot."""
        coarse = self.ticks - earlier.ticks
        if not self.threads:
            return coarse
        precise = sum(ns - earlier.threads.get(tid, 0) for tid, ns in self.threads.items()) / 1e9
        # a thread that exited in between took its time out of the per-thread sum, not out of stat's
        return coarse if coarse - precise > 2.5 / _TICK else precise


def _status(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, value = line.split(":", 1)
            values[name] = int(value.split()[0])  # kB
    return values


def rss_mb(pid: int) -> float:
    """Resident set size now, in MB (MiB)."""
    try:
        return _status(pid)["VmRSS"] / 1024
    except FileNotFoundError:
        return _psutil_rss(pid)


def peak_mb(pid: int) -> float | None:
    """Peak resident set size since start or the last `reset_peak`, in MB; None without /proc."""
    try:
        return _status(pid)["VmHWM"] / 1024
    except (FileNotFoundError, KeyError):
        return None


def reset_peak(pid: int) -> bool:
    """Restart the process's VmHWM from its current RSS; False when the kernel refuses."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _psutil_cpu(pid: int) -> float:
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _psutil_rss(pid: int) -> float:
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / (1 << 20)


class RssSampler:
    """Samples a process's RSS every `period` seconds in a thread, between `start()` and `stop()`."""

    def __init__(self, pid: int, period: float = 0.05) -> None:
        self.pid = pid
        self.period = period
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._t0 = 0.0

    def start(self) -> RssSampler:
        self._t0 = time.perf_counter()
        self._thread.start()
        return self

    def stop(self) -> list[tuple[float, float]]:
        self._stop.set()
        self._thread.join()
        return self.samples

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.perf_counter() - self._t0, rss_mb(self.pid)))
            except (OSError, KeyError):
                return
            self._stop.wait(self.period)

    @property
    def max(self) -> float:
        return max((rss for _, rss in self.samples), default=0.0)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    """The median, ignoring NaNs; NaN when nothing is left."""
    clean = [v for v in values if not math.isnan(v)]
    return percentile(clean, 50) if clean else math.nan
