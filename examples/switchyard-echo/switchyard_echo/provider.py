"""The echo provider: the thin I/O shell around `switchyard_echo.translate`.

A real provider would send the translated request with `self.context.http` and translate
what comes back; the echo provider answers from the request itself, so it needs no network.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from router import ModelInfo, Provider
from router.conversation import Request
from router.events import Batch
from router.route import Route
from router.settings import InvalidField
from switchyard_echo.translate import PROVIDER, FailWith, reply_events, rough_tokens, simulated_failure

MODELS: tuple[ModelInfo, ...] = (
    ModelInfo("echo-1", "Echo 1", context_window=200_000, max_output_tokens=64_000),
)


@dataclass(frozen=True, slots=True)
class EchoSettings:
    """The `providers.echo` section of the router's config, validated by the core."""

    prefix: str = "echo: "
    chunk_size: int = 16
    fail_with: FailWith | None = None

    def __post_init__(self) -> None:
        # InvalidField is a ValueError that names the field: the error reads
        # `providers.echo.chunk_size: must be greater than 0`.
        if self.chunk_size <= 0:
            raise InvalidField("chunk_size", "must be greater than 0")


class EchoProvider(Provider[EchoSettings]):
    """Echoes the last user message back, or calls the tool it names; see the package README."""

    name = PROVIDER
    Settings = EchoSettings

    async def stream(self, request: Request, route: Route) -> AsyncIterator[Batch]:
        """Yield the echo reply; with `fail_with` set, fail the way a backend would instead.

        Each item is a batch: the events translated from one upstream read, which the router
        writes to the client in one go. A provider of an HTTP backend gets its batches from
        `router.toolkit.upstream` (one per SSE event or body chunk); the echo reply needs no
        read at all, so it is a single batch.
        """
        if self.settings.fail_with is not None:
            raise simulated_failure(self.settings.fail_with)
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        yield reply_events(
            request,
            model=route.model,
            prefix=self.settings.prefix,
            chunk_size=self.settings.chunk_size,
            call_id=call_id,
        )

    async def count_tokens(self, request: Request, route: Route) -> int | None:
        """The same rough count the reply reports as input tokens."""
        return rough_tokens(request)

    async def list_models(self) -> Sequence[ModelInfo]:
        """One model, `echo-1`."""
        return MODELS
