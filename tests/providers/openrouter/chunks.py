"""OpenRouter chat-completions chunks, written from the protocol sheet (PART B, §B2/§B4).

Each stream is the list of parsed `data:` objects a reply consists of (without `[DONE]`),
shaped as OpenRouter sends them: `chat.completion.chunk` objects with one choice, the
`finish_reason` on the last content chunk, and usage in a final chunk with no choices.
Builders keep the streams short to read.
"""

from __future__ import annotations

from typing import Any

Chunk = dict[str, Any]
Stream = list[Chunk]

MODEL = "anthropic/claude-opus-4.5"
OTHER_MODEL = "meta-llama/llama-3.3-70b-instruct:free"
SIGNATURE = "EqQBCkYIBxgCKkDclaudeThinkingSignature0123456789abcdef=="
ENCRYPTED = "gAAAAABoOpenAIEncryptedReasoning_0123456789abcdefABCDEF=="


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> Chunk:
    """One chunk with a single choice."""
    return {
        "id": "gen-1700000000-abc",
        "provider": "Anthropic",
        "model": MODEL,
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish, "native_finish_reason": finish}],
        **extra,
    }


def usage_chunk(prompt: int = 100, completion: int = 20, cached: int = 0, written: int = 0,
                cost: float = 0.00042) -> Chunk:
    """The final chunk: no choices, only usage (prompt tokens include cached and written ones)."""
    return {
        "id": "gen-1700000000-abc",
        "model": MODEL,
        "object": "chat.completion.chunk",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "cost": cost,
            "cost_details": {"upstream_inference_cost": None},
            "prompt_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }


def role() -> Chunk:
    return chunk({"role": "assistant", "content": ""})


def text(*pieces: str, finish: str = "stop") -> Stream:
    return [role(), *(chunk({"content": piece}) for piece in pieces), chunk({}, finish), usage_chunk()]


def call_start(index: int, call_id: str, name: str, arguments: str = "") -> Chunk:
    """The first fragment of a call: index, id, type and name."""
    function = {"name": name, "arguments": arguments}
    return chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function", "function": function}]})


def call_more(index: int, arguments: str) -> Chunk:
    """A later fragment: only the index and a piece of the arguments."""
    return chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]})


def pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


BASH_ARGS = '{"command": "ls -la /tmp", "description": "List files"}'
READ_ARGS = '{"file_path": "/etc/hosts"}'

SINGLE_CALL: Stream = [
    role(),
    chunk({"content": "Let me look."}),
    call_start(0, "toolu_01A", "Bash"),
    *(call_more(0, piece) for piece in pieces(BASH_ARGS, 7)),
    chunk({}, "tool_calls"),
    usage_chunk(),
]

PARALLEL_INTERLEAVED: Stream = [
    role(),
    call_start(0, "call_a", "Bash", '{"comm'),
    call_start(1, "call_b", "Read", '{"file_'),
    call_more(0, 'and": "ls -la /tmp", '),
    call_more(1, 'path": "/etc/hosts"}'),
    call_more(0, '"description": "List files"}'),
    chunk({}, "tool_calls"),
    usage_chunk(),
]


def thinking_detail(text: str | None = None, signature: str | None = None) -> dict[str, Any]:
    detail: dict[str, Any] = {"type": "reasoning.text", "format": "anthropic-claude-v1", "index": 0}
    if text is not None:
        detail["text"] = text
    if signature is not None:
        detail["signature"] = signature
    return detail


REASONING_PIECES = ("The user wants ", "a listing; ", "Bash will do.")

REASONING_WITH_SIGNATURE: Stream = [
    role(),
    *(chunk({"reasoning": piece, "reasoning_details": [thinking_detail(piece)]}) for piece in REASONING_PIECES),
    chunk({"reasoning": None, "reasoning_details": [thinking_detail(signature=SIGNATURE)]}),
    chunk({"content": "Listing now."}),
    call_start(0, "toolu_01B", "Bash", BASH_ARGS),
    chunk({}, "tool_calls"),
    usage_chunk(),
]

MERGED_DETAILS = [{"type": "reasoning.text", "format": "anthropic-claude-v1", "index": 0,
                   "text": "".join(REASONING_PIECES), "signature": SIGNATURE}]
"""What the fragments above add up to: the list OpenRouter's non-streaming reply would hold."""

ENCRYPTED_DETAIL = {"type": "reasoning.encrypted", "data": ENCRYPTED, "format": "openai-responses-v1",
                    "id": "rs_1", "index": 0}

ENCRYPTED_ONLY: Stream = [
    role(),
    chunk({"reasoning": None, "reasoning_details": [ENCRYPTED_DETAIL]}),
    chunk({"content": "Done."}),
    chunk({}, "stop"),
    usage_chunk(),
]

REASONING_WITHOUT_DETAILS: Stream = [
    role(),
    chunk({"reasoning": "Thinking it over."}),
    chunk({"content": "42"}),
    chunk({}, "stop"),
    usage_chunk(),
]

CACHED_USAGE: Stream = [role(), chunk({"content": "ok"}), chunk({}, "stop"),
                        usage_chunk(prompt=10_000, completion=50, cached=8_000, written=1_500, cost=0.0123)]


def mid_stream_error(code: int | str, message: str, **metadata: Any) -> Stream:
    """Text, then an error event inside the 200 stream (finish_reason `error` on the choice)."""
    error = {"code": code, "message": message, **({"metadata": metadata} if metadata else {})}
    return [role(), chunk({"content": "Partial"}), {**chunk({"content": ""}, "error"), "error": error}]


NO_FINISH: Stream = [role(), chunk({"content": "Cut "}), chunk({"content": "off"})]
