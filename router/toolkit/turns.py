"""A user turn the way chat-style backends take it: tool answers first, then one user message.

Claude puts tool results and new content side by side in one user turn. Backends with
Responses- or chat-style messages answer each call with its own item (`function_call_output`,
a `tool` message) that must come right after the call, and take the rest as one user message;
what an answer cannot carry (images or files a tool returned, on most backends) moves into
that message too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from router.conversation import Block, ResultContent, ToolResultBlock

A = TypeVar("A")
P = TypeVar("P")


def split_user_turn(
    blocks: Iterable[Block],
    answer: Callable[[ToolResultBlock], tuple[list[A], list[P]]],
    content: Callable[[ResultContent], list[P]],
) -> tuple[list[A], list[P]]:
    """The turn's tool answers, and the parts of its user message, both in the blocks' order.

    `answer(result)` gives a tool result's answer items and the parts it moves into the
    message; `content(block)` gives the parts of a text, image or document block. Other
    blocks (thinking, tool uses: not a user's) are skipped.
    """
    answers: list[A] = []
    parts: list[P] = []
    for block in blocks:
        if isinstance(block, ToolResultBlock):
            items, moved = answer(block)
            answers += items
            parts += moved
        elif isinstance(block, ResultContent):
            parts += content(block)
    return answers, parts
