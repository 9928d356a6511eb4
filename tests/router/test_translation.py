"""router.toolkit.translation: whether the client asked to see thinking."""

from __future__ import annotations

import pytest

from router.conversation import Message, Request, TextBlock, Thinking
from router.toolkit.translation import shows_thinking


@pytest.mark.parametrize(
    ("thinking", "shown"),
    [(None, False), (Thinking("disabled"), False), (Thinking("enabled", 2048), True), (Thinking("adaptive"), True)],
)
def test_shows_thinking(thinking: Thinking | None, shown: bool) -> None:
    request = Request(model="m", messages=(Message("user", (TextBlock("hi"),)),), max_tokens=10, thinking=thinking)
    assert shows_thinking(request) is shown
