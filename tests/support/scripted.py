"""A provider driven by scripts the test queues: the core's test double for a backend.

It is a real plugin (registered through the `register_providers` hook) so tests exercise
the same path as built-in and third-party providers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from router import CredentialStatus, ModelInfo, Provider, hookimpl
from router.conversation import Request, Signature, TextBlock, Usage
from router.errors import AuthError
from router.events import (
    Batch,
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
from router.provider import LoginOptions
from router.route import Route


@dataclass(frozen=True)
class Sleep:
    """A script step: stay silent for `seconds` (`Sleep(0)` only ends the batch)."""

    seconds: float


Step = Event | BaseException | Sleep
"""A script is steps; the events between two pauses (or a failure) are yielded as one batch, as
the events of one upstream read would be."""


@dataclass(frozen=True, slots=True)
class ScriptedSettings:
    """Settings of the scripted provider (exercises provider-section validation)."""

    label: str = "scripted"
    api_key: str | None = None


class ScriptedProvider(Provider[ScriptedSettings]):
    """Replays queued scripts; with none queued, echoes the last user text."""

    name = "scripted"
    Settings = ScriptedSettings

    def __init__(self, settings: Any, context: Any) -> None:
        super().__init__(settings, context)
        self.scripts: deque[Sequence[Step]] = deque()
        self.calls: list[tuple[Request, Route]] = []
        self.closed_streams = 0
        self.count: int | None = None
        self.responder: Callable[[Request], Sequence[Step]] | None = None

    def queue(self, *scripts: Sequence[Step]) -> None:
        """Scripts for the next calls, in order (before `responder`, which answers the rest)."""
        self.scripts.extend(scripts)

    async def stream(self, request: Request, route: Route) -> AsyncIterator[Batch]:
        self.calls.append((request, route))
        if self.scripts:
            script = self.scripts.popleft()
        elif self.responder is not None:
            script = self.responder(request)
        else:
            script = text_reply(f"echo: {last_user_text(request)}")
        try:
            async for batch in play(script):
                yield batch
        finally:
            self.closed_streams += 1

    async def count_tokens(self, request: Request, route: Route) -> int | None:
        return self.count

    async def list_models(self) -> Sequence[ModelInfo]:
        return (ModelInfo("big-model", "Big Model", context_window=200_000),)

    async def login(self, options: LoginOptions, say: Callable[[str], None]) -> None:
        if options.import_from == "nowhere":
            raise AuthError("no login found in nowhere")
        say(f"signed in to {self.name} (device={options.device}, import={options.import_from}, force={options.force})")

    def credential_status(self) -> CredentialStatus:
        return CredentialStatus(True, f"test provider '{self.settings.label}'")


class OtherProvider(ScriptedProvider):
    """A second scripted backend, for fallbacks and cross-provider conversations."""

    name = "other"


@hookimpl
def register_providers(register: Any) -> None:
    register(ScriptedProvider)
    register(OtherProvider)


async def play(script: Sequence[Step]) -> AsyncIterator[Batch]:
    """A script as a provider's stream: each run of events between pauses and failures is one batch."""
    batch: list[Event] = []
    for step in script:
        if isinstance(step, Sleep | BaseException):
            if batch:
                yield batch
                batch = []
            if isinstance(step, BaseException):
                raise step
            await asyncio.sleep(step.seconds)
        else:
            batch.append(step)
    if batch:
        yield batch


# -- script builders ----------------------------------------------------------------------

USAGE = Usage(input_tokens=11, output_tokens=7, cache_read_input_tokens=3)


def last_user_text(request: Request) -> str:
    for message in reversed(request.messages):
        if message.role == "user":
            texts = [b.text for b in message.content if isinstance(b, TextBlock)]
            if texts:
                return texts[-1]
    return ""


def text_reply(*chunks: str, model: str = "upstream-model", usage: Usage = USAGE) -> list[Step]:
    return [
        MessageStart(model, Usage(input_tokens=usage.input_tokens)),
        TextStart(),
        *(TextDelta(chunk) for chunk in chunks),
        BlockStop(),
        MessageStop("end_turn", usage),
    ]


def tool_reply(*calls: tuple[str, str, str], text: str | None = None, usage: Usage = USAGE) -> list[Step]:
    """`calls` are (id, name, arguments JSON); the JSON is streamed in two fragments."""
    steps: list[Step] = [MessageStart("upstream-model", Usage(input_tokens=usage.input_tokens))]
    if text:
        steps += [TextStart(), TextDelta(text), BlockStop()]
    for call_id, name, arguments in calls:
        half = len(arguments) // 2
        steps += [ToolUseStart(call_id, name), ToolInputDelta(arguments[:half]), ToolInputDelta(arguments[half:]), BlockStop()]
    steps.append(MessageStop("tool_use", usage))
    return steps


def thinking_reply(thought: str, answer: str, signature: Signature, usage: Usage = USAGE) -> list[Step]:
    return [
        MessageStart("upstream-model", Usage(input_tokens=usage.input_tokens)),
        ThinkingStart(),
        ThinkingDelta(thought),
        SignatureDelta(signature),
        BlockStop(),
        TextStart(),
        TextDelta(answer),
        BlockStop(),
        MessageStop("end_turn", usage),
    ]
