"""Reasoning signatures on the wire: the provider and model that minted one travel inside it.

A client echoes signatures back verbatim, so the origin is packed into the string itself:
`swy1.<base64url(provider NUL model)>.<opaque value>`. Anything else (for instance a real
Anthropic signature) decodes to a signature of unknown origin, which no provider accepts.

Anthropic signs every thinking block, and clients count on it (the SDK's types, Claude Code
replaying a conversation), so a block its backend left unsigned gets a stand-in minted here:
`swy1r.<same origin>.<random nonce>`. It decodes to a `Signature` with `router=True`, which
no backend accepts, so replayed anywhere it is stripped and the thinking goes on unsigned.
Forging one gains nothing: it can only make a block look unsigned, never signed.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from router.conversation import Signature

PREFIX = "swy1."
ROUTER_PREFIX = "swy1r."
"""The prefix of a stand-in the router minted for a block its backend did not sign."""


def mint_signature(provider: str, model: str) -> Signature:
    """A router stand-in for an unsigned thinking block of `provider`/`model` (a fresh nonce each time)."""
    return Signature(provider, model, secrets.token_urlsafe(12), router=True)


def encode_signature(signature: Signature) -> str:
    """The string a client sees and sends back; one of unknown origin goes back exactly as it came."""
    if signature.router:
        return f"{ROUTER_PREFIX}{_origin(signature)}.{signature.value}"
    if not signature.provider:
        return signature.value
    return f"{PREFIX}{_origin(signature)}.{signature.value}"


def decode_signature(text: str) -> Signature:
    """Recover provider, model and value; unknown formats keep the text with an empty origin."""
    router = text.startswith(ROUTER_PREFIX)
    if router or text.startswith(PREFIX):
        tag, sep, value = text[len(ROUTER_PREFIX if router else PREFIX) :].partition(".")
        if sep:
            origin = unpack_tag(tag) or ""
            provider, nul, model = origin.partition("\x00")
            if nul and (provider or router):
                return Signature(provider, model, value, router=router)
    return Signature("", "", text)


def _origin(signature: Signature) -> str:
    return pack_tag(f"{signature.provider}\x00{signature.model}")


def pack_tag(text: str) -> str:
    """`text` as unpadded base64url: safe between the dots of a packed value."""
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode("ascii")


def unpack_tag(tag: str) -> str | None:
    """The text `pack_tag` packed; None when `tag` is not one."""
    try:
        return base64.urlsafe_b64decode(tag + "=" * (-len(tag) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
