"""The Anthropic requests the load generator sends: a ~2 KB one and a Claude Code-sized ~150 KB one.

The large request starts from a real captured Claude Code turn
(`tests/fixtures/claude-code/default/03-tool-result-turn-opus.json`: 24 tools, a mid-conversation
system message, thinking, a tool call and its result). Its `<text N chars>` placeholders are
filled with N characters of prose (restoring the ~77 KB the capture had on the wire), then a long
tool history is inserted before the final call (K rounds of assistant text + `tool_use`, user
`tool_result` holding file-like output) until the JSON body reaches the target size.

Every body is serialised once, here; the load generator only ever sends precomputed bytes.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "claude-code" / "default" / "03-tool-result-turn-opus.json"
FIXTURE_BETAS = (
    "claude-code-20250219,context-1m-2025-08-07,interleaved-thinking-2025-05-14,thinking-token-count-2026-05-13,"
    "context-management-2025-06-27,prompt-caching-scope-2026-01-05,mid-conversation-system-2026-04-07,"
    "effort-2025-11-24"
)
SESSION_ID = "b3c1b2f4-6d1e-4a8e-9d0c-bench00000001"

Size = str
"""A body size: "small" or "large"."""
SIZES: tuple[Size, ...] = ("small", "large")

MODELS: dict[str, str] = {
    "codex": "codex/gpt-5.5",
    "openrouter": "openrouter/anthropic/claude-sonnet-4.5",
    "kiro": "kiro/claude-sonnet-4.5",
}
"""The model each provider's requests name: `provider/model`, routed directly."""

_PROSE = (
    "the router translates each request once and streams every event as soon as it arrives while "
    "tools keep their schemas and results flow back through the same conversation history so that "
    "a long session carries files diffs logs and commands across many turns"
)
_WORDS = tuple(_PROSE.split())
_PLACEHOLDER = re.compile(r"<text (\d+) chars>")


def prose(length: int, seed: int = 0) -> str:
    """Deterministic English-like text of exactly `length` characters, with some newlines and quotes."""
    out: list[str] = []
    size, i = 0, seed
    while size < length:
        word = _WORDS[i % len(_WORDS)]
        if i % 17 == 16:
            word += ".\n"
        elif i % 29 == 28:
            word = f'"{word}"'
        out.append(word)
        size += len(word) + 1
        i += 7
    return " ".join(out)[:length]


def _fill(value: Any, seed: list[int]) -> Any:
    """`value` with every `<text N chars>` placeholder replaced by N characters of prose."""
    if isinstance(value, str):
        match = _PLACEHOLDER.fullmatch(value)
        if match:
            seed[0] += 1
            return prose(int(match.group(1)), seed[0])
        return value
    if isinstance(value, list):
        return [_fill(item, seed) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, seed) for key, item in value.items()}
    return value


def _file_listing(turn: int, lines: int) -> str:
    """Something shaped like `cat -n` output of a Python file, as a tool result."""
    rows = [f"{n:>6}\t    result_{turn}_{n} = compute(step={n}, source=\"module_{turn}.py\")  # {prose(40, n)}"
            for n in range(1, lines + 1)]
    return "\n".join(rows)


def _history_round(turn: int) -> list[dict[str, Any]]:
    """One assistant tool call and the user's tool result."""
    tool_id = f"toolu_01Bench{turn:04d}abcdefghijklmno"
    call: dict[str, Any]
    if turn % 3 == 0:
        call = {"command": f"grep -rn 'compute' src/module_{turn}.py | head -50", "description": "Find callers"}
        name = "Bash"
    else:
        call = {"file_path": f"/work/project/src/module_{turn}.py", "offset": 1, "limit": 40}
        name = "Read"
    assistant = {"role": "assistant", "content": [
        {"type": "text", "text": f"Let me look at module_{turn} next. " + prose(120, turn)},
        {"type": "tool_use", "id": tool_id, "name": name, "input": call},
    ]}
    user = {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": tool_id, "content": _file_listing(turn, 18)},
    ]}
    return [assistant, user]


