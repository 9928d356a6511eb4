"""`python -m bench.dialects`: what each client dialect's translation costs, in-process, no server.

The router decodes every request in the client's dialect and encodes every reply event back into
it, so the OpenAI front doors (Chat Completions, Responses) should cost about what the Anthropic
one does. This times both halves for the three dialects on the same content:

- Encode: one realistic reply held as canonical events (a signed thinking block with a ~1.5 KB
  Codex-like encrypted signature, ~200 varied text deltas, two tool calls streaming ~30 JSON
  fragments each, usage at both ends), through a fresh encoder per reply, as the server makes one
  per request. The whole reply is timed and divided by its event count; bytes out are per reply.
  A light fake flatters the per-event figure, so the events are as large and varied as real ones.
  Responses is timed twice: shaped by Codex CLI's request (encrypted reasoning, no summaries, its
  tools echoed in every `response.*` snapshot) and with reasoning summaries on.
- Decode: the benchmark's 150 KB Claude Code body (`bench.bodies.claude_code_body`) and the same
  conversation converted here into a Chat Completions and a Responses body (`to_chat`,
  `to_responses`), so the three decode the same content, plus the captured Codex CLI request
  (`tests/fixtures/codex-cli/responses-after-tool-with-reasoning.json`) as is.

Each figure is the median of `--iterations` timed calls (default 2,000), after a warm-up.
"""

from __future__ import annotations

import argparse
import base64
import functools
import itertools
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from bench.bodies import FIXTURE_BETAS, REPO, SESSION_ID, claude_code_body, prose
from bench.routing import median_us
from router.anthropic.decode import decode_request
from router.anthropic.encode import StreamEncoder
from router.conversation import Request, Signature, ToolResultBlock, ToolUseBlock, Usage
from router.events import (
    BlockStop,
    Event,
    MessageStart,
    MessageStop,
    SignatureDelta,
    TextDelta,
    TextStart,
    ThinkingDelta,
    ThinkingStart,
    ToolInputDelta,
    ToolUseStart,
)
from router.openai.chat_decode import decode_chat
from router.openai.chat_encode import ChatStreamEncoder
from router.openai.responses_decode import ResponsesRequest, decode_responses
from router.openai.responses_encode import ResponsesStreamEncoder
from router.route import Route
from router.server.sse import Encoder

CODEX_FIXTURE = REPO / "tests" / "fixtures" / "codex-cli" / "responses-after-tool-with-reasoning.json"
MODEL = "claude-opus-4-8"
"""The model name the client asked for (what the encoders echo)."""
ROUTE = Route("codex", "gpt-5.5")
"""The route serving the reply (its signature names it)."""

# -- the reply ---------------------------------------------------------------------------------

_MARKDOWN = (
    "The failing test is `test_compute_step` in tests/test_module_12.py: `compute()` now returns "
    "a tuple, but the caller still indexes it as a dict.\n\n"
    "- **Cause**: the refactor in `module_12.py` changed the return type → `(value, source)`.\n"
    "- **Fix**: unpack the tuple at both call sites and update the type hint.\n\n"
    "```python\nvalue, source = compute(step=n, source=\"module_12.py\")\n```\n\n"
    "I will edit the file and re-run the suite; the résumé of changes follows once it passes. "
)


def pieces(text: str, sizes: Iterator[int]) -> list[str]:
    """`text` cut into consecutive pieces of the given sizes (the last one takes what is left)."""
    out: list[str] = []
    start = 0
    while start < len(text):
        size = next(sizes)
        out.append(text[start:start + size])
        start += size
    return out


