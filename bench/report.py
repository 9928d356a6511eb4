"""From a run's JSON to numbers: medians over repeats, added time over the baseline, targets, Markdown, plot.

Derived numbers:

- added ms: router minus baseline, per repeat (same provider, size and concurrency, run back to
  back), then the median over repeats. Streaming: time to first byte (the first SSE event);
  non-streaming: time to last byte. The baseline is the upstream's own request, sent
  straight to the fake, which always streams.
- CPU per event: (router CPU per request with `events_hi` deltas - with `events_lo`) /
  (`events_hi` - `events_lo`), burst and paced. CPU per request: the `events_lo` cell's CPU
  per request less its `events_lo` events at that rate (the per-request cost with the
  streamed events taken out).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.measure import median

Cells = list[dict[str, Any]]

TARGETS = {
    "cpu_request_small_ms": 3.0,
    "cpu_request_large_ms": 6.0,
    "cpu_event_burst_us": 15.0,
    "cpu_event_paced_us": 60.0,
    "added_ttfb_c1_small_ms": 2.0,
    "added_ttfb_c1_large_ms": 4.0,
    "rps_c32_large_stream": 200.0,
    "idle_rss_mb": 60.0,
    "rss_128_streams_mb": 120.0,
    "disconnect_cancel_ms": 100.0,
}


def _select(data: dict[str, Any], experiment: str, **match: Any) -> Cells:
    out = []
    for cell in data["cells"]:
        spec = cell["cell"]
        if spec["experiment"] == experiment and all(spec[k] == v for k, v in match.items()):
            out.append(cell)
    return out


def _group(cells: Cells, keys: tuple[str, ...]) -> dict[tuple[Any, ...], Cells]:
    groups: dict[tuple[Any, ...], Cells] = defaultdict(list)
    for cell in cells:
        groups[tuple(cell["cell"][k] for k in keys)].append(cell)
    return groups


def _med(cells: Cells, field: str) -> float:
    return median([float(c[field]) for c in cells])


def matrix_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per provider x size x streaming x concurrency: medians over repeats, with the baseline."""
    baselines = _group(_select(data, "matrix", target="baseline"), ("provider", "size", "concurrency"))
    rows = []
    routers = _group(_select(data, "matrix", target="router"), ("provider", "size", "stream", "concurrency"))
    for (provider, size, stream, conc), cells in routers.items():
        base = {c["cell"]["repeat"]: c for c in baselines.get((provider, size, conc), [])}
        metric = "ttfb_p50" if stream else "ttlb_p50"
        added = [c[metric] - base[c["cell"]["repeat"]][metric] for c in cells if c["cell"]["repeat"] in base]
        added_p99 = [c[metric.replace("50", "99")] - base[c["cell"]["repeat"]][metric.replace("50", "99")]
                     for c in cells if c["cell"]["repeat"] in base]
        bcells = list(base.values())
        rows.append({
            "provider": provider, "size": size, "stream": stream, "concurrency": conc, "repeats": len(cells),
            "rps": _med(cells, "rps"), "base_rps": _med(bcells, "rps") if bcells else math.nan,
            "ttfb_p50": _med(cells, "ttfb_p50"), "ttfb_p99": _med(cells, "ttfb_p99"),
            "ttlb_p50": _med(cells, "ttlb_p50"), "ttlb_p99": _med(cells, "ttlb_p99"),
            "base_ttfb_p50": _med(bcells, "ttfb_p50") if bcells else math.nan,
            "base_ttlb_p50": _med(bcells, "ttlb_p50") if bcells else math.nan,
            "base_ttlb_p99": _med(bcells, "ttlb_p99") if bcells else math.nan,
            "added_p50": median(added), "added_p99": median(added_p99),
            "cpu_ms": _med(cells, "router_cpu_per_req"), "fake_cpu_ms": _med(cells, "fake_cpu_per_req"),
            "base_fake_cpu_ms": _med(bcells, "fake_cpu_per_req") if bcells else math.nan,
            "load_cpu_ms": _med(cells, "load_cpu_per_req"),
            "peak_rss": min(cells, key=lambda c: c["cell"]["repeat"])["rss_peak"],  # first pass: RSS never shrinks
            "conns_per_req": (sum(c.get("upstream_connections", 0) for c in cells)
                              / max(1, sum(c.get("upstream_requests", 0) for c in cells))),
            "errors": sum(c["errors"] for c in cells), "requests": sum(c["ok"] + c["errors"] for c in cells),
        })
    order = {p: i for i, p in enumerate(data["profile"]["providers"])}
    rows.sort(key=lambda r: (order.get(r["provider"], 99), r["size"] != "small", not r["stream"], r["concurrency"]))
    return rows


