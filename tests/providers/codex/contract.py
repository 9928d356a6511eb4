"""The Codex provider's contract harness: a respx-routed Codex backend, token endpoint and catalogue.

The suite's generic answers become Codex's Responses SSE events (from `streams`) and its error
bodies; `test_provider.py` reuses the harness for the Codex-specific behaviour.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import respx

from providers.codex.provider import CodexProvider, CodexSettings
from router.provider import ProviderContext
from router.quota import QuotaWindow
from router.route import Route
from router.testing.harness import REPLY_TEXT, RETRY_AFTER, TOOL_INPUT, TOOL_NAME, Upstream
from router.testing.scripted import Answer, HttpContractHarness
from tests.providers.codex import streams
from tests.providers.codex.fake_backend import chatgpt_tokens

BASE = "https://codex.test/backend-api/codex"
TOKEN_URL = "https://auth.test/oauth/token"
MODEL = "gpt-5.5"
ROUTE = Route("codex", MODEL, "high")

Pairs = Iterable[tuple[str, Mapping[str, Any]]]


def catalogue_entry(slug: str, efforts: tuple[str, ...], default: str = "medium", **extra: Any) -> dict[str, Any]:
    """One model of Codex's `/models` answer."""
    return {
        "slug": slug,
        "display_name": slug.upper(),
        "context_window": 272_000,
        "supported_reasoning_levels": [{"effort": effort, "description": effort} for effort in efforts],
        "default_reasoning_level": default,
        "visibility": "list",
        "supported_in_api": True,
        **extra,
    }


CATALOGUE: dict[str, Any] = {
    "models": [
        catalogue_entry(MODEL, ("low", "medium", "high", "xhigh")),
        catalogue_entry("gpt-5.4-mini", ("low", "medium"), "low"),
        catalogue_entry("internal-preview", ("low",), visibility="hide"),
    ]
}

CONTEXT = {
    "error": {
        "message": "Your input exceeds the context window of this model. Please adjust your input and try again.",
        "type": "invalid_request_error",
        "param": "input",
        "code": "context_length_exceeded",
    }
}


def sse_event(name: str, data: Mapping[str, Any]) -> bytes:
    """`event: X\\ndata: JSON\\n\\n`, as the backend streams each event."""
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def sse(events: Pairs) -> bytes:
    return b"".join(sse_event(name, data) for name, data in events)


def auth_document(tokens: Mapping[str, str]) -> dict[str, Any]:
    """auth.json as the Codex CLI writes it (no router mark)."""
    return {"OPENAI_API_KEY": None, "tokens": dict(tokens), "last_refresh": "2026-09-01T10:00:00.000000Z"}


REPLIES: dict[Upstream, streams.Stream] = {
    Upstream.TEXT: streams.numbered([*streams.opening(), *streams.message(0, REPLY_TEXT[:3], REPLY_TEXT[3:]),
                                     streams.completed(42, 0, 5)]),
    Upstream.TOOL_CALL: streams.single_call(TOOL_NAME, json.dumps(TOOL_INPUT), call_id="call_abc"),
    Upstream.THINKING: streams.numbered([*streams.opening(), *streams.reasoning(0, [["Thinking ", "it over."]]),
                                         *streams.message(1, REPLY_TEXT), streams.completed()]),
}


class CodexHarness(HttpContractHarness):
    """A `CodexProvider` on a respx router (through `httpx.MockTransport`), with the routes tests inspect."""

    route = ROUTE

    def __init__(self, tmp_path: Path, *, catalogue: Any = CATALOGUE, write_auth: bool = True,
                 **settings: Any) -> None:
        super().__init__()
        self.tokens = chatgpt_tokens()
        self.access = self.tokens["access_token"]
        self.auth_path = tmp_path / "codex-home" / "auth.json"
        if write_auth:
            self.auth_path.parent.mkdir(parents=True, exist_ok=True)
            self.auth_path.write_text(json.dumps(auth_document(self.tokens)))
        self.mock = respx.Router(assert_all_called=False)
        self.http = httpx.AsyncClient(transport=httpx.MockTransport(self.mock.async_handler))
        self.reported: list[list[QuotaWindow]] = []  # what the provider handed `report_quota`, call by call
        self.codex = CodexProvider(
            CodexSettings(base_url=BASE, token_url=TOKEN_URL, auth_file=self.auth_path, **settings),
            ProviderContext(self.http, logging.getLogger("providers.codex"), tmp_path,
                            report_quota=lambda windows: self.reported.append(list(windows))),
        )
        self.models = self.mock.get(f"{BASE}/models").mock(return_value=httpx.Response(200, json=catalogue))
        self.responses = self.mock.post(f"{BASE}/responses")
        self.token = self.mock.post(TOKEN_URL)

    @property
    def provider(self) -> CodexProvider:
        return self.codex

    def secrets(self) -> Sequence[str]:
        return [self.tokens[name] for name in ("access_token", "refresh_token", "id_token")]

    def serve(self, *answers: Answer) -> None:
        self.responses.side_effect = list(answers)

    def reply(self, answer: Upstream) -> Sequence[bytes]:
        return [sse_event(name, data) for name, data in REPLIES[answer]]

    def streamed(self, events: Pairs, *, fail: Exception | None = None) -> httpx.Response:
        """A 200 SSE reply (no content-type, like the real backend) in one chunk, recorded."""
        return self.response(200, sse(events), fail=fail)

    def refuse(self, answer: Upstream) -> None:
        if answer is Upstream.AUTH_REFUSED:
            self.token.mock(return_value=httpx.Response(401, json={"error": {"code": "refresh_token_reused"}}))
            self.serve(self.error_response(401, {"detail": "Unauthorized"}))
            return
        status, document, headers = {
            Upstream.RATE_LIMITED: (429, {"error": {"message": "Rate limit reached", "type": "rate_limit_exceeded",
                                                    "code": "rate_limit_exceeded"}},
                                   {"retry-after": str(RETRY_AFTER)}),
            Upstream.SERVER_ERROR: (500, {"detail": "Internal Server Error"}, {}),
            Upstream.UNAVAILABLE: (503, {"error": {"message": "Service unavailable", "code": "unavailable"}}, {}),
            Upstream.CONTEXT_OVERFLOW: (400, CONTEXT, {}),
            Upstream.REJECTED: (400, {"detail": f"Malformed header Authorization: Bearer {self.access}"}, {}),
        }[answer]
        self.serve(self.error_response(status, document, headers))

    async def aclose(self) -> None:
        await self.codex.aclose()
        await self.http.aclose()
