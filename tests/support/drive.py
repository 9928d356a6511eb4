"""Draining a provider's event stream in tests: all of it, or up to the router error it raises."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from router.errors import ProviderError
from router.events import Event


async def events_of(stream: AsyncIterator[Event]) -> list[Event]:
    """Every event of a stream that must succeed."""
    return [event async for event in stream]


async def events_until_failure(stream: AsyncIterator[Event]) -> tuple[list[Event], ProviderError]:
    """The events yielded before the stream raised, and the (router) error it raised."""
    events: list[Event] = []
    with pytest.raises(ProviderError) as caught:
        async for event in stream:
            events.append(event)
    return events, caught.value
