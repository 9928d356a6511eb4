"""Signed reasoning in both of OpenRouter's dialects, and the conversion between them.

This provider mints `Signature("openrouter", model, value)` in two forms, one per mode:

- chat completions: `value` is the compact JSON of the block's `reasoning_details` list
  (always starting with `[`), sent back unchanged as the assistant message's `reasoning_details`;
- the Anthropic endpoint: `value` is Claude's own raw signature (base64, never starting with `[`),
  or a redacted block's data, sent back in a native `thinking`/`redacted_thinking` block.

A conversation may move between the modes for one Claude model (a route toggled, a config
change mid-session), so each side converts the other's form instead of sending it where it
does not parse. For Claude models OpenRouter's `reasoning.text` details carry Claude's real
signature and `reasoning.encrypted` ones the redacted data (format `anthropic-claude-v1`), so
the conversion is exact; details that cannot be expressed as Claude blocks are left out.
"""

from __future__ import annotations

from typing import Any

import orjson

from router.conversation import Signature, ThinkingBlock
from router.route import Route

CLAUDE_FORMAT = "anthropic-claude-v1"
"""OpenRouter's `format` for reasoning details that came from a Claude model."""


def is_details(value: str) -> bool:
    """Whether a signature value is a chat-completions `reasoning_details` list (else a raw Claude value)."""
    return value.startswith("[")


def details_for(block: ThinkingBlock, route: Route) -> list[dict[str, Any]] | None:
    """The `reasoning_details` to send back for a thinking block this provider and model signed.

    None for foreign or unsigned thinking, and for a details value that no longer parses.
    """
    signature = block.signature
    if signature is None or not signature.minted_by(route.provider, route.model) or not signature.value:
        return None
    if not is_details(signature.value):
        return [_claude_detail(block, signature.value)]
    try:
        details = orjson.loads(signature.value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(details, list) or not all(isinstance(item, dict) for item in details):
        return None
    return details


def native_blocks(block: ThinkingBlock, route: Route) -> list[ThinkingBlock]:
    """The Claude thinking blocks, with raw signatures, for a thinking block this provider signed.

    A raw signature with an empty origin is written verbatim by the Anthropic payload encoder,
    which is exactly what Claude issued. Unsigned or foreign thinking gives no block: Claude
    would refuse it.
    """
    signature = block.signature
    if signature is None or not signature.minted_by(route.provider, route.model) or not signature.value:
        return []
    if not is_details(signature.value):
        return [ThinkingBlock(block.thinking, Signature("", "", signature.value), block.redacted)]
    details = details_for(block, route) or []
    return [converted for detail in details if (converted := _claude_block(detail)) is not None]


def _claude_detail(block: ThinkingBlock, raw: str) -> dict[str, Any]:
    if block.redacted:
        return {"type": "reasoning.encrypted", "data": raw, "format": CLAUDE_FORMAT, "index": 0}
    return {"type": "reasoning.text", "text": block.thinking, "signature": raw, "format": CLAUDE_FORMAT, "index": 0}


def _claude_block(detail: dict[str, Any]) -> ThinkingBlock | None:
    kind, text, signature, data = detail.get("type"), detail.get("text"), detail.get("signature"), detail.get("data")
    if kind == "reasoning.text" and isinstance(text, str) and isinstance(signature, str) and signature:
        return ThinkingBlock(text, Signature("", "", signature))
    claude = detail.get("format") in (None, CLAUDE_FORMAT)
    if kind == "reasoning.encrypted" and claude and isinstance(data, str) and data:
        return ThinkingBlock("", Signature("", "", data), redacted=True)
    return None
