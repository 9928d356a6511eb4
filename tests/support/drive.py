"""Draining a provider's stream in tests: its events (batches flattened), all of them or up to the router error."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from router.errors import ProviderError
from router.events import Batch, Event


async def batches_of(stream: AsyncIterator[Batch]) -> list[list[Event]]:
    """Every batch of a stream that must succeed, each checked to be a non-empty sequence of events."""
    batches = [list(batch) async for batch in stream]
    assert all(batches), "a provider yielded an empty batch"
    return batches


async def events_of(stream: AsyncIterator[Batch]) -> list[Event]:
    """Every event of a stream that must succeed."""
    return [event for batch in await batches_of(stream) for event in batch]


async def events_until_failure(stream: AsyncIterator[Batch]) -> tuple[list[Event], ProviderError]:
    """The events yielded before the stream raised, and the (router) error it raised."""
    events: list[Event] = []
    with pytest.raises(ProviderError) as caught:
        async for batch in stream:
            events.extend(batch)
    return events, caught.value
