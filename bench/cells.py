"""One measured cell: a bounded load against the router or the fake, with the router's and fake's CPU and memory.

A cell runs the load generator (`bench.load`, a separate process) against one target and
reads, right before the load starts and right after it ends:

- the router's and the fake's CPU seconds (`/proc/<pid>/stat`), so that CPU per request
  and per event are the processes' own CPU time, not the wall clock;
- the router's RSS, its peak over the cell (VmHWM, reset at the start of the cell) and an
  RSS timeline sampled in a thread;
- the router's log lines written meanwhile (access lines, warnings, errors, tracebacks).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from bench import load
from bench.deploy import Fakes, Router
from bench.measure import CpuSnapshot, RssSampler, peak_mb, percentile, reset_peak, rss_mb

Target = Literal["router", "baseline", "relay"]
_STATUS = re.compile(r" status=(\d+) ")


@dataclass(frozen=True)
class Cell:
    """What to run: the experiment it belongs to, the target, and the load's shape."""

    experiment: str
    target: Target
    provider: str
    size: str
    stream: bool
    concurrency: int
    requests: int
    seconds: float
    mode: str = "burst"
    events: int = 200
    interval: float = 0.002
    repeat: int = 0

    @property
    def label(self) -> str:
        kind = "stream" if self.stream else "json"
        return (f"{self.experiment}/{self.target}/{self.provider}/{self.size}/{kind}/c{self.concurrency}/"
                f"{self.mode}{self.events}#{self.repeat}")


@dataclass
class Measured:
    """What a cell measured. Times in ms, CPU in ms, memory in MB."""

    cell: Cell
    ok: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    rps: float = 0.0
    ttfb_p50: float = float("nan")
    ttfb_p99: float = float("nan")
    ttlb_p50: float = float("nan")
    ttlb_p99: float = float("nan")
    router_cpu_ms: float = 0.0
    fake_cpu_ms: float = 0.0
    load_cpu_ms: float = 0.0
    router_cpu_per_req: float = float("nan")
    fake_cpu_per_req: float = float("nan")
    load_cpu_per_req: float = float("nan")
    rss_before: float = 0.0
    rss_after: float = 0.0
    rss_peak: float = 0.0
    rss_samples: list[tuple[float, float]] = field(default_factory=list)
    upstream_requests: int = 0
    upstream_connections: int = 0
    """Requests the fake served and TCP connections it accepted during the cell."""
    log_statuses: dict[str, int] = field(default_factory=dict)
    log_problems: int = 0
    log_samples: list[str] = field(default_factory=list)
    hung: bool = False

    def to_json(self, keep_samples: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not keep_samples:
            data.pop("rss_samples")
        return data


def _spawn_load() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bench.load"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            cwd=Path(__file__).resolve().parent.parent)


def run_cell(cell: Cell, request: bytes, port: int, router: Router, fakes: Fakes, *, expect: str, reject: str,
             timeout: float = 60.0, sample_period: float = 0.05) -> Measured:
    """Run one cell against 127.0.0.1:`port` and measure it."""
    job = load.Job("127.0.0.1", port, load.encode_request(request), cell.concurrency, cell.requests, cell.seconds,
                   timeout=timeout, expect=expect, reject=reject)
    out = Measured(cell)
    router.new_log_lines()  # skip whatever came before
    proc = _spawn_load()
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(load.job_json(job))
    proc.stdin.flush()
    line = proc.stdout.readline()
    ready = json.loads(line) if line else {}
    result: dict[str, Any]
    if ready.get("ready"):
        s0 = fakes.stats(cell.provider)
        out.rss_before = rss_mb(router.pid)
        have_peak = reset_peak(router.pid)
        sampler = RssSampler(router.pid, sample_period).start()
        r0, f0 = CpuSnapshot.take(router.pid), CpuSnapshot.take(fakes.pid)
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        limit = cell.seconds + timeout + 30
        try:
            line = _readline(proc, limit)
        except TimeoutError:
            proc.kill()
            line = b""
            out.hung = True
        time.sleep(0.05)  # let the router finish logging and closing what the last response left
        r1, f1 = CpuSnapshot.take(router.pid), CpuSnapshot.take(fakes.pid)
        out.rss_samples = sampler.stop()
        out.rss_after = rss_mb(router.pid)
        peak = peak_mb(router.pid) if have_peak else None
        out.rss_peak = max(peak or 0.0, sampler.max, out.rss_after)
        out.router_cpu_ms, out.fake_cpu_ms = r1.since(r0) * 1000, f1.since(f0) * 1000
        s1 = fakes.stats(cell.provider)
        out.upstream_requests = s1.get("requests", 0) - s0.get("requests", 0)
        out.upstream_connections = s1.get("connections", 0) - s0.get("connections", 0)
        result = json.loads(line) if line else {"errors": 1, "error_kinds": {"hang": 1},
                                                 "error_samples": ["load generator gave no result (hang?)"]}
    else:
        result = ready
    proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    _fill(out, result)
    _scan_log(out, router.new_log_lines())
    return out


def _readline(proc: subprocess.Popen[bytes], limit: float) -> bytes:
    import selectors

    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(limit):
            raise TimeoutError
    return proc.stdout.readline()


def _fill(out: Measured, result: dict[str, Any]) -> None:
    out.ok = int(result.get("ok", 0))
    out.errors = int(result.get("errors", 0))
    out.error_kinds = dict(result.get("error_kinds", {}))
    out.error_samples = list(result.get("error_samples", []))
    out.wall_s = float(result.get("wall", 0.0))
    ttfb = [t * 1000 for t in result.get("ttfb", [])]
    ttlb = [t * 1000 for t in result.get("ttlb", [])]
    done = out.ok + out.errors
    out.rps = out.ok / out.wall_s if out.wall_s else 0.0
    if ttfb:
        out.ttfb_p50, out.ttfb_p99 = percentile(ttfb, 50), percentile(ttfb, 99)
        out.ttlb_p50, out.ttlb_p99 = percentile(ttlb, 50), percentile(ttlb, 99)
    out.load_cpu_ms = float(result.get("cpu", 0.0)) * 1000
    if done:
        out.router_cpu_per_req = out.router_cpu_ms / done
        out.fake_cpu_per_req = out.fake_cpu_ms / done
        out.load_cpu_per_req = out.load_cpu_ms / done


def _scan_log(out: Measured, lines: list[str]) -> None:
    for line in lines:
        match = _STATUS.search(line)
        if match and "router.access" in line:
            out.log_statuses[match.group(1)] = out.log_statuses.get(match.group(1), 0) + 1
        elif " WARNING " in line or " ERROR " in line or " CRITICAL" in line or line.startswith("Traceback"):
            out.log_problems += 1
            if len(out.log_samples) < 5:
                out.log_samples.append(line[:400])
