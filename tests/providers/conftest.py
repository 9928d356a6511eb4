"""`opened`: contract harnesses made during a provider test, closed after it (provider and HTTP client)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, TypeVar

import pytest

from router.testing.harness import ContractHarness

HarnessT = TypeVar("HarnessT", bound=ContractHarness)


class Opened(Protocol):
    def __call__(self, harness: HarnessT, /) -> HarnessT: ...


@pytest.fixture
async def opened() -> AsyncIterator[Opened]:
    made: list[ContractHarness] = []

    def keep(harness: HarnessT) -> HarnessT:
        made.append(harness)
        return harness

    yield keep
    for harness in made:
        await harness.aclose()
