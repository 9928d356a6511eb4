"""`python -m bench.routing`: what conditional lanes cost per request, in-process, no server.

Routing by request shape (`router.server.lanes`) runs on every turn, so it must stay far below
the ~2 ms of CPU a 150 KB request costs the router as a whole. This times `Shape.of` plus
`Conditions.matches` for a routing table of typical lanes on Claude Code-sized requests: the
benchmark's 150 KB body (`bench.bodies.claude_code_body`: the captured Claude Code turn with
its placeholders filled and 29 rounds of `tool_use`/`tool_result` history, 62 messages), the
same body with three screenshots in its tool results, and the captured title-generation call.
Decoding is not timed: the router decodes every request anyway, lanes or not.

Each figure is the median of `--iterations` timed calls (default 2,000), after a warm-up.
For comparison it also times `router.tokens.estimate_input_tokens`, which lanes do not use.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

from bench.bodies import REPO, claude_code_body
from router.anthropic.decode import decode_request
from router.conversation import Request
from router.server.lanes import Conditions, Shape
from router.tokens import estimate_input_tokens

TITLE = REPO / "tests" / "fixtures" / "claude-code" / "nonessential" / "02-title-generation-haiku.json"
LONG_CONTEXT_TOKENS = 180_000

TABLE = (
    Conditions(background=True),
    Conditions(images=True),
    Conditions(web_search=True),
    Conditions(long_context=True),
    Conditions(thinking=True, tokens_over=60_000),
    Conditions(thinking=True, tools=True, long_context=False),
)
"""A routing table of typical lanes; every rule is checked, as for a request that matches the last."""


def with_screenshots(body: dict[str, Any], count: int = 3) -> dict[str, Any]:
    """`body` with `count` ~100 KB base64 PNG-like images added to its last tool result."""
    data = base64.b64encode(bytes(range(256)) * 300).decode()
    messages = [dict(m) for m in body["messages"]]
    last = messages[-1]
    result = dict(last["content"][-1])
    text = result["content"] if isinstance(result["content"], str) else ""
    images = [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": data}}] * count
    result["content"] = [{"type": "text", "text": text or "screenshot"}, *images]
    messages[-1] = {**last, "content": [*last["content"][:-1], result]}
    return {**body, "messages": messages}


def bodies() -> dict[str, bytes]:
    """The timed request bodies, serialised compactly as Claude Code sends them."""
    large = claude_code_body(150_000)
    large["model"] = "claude-opus-4-8"
    title = orjson.loads(TITLE.read_bytes())
    return {
        "claude-code 150 KB": orjson.dumps(large),
        "claude-code 150 KB + 3 screenshots": orjson.dumps(with_screenshots(large)),
        "title generation (background)": orjson.dumps(title),
    }


def route(request: Request, size: int) -> int:
    """One request through the table: its shape, then every rule; returns how many matched."""
    shape = Shape.of(request, size)
    return sum(conditions.matches(shape, LONG_CONTEXT_TOKENS) for conditions in TABLE)


def median_us(call: Callable[[], object], iterations: int) -> float:
    """Median wall time of `call` in µs, over `iterations` timed calls after a short warm-up."""
    for _ in range(min(200, iterations)):
        call()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(iterations):
        start = clock()
        call()
        samples.append(clock() - start)
    return statistics.median(samples) / 1000


def main(argv: list[str] | None = None) -> int:
    """Print µs per request for shape + table, and for the full token estimate, per body."""
    parser = argparse.ArgumentParser(prog="python -m bench.routing", description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=2000, help="timed calls per figure (default 2000)")
    args = parser.parse_args(argv)
    print(f"{len(TABLE)} rules; median of {args.iterations} calls; µs per request")
    print(f"{'body':<36} {'bytes':>9} {'msgs':>5} {'~tokens':>8} {'shape+rules':>12} {'router.tokens':>14}")
    for name, body in bodies().items():
        request = decode_request(body)
        shape = Shape.of(request, len(body))
        lanes = median_us(lambda: route(request, len(body)), args.iterations)
        full = median_us(lambda: estimate_input_tokens(request), args.iterations)
        print(f"{name:<36} {len(body):>9,} {len(request.messages):>5} {shape.estimated_tokens:>8,} "
              f"{lanes:>12.1f} {full:>14.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
