"""The provider contract suite (`router.testing.suite`), run once per built-in provider.

Each provider's harness lives beside its other tests (`tests/providers/<name>/contract.py`)
and scripts that backend's own replies and refusals.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from router.testing.harness import ContractHarness
from router.testing.suite import *  # noqa: F403
from tests.providers.codex.contract import CodexHarness
from tests.providers.kiro.contract import KiroHarness
from tests.providers.openrouter.contract import OpenRouterHarness

HARNESSES: dict[str, Callable[[Path], ContractHarness]] = {
    "codex": CodexHarness,
    "kiro": KiroHarness,
    "openrouter": OpenRouterHarness,
}


@pytest.fixture(params=sorted(HARNESSES))
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ContractHarness]:
    made = HARNESSES[request.param](tmp_path)
    yield made
    await made.aclose()
