"""Reasoning text sealed inside a Responses reasoning item's `encrypted_content`, so it comes back.

OpenAI shows a reasoning item's text only as a summary, and only when the request asks for
summaries; the Codex CLI asks for `encrypted_content` and no summary. A Claude backend's
signature signs the thinking text, though, and is worthless without it: replayed alone it
would read as redacted thinking, which the backend refuses. So when the text is not shown, it
travels inside the opaque value with the signature, `swy1t.<base64url(text)>.<signature>`,
the signature being `router.anthropic.signatures.encode_signature`'s string. The client sees one
opaque string and echoes it; the decoder gets the text and the signature back.
"""

from __future__ import annotations

from router.anthropic.signatures import decode_signature, encode_signature, pack_tag, unpack_tag
from router.conversation import Signature

PREFIX = "swy1t."


def seal_reasoning(text: str, signature: Signature) -> str:
    """The `encrypted_content` carrying both the thinking text and its signature."""
    return f"{PREFIX}{pack_tag(text)}.{encode_signature(signature)}"


def open_reasoning(value: str) -> tuple[str | None, Signature]:
    """The sealed text (None when `value` holds none) and the signature of an `encrypted_content`."""
    if value.startswith(PREFIX):
        tag, sep, rest = value[len(PREFIX):].partition(".")
        text = unpack_tag(tag) if sep else None
        if text is not None:
            return text, decode_signature(rest)
    return None, decode_signature(value)
