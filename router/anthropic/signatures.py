"""Reasoning signatures on the wire: the provider and model that minted one travel inside it.

A client echoes signatures back verbatim, so the origin is packed into the string itself:
`swy1.<base64url(provider NUL model)>.<opaque value>`. Anything else (for instance a real
Anthropic signature) decodes to a signature of unknown origin, which no provider accepts.
"""

from __future__ import annotations

import base64
import binascii

from router.conversation import Signature

PREFIX = "swy1."


def encode_signature(signature: Signature) -> str:
    """The string a client sees and sends back; one of unknown origin goes back exactly as it came."""
    if not signature.provider:
        return signature.value
    origin = f"{signature.provider}\x00{signature.model}".encode()
    tag = base64.urlsafe_b64encode(origin).rstrip(b"=").decode("ascii")
    return f"{PREFIX}{tag}.{signature.value}"


def decode_signature(text: str) -> Signature:
    """Recover provider, model and value; unknown formats keep the text with an empty origin."""
    if text.startswith(PREFIX):
        tag, sep, value = text[len(PREFIX) :].partition(".")
        if sep:
            try:
                origin = base64.urlsafe_b64decode(tag + "=" * (-len(tag) % 4)).decode()
            except (binascii.Error, UnicodeDecodeError):
                origin = ""
            provider, nul, model = origin.partition("\x00")
            if nul and provider:
                return Signature(provider, model, value)
    return Signature("", "", text)
