"""Checking what a provider's stream yields: batches flattened, the canonical grammar enforced.

`Provider.stream` yields batches (non-empty sequences of events). A bare event is still
accepted here while providers move to batches; anything else fails the check.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, get_args

from router.anthropic.encode import StreamEncoder
from router.errors import ProviderError
from router.events import BlockStart, BlockStop, Event, MessageStart, MessageStop
from router.route import Route

EVENT_TYPES: tuple[type[Any], ...] = get_args(Event)
BLOCK_STARTS: tuple[type[Any], ...] = get_args(BlockStart)
DEADLINE = 10.0
"""Seconds a whole reply may take against a fake backend before the check gives up on it."""
CLIENT_FACING_MODEL = "claude-contract"
"""The model name the grammar check's encoder writes; it does not matter to the checks."""


class ContractViolation(AssertionError):
    """What a provider yielded or raised breaks the provider contract."""


def events_of(item: object) -> list[Event]:
    """The events of one item a stream yielded: a non-empty batch (or, for now, a bare event)."""
    if isinstance(item, EVENT_TYPES):
        return [item]
    if isinstance(item, (list, tuple)) and item and all(isinstance(event, EVENT_TYPES) for event in item):
        return list(item)
    raise ContractViolation(f"a stream must yield non-empty sequences of events, not {item!r}")


@dataclass(slots=True)
class Outcome:
    """What one stream did: the batches it yielded, flattened, and the exception it ended with (if any)."""

    events: list[Event] = field(default_factory=list)
    batches: int = 0
    error: BaseException | None = None

    def failure(self) -> ProviderError:
        """The router error the stream raised; a library exception (or none) breaks the contract."""
        if self.error is None:
            raise ContractViolation(f"the stream succeeded ({len(self.events)} events) where it had to fail")
        if not isinstance(self.error, ProviderError):
            kind = f"{type(self.error).__module__}.{type(self.error).__qualname__}"
            raise ContractViolation(f"{kind} escaped the provider: {self.error!r}") from self.error
        return self.error

    def reply(self) -> list[Event]:
        """The events of a stream that had to succeed."""
        if self.error is not None:
            raise ContractViolation(f"the stream failed with {self.error!r}") from self.error
        return self.events


async def drain(stream: AsyncIterator[Any], deadline: float = DEADLINE) -> Outcome:
    """Read a stream to its end (or its exception) within `deadline` seconds; the stream is closed after."""
    outcome = Outcome()
    scope = asyncio.timeout(deadline)
    try:
        async with scope:
            async for item in stream:
                outcome.events += events_of(item)
                outcome.batches += 1
    except ContractViolation:
        raise
    except Exception as exc:  # noqa: BLE001 -- whatever it is, the caller judges it
        if isinstance(exc, TimeoutError) and scope.expired():
            raise ContractViolation(f"the stream did not end within {deadline} s") from exc
        outcome.error = exc
    finally:
        await close(stream)
    return outcome


async def close(stream: AsyncIterator[Any]) -> None:
    """`aclose` the stream: every provider's stream is an async generator, which the core closes early."""
    aclose = getattr(stream, "aclose", None)
    if aclose is None:
        raise ContractViolation(f"a provider's stream must be an async generator (with aclose), not {stream!r}")
    await aclose()


def check_grammar(events: Iterable[Event], *, complete: bool = True) -> None:
    """The canonical grammar: one `MessageStart` first, blocks opened and closed in turn, one `MessageStop` last.

    With `complete=False` the events are the start of a reply that broke off: no `MessageStop`.
    Deltas are checked against the open block by the Anthropic stream encoder.
    """
    events = list(events)
    if not events or not isinstance(events[0], MessageStart):
        raise ContractViolation(f"a reply must begin with MessageStart, not {events[:1]}")
    encoder = StreamEncoder(CLIENT_FACING_MODEL)
    open_block: Event | None = None
    for index, event in enumerate(events):
        where = f"event {index} ({type(event).__name__})"
        if isinstance(event, MessageStart) and index:
            raise ContractViolation(f"{where}: a second MessageStart")
        if isinstance(event, MessageStop) and index != len(events) - 1:
            raise ContractViolation(f"{where}: MessageStop before the end of the reply")
        if isinstance(event, BLOCK_STARTS) and open_block is not None:
            raise ContractViolation(f"{where}: a block opened while {type(open_block).__name__} was open")
        if isinstance(event, MessageStop) and open_block is not None:
            raise ContractViolation(f"{where}: the reply ended with {type(open_block).__name__} still open")
        open_block = event if isinstance(event, BLOCK_STARTS) else None if isinstance(event, BlockStop) else open_block
        try:
            encoder.encode(event)
        except ProviderError as exc:
            raise ContractViolation(f"{where}: {exc.message}") from exc
    ended = isinstance(events[-1], MessageStop)
    if complete and not ended:
        raise ContractViolation(f"a complete reply must end with MessageStop, not {type(events[-1]).__name__}")
    if not complete and ended:
        raise ContractViolation("a reply that broke off must not end with MessageStop")


def client_thinking_signatures(events: Iterable[Event], route: Route) -> list[str]:
    """The signature of each thinking block as an Anthropic client receives it from `route` ("" for none).

    Anthropic signs every thinking block and clients rely on it; the core's encoder stands in
    for a backend that did not sign, so every entry must be non-empty.
    """
    encoder = StreamEncoder(CLIENT_FACING_MODEL, route=route)
    signatures: list[str] = []
    current: str | None = None
    for chunk in b"".join(encoder.encode(event) for event in events).split(b"\n\n"):
        data = next((line[6:] for line in chunk.split(b"\n") if line.startswith(b"data: ")), None)
        event = json.loads(data) if data is not None else {}
        block, delta = event.get("content_block", {}), event.get("delta", {})
        if event.get("type") == "content_block_start" and block.get("type") == "redacted_thinking":
            signatures.append(block.get("data", ""))
        elif event.get("type") == "content_block_start" and block.get("type") == "thinking":
            current = ""
        elif event.get("type") == "content_block_delta" and delta.get("type") == "signature_delta":
            current = delta.get("signature", "")
        elif event.get("type") == "content_block_stop" and current is not None:
            signatures.append(current)
            current = None
    return signatures