def claude_code_body(target_bytes: int = 150_000) -> dict[str, Any]:
    """The captured Claude Code turn, placeholders filled, with tool history inserted up to `target_bytes`."""
    base = _fill(orjson.loads(FIXTURE.read_bytes()), [0])
    head, tail = base["messages"][:2], base["messages"][2:]  # user + mid-conversation system | last call + result
    rounds: list[dict[str, Any]] = []
    turn = 0
    while True:
        body = {**base, "messages": [*head, *rounds, *tail]}
        if len(orjson.dumps(body)) >= target_bytes:
            return body
        rounds += _history_round(turn)
        turn += 1


def small_body() -> dict[str, Any]:
    """A ~2 KB request: short system prompt, a short exchange, one tool."""
    return {
        "model": "",
        "max_tokens": 4096,
        "system": [{"type": "text", "text": prose(700, 3)}],
        "messages": [
            {"role": "user", "content": "What does the function parse_block in router/toolkit/eventsource.py do?"},
            {"role": "assistant", "content": "It turns the lines between two blank lines into one event. " + prose(200, 5)},
            {"role": "user", "content": [{"type": "text", "text": "Summarise it in one sentence. " + prose(150, 9)}]},
        ],
        "tools": [{
            "name": "Bash",
            "description": "Run a shell command and return its output. " + prose(200, 11),
            "input_schema": {"type": "object", "properties": {
                "command": {"type": "string", "description": "The command to run"},
                "description": {"type": "string", "description": "What the command does, in 5-10 words"},
            }, "required": ["command"]},
        }],
    }


@dataclass(frozen=True, slots=True)
class Body:
    """One request body ready to send: its bytes and the headers it goes with."""

    provider: str
    size: Size
    stream: bool
    data: bytes
    headers: tuple[tuple[str, str], ...]


def build_bodies(providers: tuple[str, ...], large_bytes: int = 150_000) -> dict[tuple[str, Size, bool], Body]:
    """Every (provider, size, stream) body, serialised."""
    templates: dict[Size, dict[str, Any]] = {"small": small_body(), "large": claude_code_body(large_bytes)}
    common = (("anthropic-version", "2023-06-01"), ("x-api-key", "bench-unused"), ("content-type", "application/json"))
    claude_code = (("anthropic-beta", FIXTURE_BETAS), ("x-claude-code-session-id", SESSION_ID),
                   ("user-agent", "claude-cli/2.1.197 (external, sdk-cli)"), ("x-app", "cli"))
    bodies = {}
    for provider in providers:
        for size, template in templates.items():
            for stream in (True, False):
                body = copy.copy(template)
                body["model"] = MODELS[provider]
                body["stream"] = stream
                headers = common + (claude_code if size == "large" else ())
                bodies[(provider, size, stream)] = Body(provider, size, stream, orjson.dumps(body), headers)
    return bodies


def http_request(path: str, host: str, body: bytes, headers: tuple[tuple[str, str], ...]) -> bytes:
    """A complete HTTP/1.1 request (keep-alive) as bytes."""
    lines = [f"POST {path} HTTP/1.1", f"host: {host}", f"content-length: {len(body)}", "accept: application/json",
             *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def describe(bodies: dict[tuple[str, Size, bool], Body]) -> dict[str, Any]:
    """Sizes and shapes of the bodies, for the report."""
    out: dict[str, Any] = {}
    for size in SIZES:
        sample = next(b for (p, s, st), b in bodies.items() if s == size and st)
        doc = orjson.loads(sample.data)
        out[size] = {"bytes": len(sample.data), "tools": len(doc.get("tools", [])), "messages": len(doc["messages"]),
                     "tool_uses": sum(1 for m in doc["messages"] if isinstance(m["content"], list)
                                      for b in m["content"] if b.get("type") == "tool_use")}
    return out
