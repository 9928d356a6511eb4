"""What a provider's translate step hands its shell: the body to send and what the reply needs.

A provider turns the canonical `Request` into its backend's body in pure functions (no I/O),
so that every rule can be tested without a server. Besides the body, the reply reader needs
the tool-name map (shortened names back to the client's) and whether the client asked to see
thinking at all; notes on what the backend could not take go to the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from router.conversation import Request
from router.toolkit.toolnames import ToolNames


@dataclass(frozen=True, slots=True)
class Payload:
    """A translated request: `body` (JSON) to send, `names` to map tool names and call ids back,
    `shows_thinking` for the reply reader, `notes` on dropped tools and options, for the log."""

    body: dict[str, Any]
    names: ToolNames
    shows_thinking: bool
    notes: tuple[str, ...] = ()


def shows_thinking(request: Request) -> bool:
    """Whether the client wants reasoning blocks: Anthropic shows none unless thinking is on
    (`enabled` or `adaptive`); a provider may still ask its backend to reason."""
    return request.thinking is not None and request.thinking.type != "disabled"
