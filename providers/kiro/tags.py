"""`<thinking>…</thinking>` sections in Kiro's reply text, split out as they stream.

When thinking is requested in-band (`<thinking_mode>` tags), Kiro's models answer with a
`<thinking>` section before the visible text (protocol sheet A5). Text arrives in arbitrary
pieces, so a tag may be split across events (`<thin` + `king>`); the splitter holds back
exactly the bytes that could still turn out to be a tag, and nothing else.

An opening tag is recognised only at the start of a segment: the start of the reply, right
after a thinking section, or after a tool call (`new_segment()`), with whitespace before it
allowed. A `<thinking>` later in running text is the model talking about tags (say, while
editing this very file) and stays text. `<think>` is accepted as well (C2C does).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

Piece: TypeAlias = tuple[Literal["text", "thinking", "end"], str]
"""`("text", s)` visible text, `("thinking", s)` reasoning text, `("end", "")` a section closed."""

OPENING = {"<thinking>": "</thinking>", "<think>": "</think>"}


class ThinkingSplitter:
    """Feed reply text in any pieces; get text and thinking pieces in order."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._held = ""  # text that may still be (the start of) a tag
        self._closing: str | None = None  # the closing tag while inside a section
        self._at_start = enabled  # an opening tag may come now
        self._skip_space = False  # drop whitespace right after a tag

    @property
    def in_thinking(self) -> bool:
        """Whether a thinking section is open."""
        return self._closing is not None

    def new_segment(self) -> None:
        """A tool call or reasoning block just ended: a thinking section may open again."""
        if self.enabled and self._closing is None and not self._held:
            self._at_start = True

    def feed(self, text: str) -> list[Piece]:
        """The pieces `text` completes; bytes that could still be a tag are held back."""
        if not self.enabled:
            return [("text", text)] if text else []
        self._held += text
        pieces: list[Piece] = []
        while self._held:
            before = len(self._held)
            pieces += self._step()
            if len(self._held) == before:
                break  # waiting for more text to decide
        return pieces

    def flush(self) -> list[Piece]:
        """End of the reply: whatever is held is what it looked like (an unclosed section ends)."""
        held, self._held = self._held, ""
        if self._closing is not None:
            self._closing = None
            return _thinking_then_end(held)
        return [("text", held)] if held and held.strip() else []

    # -- states --------------------------------------------------------------------------

    def _step(self) -> list[Piece]:
        if self._closing is not None:
            return self._inside(self._closing)
        if self._at_start:
            return self._opening()
        held, self._held = self._held, ""
        return [("text", held)]

    def _opening(self) -> list[Piece]:
        """At a segment start: open a section, keep waiting, or decide it is text."""
        stripped = self._held.lstrip()
        if not stripped:
            return []  # only whitespace so far
        for opening, closing in OPENING.items():
            if stripped.startswith(opening):
                self._held = stripped[len(opening) :]
                self._closing, self._at_start, self._skip_space = closing, False, True
                return []
        if any(opening.startswith(stripped) for opening in OPENING):
            return []  # could still become a tag
        self._at_start = False
        held, self._held = self._held, ""
        if self._skip_space:
            held, self._skip_space = held.lstrip(), False
        return [("text", held)]

    def _inside(self, closing: str) -> list[Piece]:
        """Inside a section: thinking text up to the closing tag, holding a possible partial tag."""
        if self._skip_space:
            self._held = self._held.lstrip()
            if not self._held:
                return []
            self._skip_space = False
        end = self._held.find(closing)
        if end >= 0:
            thinking, self._held = self._held[:end], self._held[end + len(closing) :]
            self._closing, self._at_start, self._skip_space = None, True, True
            return _thinking_then_end(thinking)
        keep = _partial_suffix(self._held, closing)
        thinking = self._held[: len(self._held) - keep]
        self._held = self._held[len(thinking) :]
        return [("thinking", thinking)] if thinking else []


def _thinking_then_end(thinking: str) -> list[Piece]:
    pieces: list[Piece] = [("thinking", thinking)] if thinking else []
    return pieces + [("end", "")]


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0
