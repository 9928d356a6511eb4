"""The router's provider contract suite, run against the echo provider.

This is all a plugin needs: a `ContractHarness` that scripts its backend's answers, a
`harness` fixture, and `from router.testing.suite import *`. The echo "backend" is the
request itself, so there is no connection to refuse, break, stall or close: those cases are
declared unsupported and skip. Failures come from the `fail_with` setting.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest_asyncio

from router.conversation import Message, Request, TextBlock
from router.provider import ProviderContext
from router.route import Route
from router.testing.harness import REPLY_TEXT, TOOL_INPUT, TOOL_NAME, ContractHarness, Upstream
from router.testing.suite import *  # noqa: F403
from switchyard_echo import EchoProvider, EchoSettings
from switchyard_echo.translate import FailWith

FAILURES: dict[Upstream, FailWith] = {
    Upstream.RATE_LIMITED: "rate_limit",
    Upstream.UNAVAILABLE: "overloaded",
    Upstream.CONTEXT_OVERFLOW: "context",
}


class EchoHarness(ContractHarness):
    """The echo provider with `fail_with` set to the failure asked for; the request holds the reply."""

    route = Route("echo", "echo-1")
    unsupported = frozenset(
        {
            Upstream.AUTH_REFUSED,
            Upstream.SERVER_ERROR,
            Upstream.REJECTED,
            Upstream.CONNECT_ERROR,
            Upstream.TIMEOUT,
            Upstream.BROKEN_MID_STREAM,
            Upstream.SILENT_MID_STREAM,
            Upstream.STALLED,
        }
    )
    sees_closing = False

    def __init__(self, state_dir: Path) -> None:
        self.http = httpx.AsyncClient()
        self.context = ProviderContext(self.http, logging.getLogger("switchyard_echo"), state_dir)
        self.fail_with: FailWith | None = None

    @property
    def provider(self) -> EchoProvider:
        return EchoProvider(EchoSettings(prefix="", chunk_size=2, fail_with=self.fail_with), self.context)

    def script(self, answer: Upstream) -> None:
        self.fail_with = FAILURES.get(answer)

    def request(self, answer: Upstream) -> Request:
        """What the echo backend says back is the last user text: a tool call is asked for as `tool:NAME {json}`."""
        said = f"tool:{TOOL_NAME} {json.dumps(TOOL_INPUT)}" if answer is Upstream.TOOL_CALL else REPLY_TEXT
        return super().request(answer).evolve(messages=(Message("user", (TextBlock(said),)),))

    async def aclose(self) -> None:
        await self.http.aclose()


@pytest_asyncio.fixture
async def harness(tmp_path: Path) -> AsyncIterator[EchoHarness]:
    made = EchoHarness(tmp_path)
    yield made
    await made.aclose()
