"""router.toolkit.catalogue: one fetch per ttl, a quicker retry after a failure, the last good
list kept, the built-in fallback, warnings, and lookups that never fetch (`peek`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest

from router.toolkit.catalogue import Catalogue


@dataclass(frozen=True)
class Model:
    id: str


FALLBACK = (Model("builtin"),)


class Backend:
    """Answers fetches from a script: a list of models, or an exception to raise."""

    def __init__(self, *answers: Sequence[Model] | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def fetch(self) -> Sequence[Model]:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def catalogue(
    backend: Backend,
    now: list[float],
    ttl: float = 600.0,
    *,
    fallback: Sequence[Model] = (),
    warn: Callable[[str], object] | None = None,
    what: str = "models",
) -> Catalogue[Model]:
    return Catalogue(
        backend.fetch, ttl, key=lambda m: m.id, fallback=fallback, warn=warn, what=what, clock=lambda: now[0]
    )


Step = tuple[float, Sequence[Model] | Exception | None, list[str], int]
"""(time, what the backend answers if asked, ids served, fetches so far)"""

SCRIPTS: dict[str, list[Step]] = {
    "fetched once per ttl": [
        (0, [Model("a")], ["a"], 1),
        (599, None, ["a"], 1),
        (600, [Model("b")], ["b"], 2),
    ],
    "a failure keeps the last good list and retries after a minute": [
        (0, [Model("a")], ["a"], 1),
        (600, RuntimeError("down"), ["a"], 2),
        (630, None, ["a"], 2),
        (660, [Model("c")], ["c"], 3),
    ],
    "an empty answer counts as a failure": [
        (0, [], ["builtin"], 1),
        (59, None, ["builtin"], 1),
        (60, [Model("a")], ["a"], 2),
    ],
    "the fallback serves until a fetch succeeds": [
        (0, OSError("no network"), ["builtin"], 1),
        (60, OSError("no network"), ["builtin"], 2),
        (120, [Model("a")], ["a"], 3),
    ],
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
async def test_catalogue_scripts(name: str) -> None:
    steps = SCRIPTS[name]
    backend = Backend(*(answer for _, answer, _, _ in steps if answer is not None))
    now = [0.0]
    models = catalogue(backend, now, fallback=FALLBACK)
    for moment, _, served, calls in steps:
        now[0] = moment
        assert [m.id for m in await models.all()] == served, (name, moment)
        assert backend.calls == calls, (name, moment)


async def test_the_retry_after_a_failure_is_capped_by_the_ttl() -> None:
    backend = Backend(RuntimeError("down"), [Model("a")])
    now = [0.0]
    models = catalogue(backend, now, ttl=10.0)
    assert await models.all() == ()
    now[0] = 10.0
    assert [m.id for m in await models.all()] == ["a"] and backend.calls == 2


async def test_failures_are_told_without_secrets() -> None:
    warnings: list[str] = []
    models = catalogue(Backend(RuntimeError("Bearer sk-secret refused")), [0.0], warn=warnings.append, what="X models")
    await models.all()
    assert warnings == ["could not list X models (RuntimeError: Bearer … refused)"]


async def test_find_fetches_and_peek_does_not() -> None:
    backend = Backend([Model("a")])
    models = catalogue(backend, [0.0], fallback=FALLBACK)
    assert models.peek("a") is None and models.peek("builtin") == Model("builtin") and backend.calls == 0
    assert await models.find("a") == Model("a") and backend.calls == 1
    assert await models.find("builtin") == Model("builtin"), "the fallback answers for what the live list lacks"
    assert models.peek("a") == Model("a") and await models.find("nope") is None
