"""router.toolkit.blocks: interleaved blocks come out whole and in the order they were added."""

from __future__ import annotations

import pytest

from router.events import BlockStop, Event, TextDelta, TextStart, ToolInputDelta, ToolUseStart
from router.toolkit.blocks import BlockQueue

A, B = ToolUseStart("a", "Read"), ToolUseStart("b", "Grep")


def run(script: list[tuple[str, int, list[Event]]]) -> list[Event]:
    """Apply (operation, key, events) steps, collecting `ready()` after each one."""
    queue: BlockQueue[int] = BlockQueue()
    out: list[Event] = []
    for operation, key, events in script:
        match operation:
            case "add":
                queue.add(key)
            case "start":
                (event,) = events
                queue.start(key, event)
            case "push":
                queue.push(key, *events)
            case "close":
                queue.close(key, *events)
        out += queue.ready()
    return out


SCRIPTS: dict[str, tuple[list[tuple[str, int, list[Event]]], list[Event]]] = {
    "the front block streams live": (
        [("add", 0, []), ("start", 0, [TextStart()]), ("push", 0, [TextDelta("hi")]), ("close", 0, [BlockStop()])],
        [TextStart(), TextDelta("hi"), BlockStop()],
    ),
    "a later block waits for the one before to close": (
        [("add", 0, []), ("add", 1, []), ("start", 0, [A]), ("start", 1, [B]),
         ("push", 1, [ToolInputDelta("{b")]), ("push", 0, [ToolInputDelta("{a")]),
         ("close", 1, [BlockStop()]), ("close", 0, [BlockStop()])],
        [A, ToolInputDelta("{a"), BlockStop(), B, ToolInputDelta("{b"), BlockStop()],
    ),
    "closing the front releases every closed block behind it": (
        [("add", 0, []), ("add", 1, []), ("add", 2, []), ("push", 2, [TextDelta("3")]),
         ("close", 1, [TextDelta("2")]), ("push", 0, [TextDelta("1")]), ("close", 0, [])],
        [TextDelta("1"), TextDelta("2"), TextDelta("3")],
    ),
    "a block starts once": (
        [("add", 0, []), ("start", 0, [TextStart()]), ("start", 0, [TextStart()]), ("push", 0, [TextDelta("x")])],
        [TextStart(), TextDelta("x")],
    ),
    "adding a known key keeps its place": (
        [("add", 0, []), ("add", 1, []), ("add", 0, []), ("push", 1, [TextDelta("b")]), ("close", 0, [])],
        [TextDelta("b")],
    ),
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_blocks_come_out_whole_and_in_order(name: str) -> None:
    script, expected = SCRIPTS[name]
    assert run(script) == expected


def test_state_is_kept_after_the_events_went_out() -> None:
    queue: BlockQueue[str] = BlockQueue()
    queue.add("x")
    queue.add("y")
    queue.start("x", TextStart())
    assert queue.started("x") and not queue.started("y") and "x" in queue and "z" not in queue
    queue.close("x", BlockStop())
    assert queue.ready() == [TextStart(), BlockStop()] and queue.ready() == []
    assert queue.closed("x") and not queue.closed("y") and queue.open_keys() == ["y"]


def test_pushing_to_a_closed_or_unknown_block_is_refused() -> None:
    queue: BlockQueue[int] = BlockQueue()
    queue.add(0)
    queue.close(0)
    with pytest.raises(ValueError, match="closed"):
        queue.push(0, TextDelta("late"))
    with pytest.raises(KeyError):
        queue.push(1, TextDelta("never added"))