def event_rows(data: dict[str, Any], target: str = "router") -> list[dict[str, Any]]:
    """CPU per streamed event (slope) and per request (intercept), per provider x size x mode."""
    rows = []
    cells_of = _select(data, "events", target=target)
    for (provider, size, mode), cells in _group(cells_of, ("provider", "size", "mode")).items():
        by_repeat = _group(cells, ("repeat",))
        slopes, intercepts, lo_cpu, hi_cpu, events = [], [], [], [], (0, 0)
        for pair in by_repeat.values():
            if len(pair) != 2:
                continue
            lo, hi = sorted(pair, key=lambda c: c["cell"]["events"])
            e_lo, e_hi = lo["cell"]["events"], hi["cell"]["events"]
            slope_ms = (hi["router_cpu_per_req"] - lo["router_cpu_per_req"]) / (e_hi - e_lo)
            slopes.append(slope_ms * 1000)
            intercepts.append(lo["router_cpu_per_req"] - e_lo * slope_ms)
            lo_cpu.append(lo["router_cpu_per_req"])
            hi_cpu.append(hi["router_cpu_per_req"])
            events = (e_lo, e_hi)
        rows.append({
            "provider": provider, "size": size, "mode": mode, "events_lo": events[0], "events_hi": events[1],
            "cpu_lo_ms": median(lo_cpu), "cpu_hi_ms": median(hi_cpu), "us_per_event": median(slopes),
            "ms_per_request": median(intercepts), "repeats": len(slopes),
            "fake_us_per_event": _fake_slope(by_repeat),
            "errors": sum(c["errors"] for c in cells),
        })
    order = {p: i for i, p in enumerate(data["profile"]["providers"])}
    rows.sort(key=lambda r: (order.get(r["provider"], 99), r["mode"], r["size"] != "small"))
    return rows


def _fake_slope(by_repeat: dict[tuple[Any, ...], Cells]) -> float:
    slopes = []
    for pair in by_repeat.values():
        if len(pair) == 2:
            lo, hi = sorted(pair, key=lambda c: c["cell"]["events"])
            slopes.append((hi["fake_cpu_per_req"] - lo["fake_cpu_per_req"]) * 1000
                          / (hi["cell"]["events"] - lo["cell"]["events"]))
    return median(slopes)


def memory_rows(data: dict[str, Any], experiment: str, target: str = "router") -> list[dict[str, Any]]:
    """Hold or soak cells: RSS before, with the streams open, peak, after; per stream; growth."""
    rows = []
    for cell in _select(data, experiment, target=target):
        spec, samples = cell["cell"], cell.get("rss_samples") or []
        wall = cell["wall_s"] or (samples[-1][0] if samples else 0.0)
        middle = [rss for t, rss in samples if 0.25 * wall <= t <= 0.75 * wall] or [rss for _, rss in samples]
        streams = spec["concurrency"]
        open_rss = median(middle) if middle else math.nan
        growth = (_slope_per_min([(t, r) for t, r in samples if 0.1 * wall <= t <= 0.9 * wall])
                  if experiment == "soak" else math.nan)  # a few seconds of hold are all ramp-up
        total_events = (cell["ok"] + cell["errors"]) * spec["events"]
        rows.append({
            "provider": spec["provider"], "size": spec["size"], "streams": streams, "events": spec["events"],
            "interval": spec["interval"], "wall_s": wall, "rss_before": cell["rss_before"], "rss_open": open_rss,
            "rss_peak": cell["rss_peak"], "rss_after": cell["rss_after"],
            "per_stream_kb": (open_rss - cell["rss_before"]) * 1024 / streams if streams else math.nan,
            "peak_per_stream_kb": (cell["rss_peak"] - cell["rss_before"]) * 1024 / streams if streams else math.nan,
            "growth_mb_per_min": growth, "cpu_ms": cell["router_cpu_ms"],
            "us_per_event": cell["router_cpu_ms"] * 1000 / total_events if total_events else math.nan,
            "errors": cell["errors"], "ok": cell["ok"],
            "after_settle": (data["memory"].get("after_soak") or {}).get(spec["provider"]),
        })
    return rows


