"""The OpenRouter provider's contract harness: a respx-routed OpenRouter (chat completions, messages, models).

The suite's generic answers become chat-completion chunks (from `chunks`) as SSE `data:`
events and OpenRouter's error bodies; `test_provider.py` reuses the harness for the
OpenRouter-specific behaviour.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx
import respx

from providers.openrouter.provider import OpenRouterProvider, OpenRouterSettings
from router.provider import ProviderContext
from router.route import Route
from router.testing.harness import REPLY_TEXT, RETRY_AFTER, TOOL_INPUT, TOOL_NAME, Upstream
from router.testing.scripted import Answer, HttpContractHarness
from tests.providers.openrouter import chunks

BASE = "https://openrouter.test/api/v1"
KEY = "sk-or-v1-0123456789abcdef0123456789abcdef9876"
CLAUDE = Route("openrouter", "anthropic/claude-opus-4.5")
PROCESSING = b": OPENROUTER PROCESSING\n\n"
DONE = b"data: [DONE]\n\n"


def data_event(chunk: chunks.Chunk) -> bytes:
    return f"data: {json.dumps(chunk)}\n\n".encode()


def sse(stream: Iterable[chunks.Chunk], *, done: bool = True) -> bytes:
    """`data: JSON` per chunk after OpenRouter's keep-alive comment, then `data: [DONE]`."""
    return PROCESSING + b"".join(data_event(chunk) for chunk in stream) + (DONE if done else b"")


def error_document(status: int, message: str, **metadata: Any) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, **({"metadata": metadata} if metadata else {})}}


THINKING: chunks.Stream = [
    chunks.role(),
    *(chunks.chunk({"reasoning": piece, "reasoning_details": [chunks.thinking_detail(piece)]})
      for piece in ("Thinking ", "it over.")),
    chunks.chunk({"reasoning": None, "reasoning_details": [chunks.thinking_detail(signature=chunks.SIGNATURE)]}),
    chunks.chunk({"content": REPLY_TEXT}),
    chunks.chunk({}, "stop"),
    chunks.usage_chunk(),
]
REPLIES: dict[Upstream, chunks.Stream] = {
    Upstream.TEXT: chunks.text(REPLY_TEXT[:3], REPLY_TEXT[3:]),
    Upstream.TOOL_CALL: [chunks.role(), chunks.call_start(0, "toolu_01A", TOOL_NAME),
                         *(chunks.call_more(0, piece) for piece in chunks.pieces(json.dumps(TOOL_INPUT), 5)),
                         chunks.chunk({}, "tool_calls"), chunks.usage_chunk()],
    Upstream.THINKING: THINKING,
}
CONTEXT = "This endpoint's maximum context length is 131072 tokens. However, you requested about 250000 tokens."


class OpenRouterHarness(HttpContractHarness):
    """An `OpenRouterProvider` on a respx router (through `httpx.MockTransport`), with the routes tests inspect."""

    route = CLAUDE
    reply_headers = {"content-type": "text/event-stream"}

    def __init__(self, tmp_path: Path | None = None, **settings: Any) -> None:
        super().__init__()
        settings.setdefault("api_key", KEY)
        self.key = settings["api_key"]
        self.mock = respx.Router(assert_all_called=False)
        self.http = httpx.AsyncClient(transport=httpx.MockTransport(self.mock.async_handler))
        self.openrouter = OpenRouterProvider(
            OpenRouterSettings(base_url=BASE, **settings),
            ProviderContext(self.http, logging.getLogger("providers.openrouter"), tmp_path or Path("/nonexistent")),
        )
        self.chat = self.mock.post(f"{BASE}/chat/completions")
        self.messages = self.mock.post(f"{BASE}/messages")
        self.models = self.mock.get(f"{BASE}/models")

    @property
    def provider(self) -> OpenRouterProvider:
        return self.openrouter

    def secrets(self) -> Sequence[str]:
        return [self.key]

    def serve(self, *answers: Answer) -> None:
        self.chat.side_effect = list(answers)

    def reply(self, answer: Upstream) -> Sequence[bytes]:
        return [PROCESSING, *(data_event(chunk) for chunk in REPLIES[answer]), DONE]

    def streamed(self, stream: Iterable[chunks.Chunk], *, done: bool = True,
                 fail: Exception | None = None) -> httpx.Response:
        """A recorded 200 SSE reply in one chunk."""
        return self.response(200, sse(stream, done=done), fail=fail)

    def failing(self, status: int, message: str, headers: dict[str, str] | None = None,
                **metadata: Any) -> httpx.Response:
        """A recorded error reply in OpenRouter's shape."""
        return self.error_response(status, error_document(status, message, **metadata), headers)

    def refuse(self, answer: Upstream) -> None:
        status, message, headers = {
            Upstream.AUTH_REFUSED: (401, "No auth credentials found", {}),
            Upstream.RATE_LIMITED: (429, "Rate limit exceeded", {"retry-after": str(RETRY_AFTER)}),
            Upstream.SERVER_ERROR: (500, "Internal Server Error", {}),
            Upstream.UNAVAILABLE: (503, "Service Unavailable", {}),
            Upstream.CONTEXT_OVERFLOW: (400, CONTEXT, {}),
            Upstream.REJECTED: (400, f"Invalid request: Authorization: Bearer {self.key} is malformed", {}),
        }[answer]
        self.serve(self.failing(status, message, headers))

    async def aclose(self) -> None:
        await self.openrouter.aclose()
        await self.http.aclose()
