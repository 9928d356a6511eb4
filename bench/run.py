"""The benchmark run: start the fakes and the router, run every experiment's cells, write the report.

Experiments (each cell bounded by a request count and a time limit, whichever comes first):

- matrix: every provider x body size x streaming or not x concurrency, the fakes in burst
  mode, and the same load sent straight to the fake (the upstream's own request, as the
  router sent it) as the zero-overhead baseline, interleaved cell by cell;
- events: streaming at one concurrency with a short and a long reply (`events_lo`,
  `events_hi` text deltas), burst and paced: the difference gives the router's CPU per
  streamed event, the short reply less its events the CPU per request; the same small-body
  cells also go through the bare relay (`bench.relay`), the comparison point;
- hold: `hold_streams` concurrent paced streams of the large request, for RSS with many
  streams open;
- soak (only with `--soak`): `soak_streams` paced streams for `soak_minutes`, RSS sampled
  throughout, for memory per open stream and growth over time;
- disconnect: `disconnect_trials` streams per provider dropped by the client after the first
  text delta, timing how soon the router closes the upstream request (`bench.disconnect`).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.bodies import SIZES, Body, build_bodies, describe, http_request
from bench.cells import Cell, Measured, run_cell
from bench.deploy import Fakes, Router, write_config, write_credentials
from bench.disconnect import WAIT_FOR_CUT, run_trials
from bench.measure import rss_mb
from bench.wire import END_MARKERS, PROVIDERS

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Profile:
    """How much to run. `quick()` fits in about two minutes; `full()` is the documented run."""

    name: str = "full"
    providers: tuple[str, ...] = PROVIDERS
    sizes: tuple[str, ...] = SIZES
    concurrency: tuple[int, ...] = (1, 8, 32, 128)
    requests: int = 200
    seconds: float = 20.0
    events: int = 200
    repeats: int = 3
    experiments: tuple[str, ...] = ("matrix", "events", "hold", "disconnect")
    events_concurrency: int = 8
    events_requests: int = 200
    events_lo: int = 10
    events_hi: int = 400
    paced_interval: float = 0.002
    paced_requests: int = 64
    paced_hi: int = 200
    hold_streams: int = 128
    hold_events: int = 150
    hold_interval: float = 0.02
    relay: bool = True
    soak: bool = False
    soak_streams: int = 128
    soak_minutes: float = 0.5
    soak_interval: float = 0.05
    disconnect_trials: int = 10
    disconnect_interval: float = 0.05
    log_level: str = "info"
    large_bytes: int = 150_000

    @classmethod
    def quick(cls) -> Profile:
        return cls(name="quick", concurrency=(1, 32), requests=64, seconds=5.0, repeats=1, events_requests=64,
                   events_hi=200, paced_requests=24, paced_hi=100, hold_streams=32, hold_events=50,
                   disconnect_trials=4)


@dataclass
class Run:
    """Everything measured in one run, for the report."""

    profile: Profile
    started: str
    environment: dict[str, Any] = field(default_factory=dict)
    bodies: dict[str, Any] = field(default_factory=dict)
    upstream_bodies: dict[str, int] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    cells: list[Measured] = field(default_factory=list)
    disconnects: list[dict[str, Any]] = field(default_factory=list)
    router_exit: str = ""
    duration_s: float = 0.0


Say = Callable[[str], None]


class Bench:
    """The processes of one run and the cells run against them."""

    def __init__(self, profile: Profile, say: Say) -> None:
        self.profile = profile
        self.say = say
        self.tmp = Path(tempfile.mkdtemp(prefix="switchyard-bench-"))
        self.bodies: dict[tuple[str, str, bool], Body] = build_bodies(profile.providers, profile.large_bytes)
        self.upstream: dict[tuple[str, str], bytes] = {}
        self.fakes = Fakes.start()
        credentials = write_credentials(self.tmp / "creds")
        self.config = write_config(self.tmp / "config.yaml", self.fakes.ports, credentials, profile.log_level)
        try:
            self.router = Router.start(self.config, self.tmp, self.tmp / "router.log")
        except BaseException:
            self.fakes.stop()
            raise
        self.relay: Router | None = None
        self.mode: tuple[str, int, float] | None = None
        self.memory: dict[str, Any] = {}
        self.disconnects: list[dict[str, Any]] = []
        self.exits: list[str] = []

    def close(self) -> None:
        if self.relay is not None:
            self.relay.stop()
        self.router.stop()
        self.exits.append(self.router.exit_note)
        self.fakes.stop()

    def fresh_router(self, provider: str) -> None:
        """Restart `router serve` and warm it up for `provider`, so that a memory cell starts from idle.

        The allocator keeps what the busiest earlier cell needed (RSS never goes back down), so
        memory per open stream is only visible on a process that has not run the matrix.
        """
        if "idle_after_load" not in self.memory:  # the long-lived process, after the matrix and events
            time.sleep(1.0)
            self.memory["idle_after_load"] = rss_mb(self.router.pid)
        self.router.stop()
        self.exits.append(self.router.exit_note)
        self.router = Router.start(self.config, self.tmp, self.tmp / f"router-{len(self.exits)}.log")
        for size in self.profile.sizes:
            self.cell(Cell("warmup", "router", provider, size, True, 2, 4, 10.0, events=self.profile.events))
        time.sleep(0.5)

    # -- running cells ---------------------------------------------------------------------

    def configure(self, mode: str, events: int, interval: float) -> None:
        if self.mode != (mode, events, interval):
            self.fakes.configure(mode, events, interval)
            self.mode = (mode, events, interval)

    def router_request(self, provider: str, size: str, stream: bool) -> bytes:
        body = self.bodies[(provider, size, stream)]
        return http_request("/v1/messages?beta=true", f"127.0.0.1:{self.router.port}", body.data, body.headers)

    def cell(self, cell: Cell, timeout: float = 60.0, sample_period: float = 0.05) -> Measured:
        self.configure(cell.mode, cell.events, cell.interval)
        if cell.target == "router":
            request = self.router_request(cell.provider, cell.size, cell.stream)
            expect = "event: message_stop" if cell.stream else '"stop_reason":"end_turn"'
            measured = run_cell(cell, request, self.router.port, self.router, self.fakes, expect=expect,
                                reject="event: error", timeout=timeout, sample_period=sample_period)
        elif cell.target == "relay":
            if self.relay is None:
                self.relay = Router.start_relay(self.tmp, self.tmp / "relay.log")
            measured = run_cell(cell, self.upstream[(cell.provider, cell.size)], self.relay.port, self.relay,
                                self.fakes, expect=END_MARKERS[cell.provider].decode(), reject="", timeout=timeout,
                                sample_period=sample_period)
        else:
            request = self.upstream[(cell.provider, cell.size)]
            measured = run_cell(cell, request, self.fakes.ports[cell.provider], self.router, self.fakes,
                                expect=END_MARKERS[cell.provider].decode(), reject="", timeout=timeout,
                                sample_period=sample_period)
        flag = f" ERRORS {measured.errors} {measured.error_kinds}" if measured.errors else ""
        self.say(f"  {cell.label:<58} {measured.rps:8.1f} req/s  ttfb p50 {measured.ttfb_p50:7.2f} ms  "
                 f"cpu {measured.router_cpu_per_req:6.2f} ms/req{flag}")
        return measured

    def warm_up(self) -> None:
        """A few requests of every kind through the router; keep the upstream request each produced."""
        self.configure("burst", self.profile.events, self.profile.paced_interval)
        for provider in self.profile.providers:
            for size in self.profile.sizes:
                for stream in (True, False):
                    cell = Cell("warmup", "router", provider, size, stream, 2, 6, 10.0, events=self.profile.events)
                    measured = self.cell(cell)
                    if measured.errors:
                        raise RuntimeError(f"warm-up failed for {cell.label}: {measured.error_samples}")
                self.upstream[(provider, size)] = self.fakes.last_request(provider)


def _matrix(bench: Bench, p: Profile) -> Iterable[Measured]:
    for repeat in range(p.repeats):
        for provider in p.providers:
            for size in p.sizes:
                for conc in p.concurrency:
                    common: dict[str, Any] = {"provider": provider, "size": size, "concurrency": conc,
                                              "requests": p.requests, "seconds": p.seconds, "events": p.events,
                                              "repeat": repeat}
                    yield bench.cell(Cell("matrix", "baseline", stream=True, **common))
                    for stream in (True, False):
                        yield bench.cell(Cell("matrix", "router", stream=stream, **common))


def _events(bench: Bench, p: Profile) -> Iterable[Measured]:
    for repeat in range(p.repeats):
        for provider in p.providers:
            for size in p.sizes:
                for events in (p.events_lo, p.events_hi):
                    yield bench.cell(Cell("events", "router", provider, size, True, p.events_concurrency,
                                          p.events_requests, p.seconds, "burst", events, p.paced_interval, repeat))
            for events in (p.events_lo, p.paced_hi):
                yield bench.cell(Cell("events", "router", provider, "small", True, p.events_concurrency,
                                      p.paced_requests, p.seconds * 2, "paced", events, p.paced_interval, repeat))
            if p.relay:  # the same small-body cells through the bare relay, for comparison
                for events in (p.events_lo, p.events_hi):
                    yield bench.cell(Cell("events", "relay", provider, "small", True, p.events_concurrency,
                                          p.events_requests, p.seconds, "burst", events, p.paced_interval, repeat))
                for events in (p.events_lo, p.paced_hi):
                    yield bench.cell(Cell("events", "relay", provider, "small", True, p.events_concurrency,
                                          p.paced_requests, p.seconds * 2, "paced", events, p.paced_interval,
                                          repeat))


def _hold(bench: Bench, p: Profile) -> Iterable[Measured]:
    size = "large" if "large" in p.sizes else p.sizes[0]
    for provider in p.providers:
        bench.fresh_router(provider)
        yield bench.cell(Cell("hold", "router", provider, size, True, p.hold_streams, p.hold_streams,
                              p.seconds * 3, "paced", p.hold_events, p.hold_interval))


def _soak(bench: Bench, p: Profile) -> Iterable[Measured]:
    size = "large" if "large" in p.sizes else p.sizes[0]
    events = max(1, int(p.soak_minutes * 60 / p.soak_interval))
    for provider in p.providers:
        seconds = p.soak_minutes * 60
        cell = Cell("soak", "router", provider, size, True, p.soak_streams, p.soak_streams, seconds * 2 + 60,
                    "paced", events, p.soak_interval)
        bench.fresh_router(provider)
        bench.say(f"  soak: {p.soak_streams} streams x {events} events every {p.soak_interval}s on {provider}")
        yield bench.cell(cell, timeout=seconds * 3 + 60, sample_period=max(0.25, seconds / 400))
        time.sleep(2.0)
        bench.memory.setdefault("after_soak", {})[provider] = rss_mb(bench.router.pid)
        if p.relay:  # the same streams through the bare relay: its CPU per event in the same conditions
            bench.say(f"  soak: the same through the bare relay on {provider}")
            yield bench.cell(dataclasses.replace(cell, target="relay"), timeout=seconds * 3 + 60,
                             sample_period=max(0.25, seconds / 400))


def _disconnect(bench: Bench, p: Profile) -> Iterable[Measured]:
    """No cells: the delays go to `bench.disconnects` (the fakes send a reply far longer than a trial)."""
    bench.configure("paced", 2000, p.disconnect_interval)
    for provider in p.providers:
        request = bench.router_request(provider, "small", True)
        result = run_trials(provider, bench.router.port, request, lambda: bench.fakes.cuts(provider),
                            p.disconnect_trials).to_json()
        bench.disconnects.append(result)
        bench.say(f"  disconnect/{provider}: {result['cancelled']}/{result['trials']} upstreams closed, "
                  f"p50 {result['p50_ms']:.1f} ms, max {result['max_ms']:.1f} ms after the client left"
                  + (f"; {result['missed']} still open after {WAIT_FOR_CUT:g} s" if result["missed"] else "")
                  + (f"; failed: {result['failed'][0]}" if result["failed"] else ""))
    return ()


EXPERIMENTS: dict[str, Callable[[Bench, Profile], Iterable[Measured]]] = {
    "matrix": _matrix, "events": _events, "hold": _hold, "soak": _soak, "disconnect": _disconnect,
}


def environment() -> dict[str, Any]:
    """The machine and software the numbers come from."""
    import importlib.metadata as md

    def version(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "-"

    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=5).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit = "?"
    import os

    return {
        "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
        "platform": platform.platform(), "commit": commit or "?",
        "packages": {name: version(name) for name in ("switchyard-router", "uvicorn", "uvloop", "httptools",
                                                       "starlette", "httpx", "orjson", "botocore")},
    }


def run(profile: Profile, say: Say = print) -> Run:
    """Run every experiment of `profile`; the processes are always stopped."""
    started = time.perf_counter()
    record = Run(profile, datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ"), environment())
    say(f"switchyard bench ({profile.name}): providers {', '.join(profile.providers)}; building bodies, "
        "starting the fakes and the router")
    bench = Bench(profile, say)
    record.memory = bench.memory
    record.disconnects = bench.disconnects
    try:
        record.bodies = describe(bench.bodies)
        time.sleep(1.0)
        record.memory["idle_start"] = rss_mb(bench.router.pid)
        record.memory["router_start_s"] = bench.router.started_in
        say(f"router pid {bench.router.pid} on port {bench.router.port}, idle RSS "
            f"{record.memory['idle_start']:.1f} MB; warming up")
        bench.warm_up()
        record.upstream_bodies = {f"{p}/{s}": len(raw) for (p, s), raw in bench.upstream.items()}
        time.sleep(1.0)
        record.memory["idle_warm"] = rss_mb(bench.router.pid)
        experiments = list(profile.experiments) + (["soak"] if profile.soak and "soak" not in profile.experiments else [])
        for name in experiments:
            say(f"{name}:")
            record.cells.extend(EXPERIMENTS[name](bench, profile))
        time.sleep(2.0)
        record.memory["idle_end"] = rss_mb(bench.router.pid)
    finally:
        bench.close()
        clean = [note for note in bench.exits if note.startswith("exited 0")]
        record.router_exit = (f"{len(bench.exits)} router process(es), {len(clean)} exited cleanly on SIGINT"
                              + ("" if len(clean) == len(bench.exits) else f": {'; '.join(bench.exits)}"))
        record.duration_s = time.perf_counter() - started
    say(f"done in {record.duration_s:.0f}s; {record.router_exit}")
    return record


def run_json(record: Run) -> dict[str, Any]:
    """The run as JSON-able data (cells with their RSS timelines only for hold and soak)."""
    return {
        "profile": dataclasses.asdict(record.profile),
        "started": record.started,
        "environment": record.environment,
        "bodies": record.bodies,
        "upstream_bodies": record.upstream_bodies,
        "memory": record.memory,
        "router_exit": record.router_exit,
        "duration_s": record.duration_s,
        "cells": [cell.to_json(keep_samples=cell.cell.experiment in ("hold", "soak")) for cell in record.cells],
        "disconnects": record.disconnects,
    }


def main(profile: Profile, out: Path = RESULTS, plot: bool = True) -> int:
    """Run, then write `<out>/<timestamp>.md`, `.json` and `.png`; print where."""
    from bench import report

    record = run(profile)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / (record.started + ("-quick" if profile.name == "quick" else ""))
    data = run_json(record)
    stem.with_suffix(".json").write_text(json.dumps(data, indent=1, default=str))
    png = stem.with_suffix(".png") if plot and report.plot(data, stem.with_suffix(".png")) else None
    markdown = report.markdown(data, png.name if png else None)
    stem.with_suffix(".md").write_text(markdown)
    print(report.targets_text(data))
    missing = "" if not plot or png else " (no plot: matplotlib is not installed, or nothing to plot)"
    print(f"wrote {stem.with_suffix('.md')}, {stem.with_suffix('.json')}" + (f", {png}" if png else missing))
    failures = sum(cell.errors for cell in record.cells)
    if failures:
        print(f"note: {failures} requests failed; see the report's error section", file=sys.stderr)
    return 0