def split(text: str, count: int) -> list[str]:
    """`text` cut into exactly `count` pieces of uneven size, as a backend streams JSON fragments."""
    weights = [1 + (i * 7) % 5 for i in range(count)]
    total = sum(weights)
    cuts, acc = [0], 0
    for weight in weights[:-1]:
        acc += weight
        cuts.append(len(text) * acc // total)
    cuts.append(len(text))
    return [text[a:b] for a, b in itertools.pairwise(cuts)]


def _sizes(low: int, high: int, step: int) -> Iterator[int]:
    """An endless, deterministic, uneven run of sizes in [low, high]."""
    span, i = high - low + 1, 0
    while True:
        yield low + (i * step) % span
        i += 1


def codex_blob(size: int = 1500) -> str:
    """A string like Codex's `encrypted_content` (a Fernet token): `gAAAAAB` and base64url, ~`size` chars."""
    data = random.Random(15).randbytes(size * 3 // 4)
    return ("gAAAAAB" + base64.urlsafe_b64encode(data).decode())[:size]


def reply_events() -> list[Event]:
    """One realistic reply: thinking (signed), text, two tool calls, usage at both ends."""
    thinking = prose(40 * 60, 4)
    text_source = (_MARKDOWN + prose(2000, 8) + " " + _MARKDOWN) * 2
    texts = pieces(text_source, _sizes(5, 40, 13))[:200]
    bash = orjson.dumps({
        "command": "cd /work/project && python -m pytest -q tests/test_module_12.py -k 'compute and not slow' "
                   "2>&1 | tail -40",
        "description": "Run the module's tests after the fix",
        "timeout": 120000,
    }).decode()
    edit = orjson.dumps({
        "file_path": "/work/project/src/router/module_12.py",
        "old_string": "\n".join(f"    result = compute(step={n}, source=\"module_12.py\")[\"value\"]  # {prose(30, n)}"
                                for n in range(4)),
        "new_string": "\n".join(f"    value, _source = compute(step={n}, source=\"module_12.py\")  # {prose(30, n)}"
                                for n in range(4)),
        "replace_all": False,
    }).decode()
    events: list[Event] = [
        MessageStart(ROUTE.model, Usage(input_tokens=2_113, cache_read_input_tokens=36_864)),
        ThinkingStart(),
        *(ThinkingDelta(chunk) for chunk in pieces(thinking, _sizes(50, 70, 7))[:40]),
        SignatureDelta(Signature(ROUTE.provider, ROUTE.model, codex_blob())),
        BlockStop(),
        TextStart(),
        *(TextDelta(chunk) for chunk in texts),
        BlockStop(),
    ]
    for call_id, name, arguments in (("call_Qm9yZ2VkQmVuY2hDYWxsMDE", "Edit", edit),
                                     ("call_UnVuVGVzdHNCZW5jaENhbGww", "Bash", bash)):
        events += [ToolUseStart(call_id, name), *(ToolInputDelta(f) for f in split(arguments, 30)), BlockStop()]
    final = Usage(input_tokens=2_113, output_tokens=1_487, cache_read_input_tokens=36_864)
    events.append(MessageStop("tool_use", final))
    return events


# -- Anthropic body -> OpenAI bodies ------------------------------------------------------------


def _text(block: dict[str, Any]) -> str:
    """A text block's text; anything else is refused, so a conversion never drops content silently."""
    if block.get("type") != "text":
        raise ValueError(f"the converter handles text here, not {block.get('type')!r}")
    return str(block["text"])


def _blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _result_text(block: dict[str, Any]) -> str:
    content = block.get("content", "")
    return content if isinstance(content, str) else "".join(_text(part) for part in content)


def to_chat(body: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages body as the equivalent Chat Completions body (text, tools, reasoning)."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": [{"type": "text", "text": _text(b)} for b in _blocks(body.get("system", []))]}
    ]
    for message in body["messages"]:
        role, blocks = message["role"], _blocks(message["content"])
        if role == "system":
            messages.append({"role": "system", "content": "".join(_text(b) for b in blocks)})
        elif role == "user":
            messages += [{"role": "tool", "tool_call_id": b["tool_use_id"], "content": _result_text(b)}
                         for b in blocks if b["type"] == "tool_result"]
            texts = [{"type": "text", "text": _text(b)} for b in blocks if b["type"] != "tool_result"]
            if texts:
                messages.append({"role": "user", "content": texts})
        else:
            out: dict[str, Any] = {"role": "assistant", "content": None}
            reasoning = [b["thinking"] for b in blocks if b["type"] == "thinking"]
            texts = [{"type": "text", "text": b["text"]} for b in blocks if b["type"] == "text"]
            calls = [{"id": b["id"], "type": "function",
                      "function": {"name": b["name"], "arguments": orjson.dumps(b["input"]).decode()}}
                     for b in blocks if b["type"] == "tool_use"]
            if reasoning:
                out["reasoning_content"] = "\n\n".join(reasoning)
            if texts:
                out["content"] = texts
            if calls:
                out["tool_calls"] = calls
            messages.append(out)
    tools = [{"type": "function", "function": {"name": t["name"], "description": t.get("description", ""),
                                               "parameters": t["input_schema"]}} for t in body.get("tools", [])]
    chat: dict[str, Any] = {"model": body["model"], "messages": messages, "tools": tools,
                            "max_completion_tokens": body["max_tokens"], "stream": True,
                            "stream_options": {"include_usage": True}}
    if effort := body.get("output_config", {}).get("effort"):
        chat["reasoning_effort"] = effort
    return chat


def to_responses(body: dict[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages body as the equivalent Responses body, shaped like Codex CLI's requests."""
    system = [{"type": "input_text", "text": _text(b)} for b in _blocks(body.get("system", []))]
    items: list[dict[str, Any]] = [{"type": "message", "role": "developer", "content": system}]
    for message in body["messages"]:
        role, blocks = message["role"], _blocks(message["content"])
        if role == "system":
            items.append({"type": "message", "role": "developer",
                          "content": [{"type": "input_text", "text": _text(b)} for b in blocks]})
            continue
        for block in blocks:
            kind = block["type"]
            if kind == "tool_result":
                items.append({"type": "function_call_output", "call_id": block["tool_use_id"],
                              "output": _result_text(block)})
            elif kind == "tool_use":
                items.append({"type": "function_call", "call_id": block["id"], "name": block["name"],
                              "arguments": orjson.dumps(block["input"]).decode()})
            elif kind == "thinking":
                items.append({"type": "reasoning", "summary": [{"type": "summary_text", "text": block["thinking"]}],
                              "encrypted_content": block["signature"]})
            else:
                part = "input_text" if role == "user" else "output_text"
                items.append({"type": "message", "role": role, "content": [{"type": part, "text": _text(block)}]})
    tools = [{"type": "function", "name": t["name"], "description": t.get("description", ""), "strict": False,
              "parameters": t["input_schema"]} for t in body.get("tools", [])]
    return {"model": body["model"], "input": items, "tools": tools, "tool_choice": "auto",
            "parallel_tool_calls": True, "max_output_tokens": body["max_tokens"], "stream": True, "store": False,
            "reasoning": {"effort": body.get("output_config", {}).get("effort", "medium"), "summary": "auto"},
            "include": ["reasoning.encrypted_content"], "prompt_cache_key": SESSION_ID}


# -- measuring ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EncodeFigure:
    """One encoder over the reply: µs per event and per reply, bytes out per reply."""

    dialect: str
    events: int
    bytes_out: int
    us_per_reply: float
    us_per_event: float


@dataclass(frozen=True, slots=True)
class DecodeFigure:
    """One body through its dialect's decoder: its size, what it decoded to, µs per request."""

    body: str
    bytes_in: int
    messages: int
    tool_calls: int
    tool_results: int
    tools: int
    us_per_request: float


def _encoders(codex: ResponsesRequest, summaries: ResponsesRequest) -> dict[str, Callable[[], Encoder]]:
    """A fresh encoder per reply, made as the server makes it for each dialect."""
    return {
        "anthropic (StreamEncoder)": lambda: StreamEncoder(MODEL, route=ROUTE),
        "chat (ChatStreamEncoder, usage)": lambda: ChatStreamEncoder(MODEL, True),
        "responses (Codex CLI request)": lambda: ResponsesStreamEncoder.for_request(MODEL, codex),
        "responses (+ reasoning summary)": lambda: ResponsesStreamEncoder.for_request(MODEL, summaries),
    }


def encode_reply(make: Callable[[], Encoder], events: Sequence[Event]) -> bytes:
    """The whole reply through a fresh encoder, one `encode` per event as the SSE writer calls it."""
    encode = make().encode
    return b"".join([encode(event) for event in events])


def encode_figures(iterations: int) -> list[EncodeFigure]:
    """Each encoder over the reply; the Responses ones shaped by the decoded Codex CLI capture."""
    events = reply_events()
    codex_data = orjson.loads(CODEX_FIXTURE.read_bytes())
    codex = decode_responses(CODEX_FIXTURE.read_bytes())
    summaries = decode_responses(orjson.dumps({**codex_data, "reasoning": {"effort": "medium", "summary": "auto"}}))
    figures = []
    for dialect, make in _encoders(codex, summaries).items():
        out = encode_reply(make, events)
        us = median_us(functools.partial(encode_reply, make, events), iterations)
        figures.append(EncodeFigure(dialect, len(events), len(out), us, us / len(events)))
    return figures


def _shape(body: str, data: bytes, request: Request, us: float) -> DecodeFigure:
    blocks = [b for m in request.messages for b in m.content]
    return DecodeFigure(body, len(data), len(request.messages), sum(isinstance(b, ToolUseBlock) for b in blocks),
                        sum(isinstance(b, ToolResultBlock) for b in blocks), len(request.tools), us)


def decode_bodies() -> dict[str, tuple[bytes, Callable[[bytes], Request]]]:
    """The timed bodies, serialised compactly, each with its dialect's decode as the server calls it."""
    large = claude_code_body(150_000)
    large["model"] = MODEL
    betas = FIXTURE_BETAS.split(",")
    return {
        "anthropic: claude-code 150 KB": (
            orjson.dumps(large), lambda b: decode_request(b, session_id=SESSION_ID, betas=betas)),
        "chat: same conversation": (orjson.dumps(to_chat(large)), lambda b: decode_chat(b).request),
        "responses: same conversation": (orjson.dumps(to_responses(large)), lambda b: decode_responses(b).request),
        "responses: codex-cli capture": (CODEX_FIXTURE.read_bytes(), lambda b: decode_responses(b).request),
    }


def decode_figures(iterations: int) -> list[DecodeFigure]:
    """Each body through its decoder, with what it decoded to, so equal content is visible."""
    figures = []
    for name, (data, decode) in decode_bodies().items():
        request = decode(data)  # the converted bodies must decode: this raises if they do not
        figures.append(_shape(name, data, request, median_us(functools.partial(decode, data), iterations)))
    return figures


def main(argv: list[str] | None = None) -> int:
    """Print µs per event for each encoder, µs per request for each decoder (and `--json`)."""
    parser = argparse.ArgumentParser(prog="python -m bench.dialects", description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=2000, help="timed calls per figure (default 2000)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    encode = encode_figures(args.iterations)
    print(f"encode: one reply of {encode[0].events} canonical events, fresh encoder each; median of {args.iterations}")
    print(f"{'dialect':<34} {'bytes out':>10} {'µs/reply':>9} {'µs/event':>9}")
    for e in encode:
        print(f"{e.dialect:<34} {e.bytes_out:>10,} {e.us_per_reply:>9.1f} {e.us_per_event:>9.2f}")
    decode = decode_figures(args.iterations)
    print(f"\ndecode: µs per request; median of {args.iterations}")
    print(f"{'body':<32} {'bytes':>9} {'msgs':>5} {'calls':>6} {'results':>8} {'tools':>6} {'µs/request':>11}")
    for d in decode:
        print(f"{d.body:<32} {d.bytes_in:>9,} {d.messages:>5} {d.tool_calls:>6} {d.tool_results:>8} {d.tools:>6} "
              f"{d.us_per_request:>11.1f}")
    if args.json:
        figures = {"iterations": args.iterations, "encode": [asdict(e) for e in encode],
                   "decode": [asdict(d) for d in decode]}
        print(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
