"""The Kiro provider's contract harness: respx-routed chat, model-list, usage and refresh endpoints.

The suite's generic answers become AWS event-stream frames (from `frames` and `fake_kiro`)
and Kiro's error bodies; `test_provider.py` reuses the harness for the Kiro-specific behaviour.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import httpx
import respx

from providers.kiro.provider import KiroProvider, KiroSettings
from providers.kiro.tokens import iso_time
from router.provider import ProviderContext
from router.quota import QuotaWindow
from router.route import Route
from router.testing.harness import REPLY_TEXT, RETRY_AFTER, TOOL_INPUT, TOOL_NAME, Upstream
from router.testing.scripted import Answer, HttpContractHarness
from tests.providers.kiro.fake_kiro import BAD_TOKEN, PROFILE_ARN, TOO_LONG, model_entry, reply_frames
from tests.providers.kiro.frames import event, text

CHAT = "https://q.us-east-1.amazonaws.com/generateAssistantResponse"
MODELS = "https://q.us-east-1.amazonaws.com/ListAvailableModels"
USAGE = "https://q.us-east-1.amazonaws.com/getUsageLimits"
REFRESH = "https://prod.us-east-1.auth.desktop.kiro.dev/refreshToken"
ROUTE = Route("kiro", "claude-sonnet-4-5-20250929")
ACCESS = "aoa-current"
REFRESH_TOKEN = "aor-current"
EVENTSTREAM = {"content-type": "application/vnd.amazon.eventstream"}


def social_document(access: str = ACCESS, refresh: str = REFRESH_TOKEN, expires: float | None = None) -> dict[str, Any]:
    """The Kiro IDE's token cache after a social (GitHub/Google) sign-in, plus a field to keep."""
    return {
        "accessToken": access,
        "refreshToken": refresh,
        "profileArn": PROFILE_ARN,
        "expiresAt": iso_time(expires if expires is not None else time.time() + 3600),
        "authMethod": "social",
        "provider": "Github",
        "zzKeep": {"nested": [1, "two"]},
    }


def thinking_frames() -> list[bytes]:
    """Native reasoning (text, then Kiro's signature), then the answer."""
    return [
        event("messageMetadataEvent", conversationId="c-1", utteranceId="u-1"),
        event("reasoningContentEvent", text="Thinking "),
        event("reasoningContentEvent", text="it over."),
        event("reasoningContentEvent", signature="sig-kiro-0123456789"),
        text(REPLY_TEXT),
        event("contextUsageEvent", contextUsagePercentage=1.5),
    ]


REPLIES = {
    Upstream.TEXT: reply_frames([("text", REPLY_TEXT)]),
    Upstream.TOOL_CALL: reply_frames([("tool", ("tooluse_1", TOOL_NAME, TOOL_INPUT))]),
    Upstream.THINKING: thinking_frames(),
}


class KiroHarness(HttpContractHarness):
    """A `KiroProvider` on a respx router (through `httpx.MockTransport`), with the routes tests inspect."""

    route = ROUTE
    reply_headers = EVENTSTREAM

    def __init__(self, tmp_path: Path, *, document: dict[str, Any] | None = None, write_file: bool = True,
                 **settings: Any) -> None:
        super().__init__()
        self.token_path = tmp_path / "sso-cache" / "kiro-auth-token.json"
        self.state_dir = tmp_path / "state" / "kiro"
        self.document = document or social_document()
        if write_file:
            self.token_path.parent.mkdir(parents=True, exist_ok=True)
            self.token_path.write_text(json.dumps(self.document, indent=2))
        if not any(key in settings for key in ("access_token", "refresh_token")):
            settings.setdefault("token_file", self.token_path)
        self.mock = respx.Router(assert_all_called=False)
        self.http = httpx.AsyncClient(transport=httpx.MockTransport(self.mock.async_handler))
        self.reported: list[list[QuotaWindow]] = []  # what the provider handed `report_quota`, call by call
        context = ProviderContext(self.http, logging.getLogger("providers.kiro"), self.state_dir,
                                  report_quota=lambda windows: self.reported.append(list(windows)))
        self.kiro = KiroProvider(KiroSettings(**settings), context)
        self.chat = self.mock.post(re.compile(r"https?://(q\.|runtime\.|127\.0\.0\.1)"))
        self.models = self.mock.get(MODELS).mock(
            return_value=httpx.Response(200, json={"models": [model_entry("claude-sonnet-4.5", "Claude Sonnet 4.5",
                                                                          400_000)]})
        )
        self.usage = self.mock.get(USAGE).mock(return_value=httpx.Response(500, json={"message": "not here"}))
        self.refresh = self.mock.post(REFRESH)

    @property
    def provider(self) -> KiroProvider:
        return self.kiro

    def secrets(self) -> Sequence[str]:
        return [str(self.document.get("accessToken", "")), str(self.document.get("refreshToken", ""))]

    def sent(self, index: int = -1) -> httpx.Request:
        return cast(httpx.Request, self.chat.calls[index].request)

    def serve(self, *answers: Answer) -> None:
        self.chat.side_effect = list(answers)

    def reply(self, answer: Upstream) -> Sequence[bytes]:
        return REPLIES[answer]

    def streamed(self, *frames: bytes, fail: Exception | None = None, split: int = 0) -> httpx.Response:
        """A recorded 200 event-stream reply; `split` cuts its bytes into pieces of that size (frames span chunks)."""
        data = b"".join(frames)
        chunks = [data[i : i + split] for i in range(0, len(data), split)] if split else [data]
        return self.response(200, *chunks, fail=fail)

    def refuse(self, answer: Upstream) -> None:
        if answer is Upstream.AUTH_REFUSED:
            self.refresh.mock(return_value=httpx.Response(401, json={"message": "Invalid refresh token provided"}))
            self.serve(self.error_response(403, BAD_TOKEN))
            return
        status, document, headers = {
            Upstream.RATE_LIMITED: (429, {"message": "Too many requests", "reason": None},
                                   {"retry-after": str(RETRY_AFTER)}),
            Upstream.SERVER_ERROR: (500, {"message": "Internal server error"}, {}),
            Upstream.UNAVAILABLE: (503, {"message": "Service unavailable"}, {}),
            Upstream.CONTEXT_OVERFLOW: (400, TOO_LONG, {}),
            Upstream.REJECTED: (400, {"message": f"Improperly formed request: Bearer {ACCESS}", "reason": None}, {}),
        }[answer]
        self.serve(self.error_response(status, document, headers))

    async def aclose(self) -> None:
        await self.kiro.aclose()
        await self.http.aclose()
