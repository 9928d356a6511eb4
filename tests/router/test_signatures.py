"""Every thinking block reaches the client signed: the router's stand-in where the backend gave none.

The stand-in is tagged with the route that produced the thinking, but it is recognisable as the
router's own on the way back: it decodes to `Signature(router=True)`, which no provider accepts,
so replaying it anywhere strips it like a foreign signature.
"""

from __future__ import annotations

import json

import pytest

from router.anthropic.encode import StreamEncoder, reply_json
from router.anthropic.signatures import ROUTER_PREFIX, decode_signature, encode_signature, mint_signature
from router.conversation import (
    Message,
    Reply,
    Request,
    Signature,
    TextBlock,
    ThinkingBlock,
    Usage,
    drop_foreign_signatures,
)
from router.events import (
    BlockStop,
    Event,
    MessageStart,
    MessageStop,
    SignatureDelta,
    TextDelta,
    TextStart,
    ThinkingDelta,
    ThinkingStart,
)
from router.route import Route
from tests.support.sse import checked

ROUTE = Route("kiro", "claude-sonnet-4.5")
REAL = Signature("kiro", "claude-sonnet-4.5", "sig-from-kiro")


def signatures_in(events: list[Event], route: Route | None = ROUTE) -> list[str]:
    """The signatures a streaming client receives, one per signed block, in order."""
    encoder = StreamEncoder("claude-sonnet-4-5", route=route)
    sse = checked(b"".join(encoder.encode(event) for event in events).decode())
    return [data["delta"]["signature"] for name, data in sse
            if name == "content_block_delta" and data["delta"]["type"] == "signature_delta"]


# -- the wire form ---------------------------------------------------------------------------------


def test_a_stand_in_names_its_route_and_decodes_as_the_routers() -> None:
    minted = mint_signature("kiro", "claude-sonnet-4.5")
    wire = encode_signature(minted)
    assert wire.startswith(ROUTER_PREFIX) and wire.endswith("." + minted.value) and minted.value
    assert decode_signature(wire) == minted == Signature("kiro", "claude-sonnet-4.5", minted.value, router=True)
    assert mint_signature("kiro", "claude-sonnet-4.5").value != minted.value  # a fresh nonce per block


def test_a_backend_signature_keeps_its_form() -> None:
    wire = encode_signature(REAL)
    assert not wire.startswith(ROUTER_PREFIX)
    assert decode_signature(wire) == REAL and not decode_signature(wire).router


@pytest.mark.parametrize("text", [ROUTER_PREFIX + "no-dot", ROUTER_PREFIX + "!!!.value", ROUTER_PREFIX + "a2lybw.v"])
def test_a_malformed_stand_in_is_of_unknown_origin(text: str) -> None:
    assert decode_signature(text) == Signature("", "", text)


def test_no_provider_accepts_a_stand_in_not_even_the_one_it_names() -> None:
    minted = mint_signature("kiro", "claude-sonnet-4.5")
    assert not minted.minted_by("kiro", "claude-sonnet-4.5")
    assert REAL.minted_by("kiro", "claude-sonnet-4.5")


@pytest.mark.parametrize(("provider", "model"), [("kiro", "claude-sonnet-4.5"), ("kiro", "claude-opus-4.5"),
                                                 ("codex", "gpt-5.5"), ("openrouter", "anthropic/claude-opus-4.5")])
def test_a_replayed_stand_in_is_stripped_for_every_route(provider: str, model: str) -> None:
    minted = mint_signature("kiro", "claude-sonnet-4.5")
    request = Request(model="claude-sonnet-4-5", max_tokens=10, messages=(
        Message("user", (TextBlock("q"),)),
        Message("assistant", (ThinkingBlock("pondering", minted), TextBlock("a"))),
        Message("user", (TextBlock("q2"),)),
    ))
    routed = drop_foreign_signatures(request, provider, model)
    assert routed.messages[1].content == (ThinkingBlock("pondering", None), TextBlock("a"))


# -- the stream encoder and the folded reply -------------------------------------------------------


def test_an_unsigned_thinking_block_gets_a_stand_in_before_its_stop() -> None:
    events: list[Event] = [MessageStart("m"), ThinkingStart(), ThinkingDelta("hmm"), BlockStop(),
                           TextStart(), TextDelta("hi"), BlockStop(), MessageStop("end_turn")]
    (wire,) = signatures_in(events)
    signature = decode_signature(wire)
    assert signature.router and (signature.provider, signature.model) == (ROUTE.provider, ROUTE.model)


def test_a_signed_block_keeps_its_own_signature_and_gets_no_second() -> None:
    events: list[Event] = [MessageStart("m"), ThinkingStart(), ThinkingDelta("hmm"), SignatureDelta(REAL), BlockStop(),
                           ThinkingStart(), ThinkingDelta("again"), BlockStop(), MessageStop("end_turn")]
    first, second = signatures_in(events)
    assert decode_signature(first) == REAL
    assert decode_signature(second).router  # the unsigned one after a signed one still gets its own


@pytest.mark.parametrize("closer", [TextStart(), MessageStop("end_turn")], ids=["next block", "message stop"])
def test_a_thinking_block_closed_implicitly_is_signed_too(closer: Event) -> None:
    events: list[Event] = [MessageStart("m"), ThinkingStart(), ThinkingDelta("hmm"), closer]
    if not isinstance(closer, MessageStop):
        events += [TextDelta("x"), BlockStop(), MessageStop("end_turn")]
    (wire,) = signatures_in(events)
    assert decode_signature(wire).router


def test_a_redacted_block_never_gets_a_stand_in() -> None:
    events: list[Event] = [MessageStart("m"), ThinkingStart(redacted=True), BlockStop(),
                           TextStart(), TextDelta("x"), BlockStop(), MessageStop("end_turn")]
    assert signatures_in(events) == []  # shown not at all: it had nothing but its (missing) signature


def test_without_a_route_the_stand_in_has_no_origin_but_is_still_the_routers() -> None:
    events: list[Event] = [MessageStart("m"), ThinkingStart(), ThinkingDelta("hmm"), BlockStop(), MessageStop("end_turn")]
    signature = decode_signature(signatures_in(events, route=None)[0])
    assert signature.router and (signature.provider, signature.model) == ("", "")
    assert not signature.minted_by("", "")


def test_a_folded_reply_signs_unsigned_thinking_too() -> None:
    reply = Reply("m", (ThinkingBlock("hmm"), ThinkingBlock("ok", REAL), TextBlock("hi")), "end_turn", None, Usage())
    unsigned, signed, _ = json.loads(reply_json(reply, "claude-sonnet-4-5", route=ROUTE))["content"]
    signature = decode_signature(unsigned["signature"])
    assert signature.router and (signature.provider, signature.model) == (ROUTE.provider, ROUTE.model)
    assert decode_signature(signed["signature"]) == REAL