def _slope_per_min(points: list[tuple[float, float]]) -> float:
    if len(points) < 3:
        return math.nan
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mr = sum(r for _, r in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (r - mr) for t, r in points) / var * 60 if var else math.nan


# -- targets ----------------------------------------------------------------------------------


def evaluate(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target measured in this run, per provider where it applies: value, limit, verdict."""
    out: list[dict[str, Any]] = []

    def add(name: str, what: str, provider: str, value: float, limit: float, higher_is_better: bool = False,
            note: str = "") -> None:
        if math.isnan(value):
            verdict = "n/a"
        else:
            verdict = "PASS" if (value >= limit if higher_is_better else value <= limit) else "FAIL"
        out.append({"target": name, "what": what, "provider": provider, "value": value, "limit": limit,
                    "verdict": verdict, "note": note, "higher_is_better": higher_is_better})

    events = event_rows(data)
    providers = data["profile"]["providers"]
    for provider in providers:
        for size, key in (("small", "cpu_request_small_ms"), ("large", "cpu_request_large_ms")):
            row = _find(events, provider=provider, size=size, mode="burst")
            add(key, f"CPU/request, {size} (events taken out)", provider,
                row["ms_per_request"] if row else math.nan, TARGETS[key])
    relay = event_rows(data, "relay")
    for provider in providers:
        for mode, key in (("burst", "cpu_event_burst_us"), ("paced", "cpu_event_paced_us")):
            row = _find(events, provider=provider, size="small", mode=mode)
            bare = _find(relay, provider=provider, size="small", mode=mode)
            add(key, f"CPU/event, {mode}", provider, row["us_per_event"] if row else math.nan, TARGETS[key],
                note=f"bare relay {bare['us_per_event']:.1f} µs" if bare else "")
    matrix = matrix_rows(data)
    for provider in providers:
        for size, key in (("small", "added_ttfb_c1_small_ms"), ("large", "added_ttfb_c1_large_ms")):
            row = _find(matrix, provider=provider, size=size, stream=True, concurrency=1)
            add(key, f"added TTFB p50 at c=1, {size}", provider, row["added_p50"] if row else math.nan, TARGETS[key])
    for provider in providers:
        row = _find(matrix, provider=provider, size="large", stream=True, concurrency=32)
        value = row["rps"] if row else math.nan
        note = ""
        if row and row["errors"]:
            note, value = f"{row['errors']} errors", min(value, 0.0)
        add("rps_c32_large_stream", "req/s at c=32, 150 KB, streaming, no errors", provider, value,
            TARGETS["rps_c32_large_stream"], higher_is_better=True, note=note)
    for row in memory_rows(data, "soak"):
        burst = _find(events, provider=row["provider"], size=row["size"], mode="burst")
        if burst and row["events"]:
            request_us = burst["ms_per_request"] * 1000 / row["events"]
            note = (f"{row['us_per_event']:.1f} µs before taking out the request's own CPU "
                    f"({request_us:.1f} µs/event)")
        else:
            request_us, note = 0.0, "the request's own CPU included (no events experiment in this run)"
        bare = _find(memory_rows(data, "soak", "relay"), provider=row["provider"])
        if bare:
            note += f"; bare relay {bare['us_per_event']:.1f} µs/event, request included"
        add("cpu_event_paced_us", f"CPU/event, soak: {row['streams']} streams, one event per "
            f"{row['interval'] * 1000:g} ms", row["provider"], row["us_per_event"] - request_us,
            TARGETS["cpu_event_paced_us"], note=note)
    memory = data["memory"]
    add("idle_rss_mb", "idle RSS after warm-up", "router", memory.get("idle_warm", math.nan), TARGETS["idle_rss_mb"],
        note=f"at start {memory.get('idle_start', math.nan):.1f} MB")
    for row in data.get("disconnects", []):
        value = row["max_ms"] if row["cancelled"] and not (row["missed"] or row["failed"]) else math.inf
        note = f"p50 {row['p50_ms']:.1f} ms over {row['cancelled']}/{row['trials']} trials"
        if row["missed"] or row["failed"]:
            note += f"; {row['missed']} never cancelled, {len(row['failed'])} failed"
        add("disconnect_cancel_ms", "upstream closed after the client left (max)", row["provider"], value,
            TARGETS["disconnect_cancel_ms"], note=note)
    out = [t for t in out if t["verdict"] != "n/a" or t["note"]]  # leave out what this run did not measure
    for row in memory_rows(data, "hold"):
        if row["streams"] == 128:
            add("rss_128_streams_mb", "peak RSS, 128 open streams (150 KB requests)", row["provider"],
                row["rss_peak"], TARGETS["rss_128_streams_mb"])
        else:
            add("rss_128_streams_mb", f"peak RSS, {row['streams']} open streams (target is for 128)",
                row["provider"], math.nan, TARGETS["rss_128_streams_mb"], note=f"{row['rss_peak']:.1f} MB")
    return out


def _find(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


# -- text ---------------------------------------------------------------------------------------


def _f(value: float, digits: int = 2) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _table(header: list[str], rows: Iterable[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def targets_table(data: dict[str, Any]) -> str:
    rows = []
    for t in evaluate(data):
        unit = " req/s" if t["higher_is_better"] else (" µs" if t["target"].endswith("_us") else
                                                       (" MB" if t["target"].endswith("_mb") else " ms"))
        bound = "≥" if t["higher_is_better"] else "≤"
        verdict = f"**{t['verdict']}**" if t["verdict"] == "FAIL" else t["verdict"]
        rows.append([t["what"], t["provider"], _f(t["value"], 1 if t["higher_is_better"] else 2) + unit,
                     f"{bound} {t['limit']:g}{unit}", verdict, t["note"]])
    return _table(["target", "provider", "measured", "limit", "verdict", "note"], rows)


def matrix_table(data: dict[str, Any], provider: str) -> str:
    rows = []
    for r in matrix_rows(data):
        if r["provider"] != provider:
            continue
        rows.append([
            r["size"], "yes" if r["stream"] else "no", str(r["concurrency"]),
            f"{_f(r['rps'], 0)} / {_f(r['base_rps'], 0)}",
            f"{_f(r['ttfb_p50'])} / {_f(r['ttfb_p99'])}" if r["stream"] else "–",
            f"{_f(r['ttlb_p50'])} / {_f(r['ttlb_p99'])}",
            f"{_f(r['base_ttfb_p50'])} / {_f(r['base_ttlb_p50'])} / {_f(r['base_ttlb_p99'])}",
            f"{_f(r['added_p50'])} / {_f(r['added_p99'])}",
            _f(r["cpu_ms"]), f"{_f(r['fake_cpu_ms'], 3)} / {_f(r['base_fake_cpu_ms'], 3)}", _f(r["load_cpu_ms"]),
            _f(r["conns_per_req"], 2), _f(r["peak_rss"], 1), f"{r['errors']}/{r['requests']}",
        ])
    return _table(["body", "stream", "conc", "req/s router / base", "TTFB p50 / p99", "TTLB p50 / p99",
                   "base TTFB p50 / TTLB p50 / p99", "added p50 / p99", "router CPU ms/req",
                   "fake CPU ms/req (router run / base run)", "loadgen CPU ms/req", "upstream conns/req",
                   "peak RSS MB (1st pass)", "errors"], rows)


def events_table(data: dict[str, Any]) -> str:
    rows = []
    relay = event_rows(data, "relay")
    for r in event_rows(data):
        bare = _find(relay, provider=r["provider"], size=r["size"], mode=r["mode"])
        rows.append([r["provider"], r["size"], r["mode"], f"{r['events_lo']} / {r['events_hi']}",
                     f"{_f(r['cpu_lo_ms'])} / {_f(r['cpu_hi_ms'])}", _f(r["us_per_event"], 1),
                     _f(r["ms_per_request"]),
                     f"{_f(bare['us_per_event'], 1)} / {_f(bare['ms_per_request'])}" if bare else "–",
                     _f(r["fake_us_per_event"], 2), str(r["errors"] + (bare["errors"] if bare else 0))])
    return _table(["provider", "body", "mode", "events lo / hi", "router CPU ms/req lo / hi", "µs/event",
                   "ms/request (events out)", "bare relay µs/event / ms/request", "fake µs/event", "errors"], rows)


def memory_table(data: dict[str, Any], experiment: str) -> str:
    rows = []
    for r in memory_rows(data, experiment):
        after = r["after_settle"] if r["after_settle"] is not None else r["rss_after"]
        rows.append([r["provider"], r["size"], str(r["streams"]), f"{r['events']} × {r['interval'] * 1000:g} ms",
                     _f(r["wall_s"], 1), _f(r["rss_before"], 1), _f(r["rss_open"], 1), _f(r["rss_peak"], 1),
                     _f(after, 1), _f(r["per_stream_kb"], 0), _f(r["peak_per_stream_kb"], 0),
                     _f(r["growth_mb_per_min"], 2), _f(r["us_per_event"], 1), f"{r['errors']}/{r['ok'] + r['errors']}"])
    return _table(["provider", "body", "streams", "events × interval", "wall s", "RSS before", "RSS open (median)",
                   "peak RSS", "RSS after", "KB/stream (open)", "KB/stream (peak)", "growth MB/min",
                   "CPU µs/event", "errors"], rows)


def problems(data: dict[str, Any]) -> list[str]:
    """Cells with failed requests, hangs or router log warnings/errors."""
    out = []
    for cell in data["cells"]:
        spec = cell["cell"]
        label = (f"{spec['experiment']}/{spec['target']}/{spec['provider']}/{spec['size']}/"
                 f"{'stream' if spec['stream'] else 'json'}/c{spec['concurrency']}/{spec['mode']}{spec['events']}"
                 f"#{spec['repeat']}")
        if cell["errors"] or cell["hung"]:
            out.append(f"- `{label}`: {cell['errors']} failed requests {cell['error_kinds']}"
                       + (" (load generator hung)" if cell["hung"] else ""))
            out += [f"  - `{s[:300]}`" for s in cell["error_samples"][:3]]
        if cell["log_problems"]:
            out.append(f"- `{label}`: {cell['log_problems']} router log warnings/errors")
            out += [f"  - `{s[:300]}`" for s in cell["log_samples"][:3]]
        statuses = {k: v for k, v in cell["log_statuses"].items() if k != "200"}
        if statuses and spec["target"] == "router":
            out.append(f"- `{label}`: access log statuses {cell['log_statuses']}")
    return out


def markdown(data: dict[str, Any], png: str | None) -> str:
    """The whole report."""
    p, env, mem = data["profile"], data["environment"], data["memory"]
    bodies = data["bodies"]
    lines = [
        f"# switchyard-router benchmark, {data['started']} ({p['name']} profile)",
        "",
        f"- machine: {env['cpu']}, {env['cores']} cores; Python {env['python']}; {env['platform']}",
        f"- commit {env['commit']}; " + ", ".join(f"{k} {v}" for k, v in env["packages"].items()),
        f"- bodies: small {bodies.get('small', {}).get('bytes', '–')} B; large {bodies.get('large', {}).get('bytes', '–')} B "
        f"({bodies.get('large', {}).get('tools', '–')} tools, {bodies.get('large', {}).get('messages', '–')} messages, "
        f"{bodies.get('large', {}).get('tool_uses', '–')} tool uses); upstream requests (baseline): "
        + ", ".join(f"{k} {v} B" for k, v in data["upstream_bodies"].items()),
        (f"- matrix: {p['events']} text deltas per reply, fakes in burst mode; each cell {p['requests']} requests or "
        f"{p['seconds']:g} s, whichever first; {p['repeats']} repeat(s), medians shown; router log level {p['log_level']}"),
        f"- run took {data['duration_s']:.0f} s; {data['router_exit']}",
        "",
        "## Targets",
        "",
        targets_table(data),
        "",
    ]
    if _select(data, "matrix"):
        lines += [
            "## Router vs baseline (burst replies)",
            "",
            ("Times in ms. *added* = router − baseline (TTFB when streaming, TTLB when not), paired per repeat. "
             "Baseline = the upstream request sent straight to the fake (it always streams)."),
            "",
        ]
        for provider in p["providers"]:
            lines += [f"### {provider}", "", matrix_table(data, provider), ""]
    if _select(data, "events"):
        lines += ["## CPU per streamed event and per request", "",
                  (f"Streaming at concurrency {p['events_concurrency']}; paced = one event per write every "
                  f"{p['paced_interval'] * 1000:g} ms."), "", events_table(data), ""]
    lines += ["## Memory", "",
              (f"- idle RSS: {_f(mem.get('idle_start', math.nan), 1)} MB after start, "
              f"{_f(mem.get('idle_warm', math.nan), 1)} MB after warm-up, "
              f"{_f(mem.get('idle_after_load', mem.get('idle_end', math.nan)), 1)} MB idle after the matrix and "
              "events experiments (the allocator keeps what the busiest cell needed); "
              f"router ready {_f(mem.get('router_start_s', math.nan), 2)} s after launch"), ""]
    fresh = "Each row on a freshly started router, warmed up with a few requests (RSS before = its idle RSS)."
    if _select(data, "hold"):
        lines += ["### Many open streams (hold)", "", fresh, "", memory_table(data, "hold"), ""]
    if _select(data, "soak"):
        lines += ["### Soak", "", fresh, "", memory_table(data, "soak"), ""]
    if data.get("disconnects"):
        lines += ["## Client disconnect", "",
                  ("Each trial reads a stream to its first text delta, then closes the socket; the delay is until "
                   f"the fake upstream (one event every {p.get('disconnect_interval', 0.05) * 1000:g} ms) saw the "
                   "router close the upstream connection. The router runs with its default ping interval (10 s)."),
                  "", _table(["provider", "trials", "upstream closed", "p50 ms", "p99 ms", "max ms"],
                             ([row["provider"], str(row["trials"]), str(row["cancelled"]), _f(row["p50_ms"]),
                               _f(row["p99_ms"]), _f(row["max_ms"])] for row in data["disconnects"])), ""]
    issues = problems(data)
    lines += ["## Errors and router log", ""] + (issues or [("None: every request succeeded and the router "
                                                             "logged no warning or error.")]) + [""]
    if png:
        lines += ["## Plot", "", f"![added latency and CPU vs concurrency]({png})", ""]
    return "\n".join(lines)


def targets_text(data: dict[str, Any]) -> str:
    """The target verdicts as plain lines for the terminal."""
    lines = ["targets:"]
    for t in evaluate(data):
        bound = "≥" if t["higher_is_better"] else "≤"
        lines.append(f"  {t['verdict']:<4}  {t['what']:<52} {t['provider']:<10} {_f(t['value'])} ({bound} {t['limit']:g})"
                     + (f"  {t['note']}" if t["note"] else ""))
    return "\n".join(lines)


# -- plot ---------------------------------------------------------------------------------------


def plot(data: dict[str, Any], path: Path) -> bool:
    """Added latency, CPU and throughput vs concurrency, per provider and body size; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = matrix_rows(data)
    colors = {"codex": "tab:blue", "openrouter": "tab:orange", "kiro": "tab:green"}
    styles = {"small": "-", "large": "--"}
    panels: list[tuple[str, Callable[[dict[str, Any]], bool], str]] = [
        ("added TTFB p50, streaming (ms)", lambda r: r["stream"], "added_p50"),
        ("added TTLB p50, non-streaming (ms)", lambda r: not r["stream"], "added_p50"),
        ("router CPU per request, streaming (ms)", lambda r: r["stream"], "cpu_ms"),
        ("router CPU per request, non-streaming (ms)", lambda r: not r["stream"], "cpu_ms"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    for ax, (title, keep, field) in zip(axes.flat, panels, strict=True):
        for provider in data["profile"]["providers"]:
            for size in data["profile"]["sizes"]:
                points = sorted((r["concurrency"], r[field]) for r in rows
                                if r["provider"] == provider and r["size"] == size and keep(r))
                if points:
                    ax.plot([x for x, _ in points], [y for _, y in points], styles[size], marker="o",
                            color=colors.get(provider), label=f"{provider} {size}")
        if field == "added_p50":  # c=1 is a few ms, c=128 hundreds: keep both readable
            ax.set_yscale("symlog", linthresh=1.0)
        ax.set_xscale("log", base=2)
        ax.set_xticks(data["profile"]["concurrency"], [str(c) for c in data["profile"]["concurrency"]])
        ax.set_xlabel("concurrency")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    env = data["environment"]
    fig.suptitle(f"switchyard-router over a zero-overhead baseline: {env['cores']} cores, "
                 f"{data['profile']['events']} events/reply, {data['started']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.report RESULT.json`: write the Markdown (and plot) of a run again, from its JSON."""
    import argparse
    import json

    parser = argparse.ArgumentParser(prog="python -m bench.report", description=main.__doc__)
    parser.add_argument("json", type=Path)
    parser.add_argument("--no-plot", action="store_true")
    args = parser.parse_args(argv)
    data = json.loads(args.json.read_text())
    png = args.json.with_suffix(".png")
    drawn = not args.no_plot and bool(_select(data, "matrix")) and plot(data, png)
    args.json.with_suffix(".md").write_text(markdown(data, png.name if drawn or png.exists() else None))
    print(targets_text(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
