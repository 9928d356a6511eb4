"""router.toolkit.turns: tool answers first, everything else (moved parts too) in one user message."""

from __future__ import annotations

from router.conversation import (
    Block,
    ImageBlock,
    ResultContent,
    TextBlock,
    ThinkingBlock,
    ToolResultBlock,
)
from router.toolkit.turns import split_user_turn


def answer(result: ToolResultBlock) -> tuple[list[str], list[str]]:
    moved = [f"moved:{result.tool_use_id}"] if any(isinstance(c, ImageBlock) for c in result.content) else []
    return [f"answer:{result.tool_use_id}"], moved


def content(block: ResultContent) -> list[str]:
    return [f"text:{block.text}"] if isinstance(block, TextBlock) else ["image"]


def test_answers_first_and_the_rest_in_block_order() -> None:
    blocks: list[Block] = [
        TextBlock("before"),
        ToolResultBlock("t1", (TextBlock("ok"),)),
        ToolResultBlock("t2", (ImageBlock(media_type="image/png", data="AA=="),)),
        ThinkingBlock("not a user's"),
        ImageBlock(url="https://example.com/a.png"),
        TextBlock("after"),
    ]
    answers, parts = split_user_turn(blocks, answer, content)
    assert answers == ["answer:t1", "answer:t2"]
    assert parts == ["text:before", "moved:t2", "image", "text:after"]


def test_a_turn_of_text_only_has_no_answers() -> None:
    assert split_user_turn([TextBlock("hi")], answer, content) == ([], ["text:hi"])
