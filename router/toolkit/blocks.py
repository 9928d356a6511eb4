"""Keeping a reply's blocks in order when the backend interleaves them.

Canonical events must not interleave blocks: a block's start, its deltas and its stop come
together before the next block starts. Backends that stream several items at once (parallel
tool calls whose argument fragments alternate, a text item still open while a call begins)
break that rule, so a reader puts each block in a `BlockQueue`: the oldest block that is not
closed streams live, later ones hold their events back until every block before them is
closed, and then flush in order. Nothing is reordered within a block.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from router.events import Event

K = TypeVar("K", bound=Hashable)


class _Block:
    """One block's held-back events and its progress."""

    __slots__ = ("closed", "pending", "started")

    def __init__(self) -> None:
        self.pending: list[Event] = []
        self.started = False
        self.closed = False


class BlockQueue(Generic[K]):
    """The blocks of one reply, each known by a key (an output index, a segment object), in the
    order they were `add`ed.

    Events go to a block with `start` (its opening event, once) and `push`; `close` pushes its
    last events. `ready()` gives every event that may go out now: the front block's, and when it
    is closed, the next one's, and so on. Pushing to a closed block is a bug and raises.
    """

    __slots__ = ("_blocks", "_order")

    def __init__(self) -> None:
        self._blocks: dict[K, _Block] = {}
        self._order: deque[K] = deque()

    def __contains__(self, key: object) -> bool:
        return key in self._blocks

    def add(self, key: K) -> None:
        """Give block `key` its place, after every block added before it (a known key keeps its place)."""
        if key not in self._blocks:
            self._blocks[key] = _Block()
            self._order.append(key)

    def start(self, key: K, event: Event) -> None:
        """Push the block's opening event, unless the block has started already."""
        block = self._open(key)
        if not block.started:
            block.started = True
            block.pending.append(event)

    def push(self, key: K, *events: Event) -> None:
        """Append events to the block (they go out when the block reaches the front)."""
        self._open(key).pending.extend(events)

    def close(self, key: K, *events: Event) -> None:
        """Push the block's last events and close it, so that the blocks after it may flush."""
        block = self._open(key)
        block.pending.extend(events)
        block.closed = True

    def started(self, key: K) -> bool:
        """Whether the block's opening event was pushed."""
        return self._blocks[key].started

    def closed(self, key: K) -> bool:
        """Whether the block was closed (it stays known after its events went out)."""
        return self._blocks[key].closed

    def open_keys(self) -> list[K]:
        """The blocks not closed yet, in order (to close them all when the reply ends)."""
        return [key for key in self._order if not self._blocks[key].closed]

    def ready(self) -> list[Event]:
        """The events that may go out now, in order; each is given out once."""
        out: list[Event] = []
        order = self._order
        while order:
            block = self._blocks[order[0]]
            if not block.closed:
                if out:
                    out += block.pending
                else:
                    out = block.pending
                block.pending = []
                break
            out += block.pending
            block.pending = []
            order.popleft()
        return out

    def _open(self, key: K) -> _Block:
        block = self._blocks.get(key)
        if block is None:
            raise KeyError(f"block {key!r} was never added")
        if block.closed:
            raise ValueError(f"block {key!r} is closed")
        return block
