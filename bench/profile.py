"""Where the router's time goes: a sampling profile of the real `router serve` process under load.

`python -m bench.profile` starts the same deployment as the benchmark (fakes + router), and for
each provider profiles two load shapes, so the per-request and per-event costs show apart:

- request-dominated: the 150 KB Claude Code request, streaming, 10 events per reply;
- event-dominated: the 2 KB request, streaming, 1000 events per reply;
- paced: the 2 KB request, streaming, 200 events per reply sent one per write every 2 ms
  (`--paced-interval`), so every event costs a wake-up, a read and a write (`--shapes` picks
  among the three).

Tools:

- `py-spy` (default when installed and allowed to attach): samples the router process from
  outside while the load generator runs, so everything (uvicorn, httptools, starlette, httpx,
  the providers, logging) appears as it runs in production;
- `cprofile` (fallback, or `--tool cprofile`): the router app in-process behind
  `httpx.ASGITransport` (no uvicorn), exact call counts per request.

Output: `bench/results/profile-<timestamp>.md` with the top functions by own time and by
inclusive time, time per package, and (cProfile) calls per request; py-spy's raw collapsed
stacks beside it (`.collapsed.txt.gz`; gunzip for speedscope or flamegraph.pl).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gzip
import io
import os
import pstats
import sysconfig
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from bench.bodies import build_bodies, http_request
from bench.cells import Cell, run_cell
from bench.deploy import Fakes, Router, write_config, write_credentials
from bench.run import RESULTS
from bench.wire import PROVIDERS

SHAPES: dict[str, tuple[str, int, str]] = {
    "request": ("large", 10, "burst"),
    "event": ("small", 1000, "burst"),
    "paced": ("small", 200, "paced"),
}
"""Load shape -> (body size, events per reply, how the fake sends them: all at once, or one write every 2 ms)."""

PACKAGES = (
    ("providers/", "providers"), ("router/", "router (core)"), ("uvicorn", "uvicorn"), ("httptools", "uvicorn"),
    ("starlette", "starlette"), ("httpx", "httpx/httpcore/anyio"), ("httpcore", "httpx/httpcore/anyio"),
    ("anyio", "httpx/httpcore/anyio"), ("h11", "httpx/httpcore/anyio"), ("logging", "logging"),
    ("botocore", "botocore"), ("asyncio", "asyncio"), ("orjson", "orjson"), ("json", "json"),
)


def package_of(frame: str) -> str:
    """The package a py-spy frame (`function (path/file.py)`) belongs to."""
    where = frame[frame.rfind("(") + 1:]
    for marker, name in PACKAGES:
        if where.startswith(marker) if marker.endswith("/") else marker in where:  # router/ vs providers/openrouter/
            return name
    return "other"


def aggregate(collapsed: str) -> tuple[Counter[str], Counter[str], Counter[str], int]:
    """(own samples per frame, inclusive samples per frame, own samples per package, total) from raw stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        packages[package_of(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count
    return own, inclusive, packages, total


def _top(counter: Counter[str], total: int, n: int) -> str:
    rows = ["| % | samples | function (file) |", "|---|---|---|"]
    for frame, count in counter.most_common(n):
        rows.append(f"| {100 * count / total:.1f} | {count} | `{frame}` |")
    return "\n".join(rows)


def py_spy_available() -> str | None:
    """The py-spy executable, if there is one next to this Python or on PATH."""
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def profile_py_spy(providers: tuple[str, ...], shapes: tuple[str, ...], seconds: float, concurrency: int, rate: int,
                   out: Path, stem: str, native: bool = False, interval: float = 0.002) -> list[str]:
    """Sample the router process with py-spy for each provider and shape; Markdown sections."""
    spy = py_spy_available()
    assert spy is not None
    tmp = Path(tempfile.mkdtemp(prefix="switchyard-profile-"))
    fakes = Fakes.start()
    config = write_config(tmp / "config.yaml", fakes.ports, write_credentials(tmp / "creds"), "info")
    router = Router.start(config, tmp, tmp / "router.log")
    bodies = build_bodies(providers)
    sections: list[str] = []
    try:
        for provider in providers:
            for shape in shapes:
                size, events, mode = SHAPES[shape]
                fakes.configure(mode, events, interval)
                body = bodies[(provider, size, True)]
                request = http_request("/v1/messages?beta=true", f"127.0.0.1:{router.port}", body.data, body.headers)
                warm = Cell("profile", "router", provider, size, True, 2, 10, 5.0, events=events)
                run_cell(warm, request, router.port, router, fakes, expect="event: message_stop", reject="event: error")
                raw = tmp / f"{provider}-{shape}.txt"
                spy_proc = subprocess.Popen([spy, "record", "--pid", str(router.pid), "--format", "raw", "--rate",
                                             str(rate), "--function", "--duration", str(int(seconds)),
                                             "--output", str(raw), *(["--native"] if native else [])],
                                            stdout=subprocess.DEVNULL,
                                            stderr=subprocess.PIPE)
                time.sleep(0.5)  # let py-spy attach
                cell = Cell("profile", "router", provider, size, True, concurrency, 100_000, seconds - 1.0,
                            events=events)
                measured = run_cell(cell, request, router.port, router, fakes, expect="event: message_stop",
                                    reject="event: error")
                _, err = spy_proc.communicate(timeout=seconds + 30)
                if spy_proc.returncode != 0 or not raw.exists():
                    raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')[-500:]}")
                collapsed = raw.read_text()
                with gzip.open(out / f"{stem}-{provider}-{shape}.collapsed.txt.gz", "wt") as handle:
                    handle.write(collapsed)
                own, inclusive, packages, total = aggregate(collapsed)
                done = measured.ok + measured.errors
                sections += [
                    f"### {provider}, {shape} ({size} body, {events} events per reply, {mode}, c={concurrency})",
                    "",
                    (f"{done} requests in {measured.wall_s:.1f} s ({measured.rps:.0f} req/s), router CPU "
                    f"{measured.router_cpu_per_req:.2f} ms/request (sampling on), {total} samples at {rate} Hz, "
                    f"errors {measured.errors}."),
                    "",
                    "Own time by package: " + ", ".join(f"{name} {100 * n / total:.0f}%"
                                                        for name, n in packages.most_common()),
                    "",
                    "Top functions by own time:",
                    "",
                    _top(own, total, 25),
                    "",
                    "Top functions by inclusive time:",
                    "",
                    _top(inclusive, total, 25),
                    "",
                ]
    finally:
        router.stop()
        fakes.stop()
    return sections


# -- cProfile, in-process ------------------------------------------------------------------------------


async def _drive_in_process(provider: str, size: str, stream: bool, requests: int, ports: dict[str, int],
                            tmp: Path) -> tuple[pstats.Stats, float]:
    import httpx

    from router.server.app import create_app
    from router.server.config import load_config
    from router.server.plugins import make_plugin_manager, provider_classes
    from router.server.runtime import Runtime

    credentials = write_credentials(tmp / "creds")
    config_path = write_config(tmp / "config.yaml", ports, credentials, "warning")
    os.environ["OPENROUTER_API_KEY"] = (tmp / "creds" / "openrouter.key").read_text().strip()
    os.environ["XDG_STATE_HOME"] = str(tmp / "state")
    classes = provider_classes(make_plugin_manager())
    runtime = Runtime(load_config(config_path, classes), classes)
    app = create_app(runtime)
    body = build_bodies((provider,))[(provider, size, stream)]
    headers = dict(body.headers)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://router") as client:
        for _ in range(5):
            (await client.post("/v1/messages", content=body.data, headers=headers)).raise_for_status()
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(requests):
            response = await client.post("/v1/messages", content=body.data, headers=headers)
            if response.status_code != 200:
                raise RuntimeError(response.text)
        profiler.disable()
        elapsed = time.perf_counter() - started
    await runtime.aclose()
    return pstats.Stats(profiler), elapsed


def profile_cprofile(providers: tuple[str, ...], shapes: tuple[str, ...], requests: int) -> list[str]:
    """cProfile of the app in-process (httpx.ASGITransport), per provider and shape; Markdown sections."""
    sections: list[str] = []
    fakes = Fakes.start()
    try:
        for provider in providers:
            for shape in shapes:
                size, events, mode = SHAPES[shape]
                fakes.configure(mode, events, 0.002)
                tmp = Path(tempfile.mkdtemp(prefix="switchyard-cprofile-"))
                stats, elapsed = asyncio.run(_drive_in_process(provider, size, True, requests, fakes.ports, tmp))
                buffer = io.StringIO()
                stats.stream = buffer  # type: ignore[attr-defined]
                stats.sort_stats("tottime").print_stats(25)
                own = buffer.getvalue()
                buffer = io.StringIO()
                stats.stream = buffer  # type: ignore[attr-defined]
                stats.sort_stats("cumulative").print_stats(30)
                sections += [
                    f"### cProfile: {provider}, {shape} ({size} body, {events} events, {mode}, in-process)",
                    "", (f"{requests} requests in {elapsed:.2f} s with the profiler on "
                    f"({elapsed / requests * 1000:.2f} ms each; ncalls / {requests} = calls per request)."), "",
                    "```", _trim(own), "```", "", "```", _trim(buffer.getvalue()), "```", "",
                ]
    finally:
        fakes.stop()
    return sections


def _trim(text: str) -> str:
    """cProfile's table from its header on, with file paths relative to the project, site-packages
    or the standard library, so that a committed profile names no directory of the machine."""
    lines = text.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(_relative(line) for line in lines[start:])


def _relative(line: str) -> str:
    paths = sysconfig.get_paths()
    roots = sorted({str(Path(__file__).resolve().parent.parent), paths["purelib"], paths["platlib"], paths["stdlib"],
                    paths["platstdlib"]}, key=len, reverse=True)  # site-packages lies inside the stdlib's tree
    for root in roots:
        line = line.replace(root.rstrip("/") + "/", "")
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n")[0])
    parser.add_argument("--tool", choices=("py-spy", "cprofile", "both"), default="both")
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    parser.add_argument("--shapes", default=",".join(SHAPES), help="load shapes: " + ", ".join(SHAPES))
    parser.add_argument("--paced-interval", type=float, default=0.002, help="py-spy: seconds between paced events")
    parser.add_argument("--seconds", type=float, default=8.0, help="py-spy: seconds of load per profile")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--native", action="store_true", help="py-spy: include C frames (uvloop, orjson, syscalls)")
    parser.add_argument("--requests", type=int, default=200, help="cProfile: requests per profile")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    providers = tuple(p for p in args.providers.split(",") if p)
    shapes = tuple(s for s in args.shapes.split(",") if s)
    if unknown := [s for s in shapes if s not in SHAPES]:
        parser.error(f"unknown shape {unknown[0]!r}; choose from {', '.join(SHAPES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "profile-" + datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    sections: list[str] = [f"# Router hot-path profile, {stem.removeprefix('profile-')}", ""]
    tool = args.tool
    if tool in ("py-spy", "both"):
        if py_spy_available() is None:
            print("py-spy is not installed; using cProfile only", file=sys.stderr)
            tool = "cprofile"
        else:
            try:
                sections += ["## py-spy on `router serve` under load", ""]
                sections += profile_py_spy(providers, shapes, args.seconds, args.concurrency, args.rate, args.out,
                                           stem, native=args.native, interval=args.paced_interval)
            except (RuntimeError, OSError) as exc:
                print(f"py-spy could not profile the router ({exc}); using cProfile", file=sys.stderr)
                tool = "cprofile"
    if tool in ("cprofile", "both"):
        sections += ["## cProfile in-process (httpx.ASGITransport, no uvicorn)", ""]
        sections += profile_cprofile(providers, shapes, args.requests)
    path = args.out / f"{stem}.md"
    path.write_text("\n".join(sections))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

