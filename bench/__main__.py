"""`python -m bench [--quick] [--soak] [options]`: run the benchmark and write bench/results/<timestamp>.{md,json,png}."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

from bench.run import RESULTS, Profile, main
from bench.wire import PROVIDERS


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part)


def _names(allowed: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        names = tuple(part for part in text.split(",") if part)
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown: {', '.join(unknown)} (choose from {', '.join(allowed)})")
        return names
    return parse


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small profile (about 2 minutes): concurrency 1 and 32, "
                        "40 requests per cell, one repeat, 32 held streams")
    parser.add_argument("--providers", type=_names(PROVIDERS), help="comma-separated (default: all built-in)")
    parser.add_argument("--sizes", type=_names(("small", "large")), help="small,large (default both)")
    parser.add_argument("--concurrency", type=_ints, help="e.g. 1,8,32,128")
    parser.add_argument("--requests", type=int, help="requests per cell (the cell also stops at --seconds)")
    parser.add_argument("--seconds", type=float, help="time limit per cell")
    parser.add_argument("--events", type=int, help="text deltas per reply in the matrix (default 200)")
    parser.add_argument("--repeats", type=int, help="repeats of the matrix and events experiments (medians reported)")
    parser.add_argument("--experiments", type=_names(("matrix", "events", "hold", "soak", "disconnect")),
                        help="which experiments to run (default matrix,events,hold,disconnect)")
    parser.add_argument("--disconnect-trials", type=int, help="client disconnects timed per provider (default 10)")
    parser.add_argument("--paced-interval", type=float, help="seconds between events in paced mode (default 0.002)")
    parser.add_argument("--hold-streams", type=int, help="concurrent streams held open for RSS (default 128)")
    parser.add_argument("--no-relay", action="store_true", help="skip the bare relay's cells in the events experiment")
    parser.add_argument("--soak", action="store_true", help="also run the soak: many paced streams for minutes")
    parser.add_argument("--soak-streams", type=int, help="concurrent streams in the soak (default 128)")
    parser.add_argument("--soak-minutes", type=float, help="soak length per provider (default 0.5; documented run: 10)")
    parser.add_argument("--soak-interval", type=float, help="seconds between events in the soak (default 0.05)")
    parser.add_argument("--log-level", choices=("critical", "error", "warning", "info", "debug"),
                        help="the router's log level (default info, as `router serve` runs by default)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where results go (default bench/results)")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG plot")
    return parser.parse_args(argv)


def profile_from(args: argparse.Namespace) -> Profile:
    profile = Profile.quick() if args.quick else Profile()
    overrides = {
        "providers": args.providers, "sizes": args.sizes, "concurrency": args.concurrency, "requests": args.requests,
        "seconds": args.seconds, "events": args.events, "repeats": args.repeats, "experiments": args.experiments,
        "paced_interval": args.paced_interval, "hold_streams": args.hold_streams, "soak_streams": args.soak_streams,
        "soak_minutes": args.soak_minutes, "soak_interval": args.soak_interval, "log_level": args.log_level,
        "disconnect_trials": args.disconnect_trials,
    }
    profile = dataclasses.replace(profile, **{k: v for k, v in overrides.items() if v is not None})
    if args.soak:
        profile = dataclasses.replace(profile, soak=True)
    if args.no_relay:
        profile = dataclasses.replace(profile, relay=False)
    return profile


if __name__ == "__main__":
    arguments = parse_args(sys.argv[1:])
    sys.exit(main(profile_from(arguments), arguments.out, plot=not arguments.no_plot))
