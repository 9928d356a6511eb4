"""The event-stream decoder on its own: botocore as the reference, corruption, laziness, the cache.

Streams are generated from a seeded random source with every header value type, empty and
large payloads, and decoded both by `EventStreamDecoder` and by botocore's
`EventStreamBuffer` (what the decoder replaced); headers and payloads must agree, value
types included, however the bytes are split into chunks.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import pytest
from botocore.eventstream import EventStreamBuffer  # type: ignore[import-untyped]

from providers.kiro.eventstream import (
    HEADER_CACHE_SIZE,
    MAX_HEADERS_LENGTH,
    MAX_PAYLOAD_LENGTH,
    EventStreamDecoder,
    Frame,
    to_frame,
)
from router.errors import UpstreamUnavailable
from tests.providers.kiro.frames import encode_typed_headers, raw_frame, text

Decoded = list[tuple[list[tuple[str, type, Any]], bytes]]


# -- generated streams ---------------------------------------------------------------------------------


def random_value(rng: random.Random, kind: int) -> Any:
    if kind in (0, 1):
        return kind == 0
    if kind in (2, 3, 4, 5, 8):
        low = -(2 ** ({2: 8, 3: 16, 4: 32, 5: 64, 8: 64}[kind] - 1))
        return rng.choice([low, -low - 1, 0, rng.randrange(low, -low)])
    if kind == 6:
        return rng.randbytes(rng.choice([0, 1, rng.randrange(300)]))
    if kind == 7:
        return "".join(rng.choice("aé€𝄞:-_ ") for _ in range(rng.choice([0, 1, rng.randrange(120)])))
    return rng.randbytes(16)


def random_headers(rng: random.Random) -> list[tuple[str, int, Any]]:
    count = rng.choice([0, 1, 3, 10, 10])  # most frames carry all ten types
    kinds = list(range(10)) if count == 10 else [rng.randrange(10) for _ in range(count)]
    names = [f":h{i}-" + "n" * rng.randrange(1, 40) + "é" * rng.randrange(3) for i in range(len(kinds))]
    return [(name, kind, random_value(rng, kind)) for name, kind in zip(names, kinds, strict=True)]


def random_payload(rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice([0, 0, 1, rng.randrange(500), rng.randrange(70_000)]))


def random_stream(seed: int, frames: int) -> bytes:
    rng = random.Random(seed)
    return b"".join(raw_frame(encode_typed_headers(random_headers(rng)), random_payload(rng)) for _ in range(frames))


def typed(headers: Any) -> list[tuple[str, type, Any]]:
    """Headers with their value types, so that True and 1 do not pass for each other."""
    return sorted((name, type(value), value) for name, value in dict(headers).items())


def by_botocore(stream: bytes) -> Decoded:
    buffer = EventStreamBuffer()
    buffer.add_data(stream)
    return [(typed(m.headers), m.payload) for m in buffer]


def by_us(chunks: Iterable[bytes]) -> Decoded:
    decoder = EventStreamDecoder()
    out = [(typed(m.headers), m.payload) for chunk in chunks for m in decoder.messages(chunk)]
    decoder.finish()
    return out


def pieces(data: bytes, rng: random.Random) -> list[bytes]:
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, 40)))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def test_every_header_type_agrees_with_botocore() -> None:
    head = encode_typed_headers(
        [
            ("t", 0, None),
            ("f", 1, None),
            ("byte", 2, -128),
            ("short", 3, 32767),
            ("int", 4, -(2**31)),
            ("long", 5, 2**63 - 1),
            ("bytes", 6, b"\x00\xffraw"),
            ("string", 7, "wörld 𝄞"),
            ("timestamp", 8, 1_767_225_600_000),
            ("uuid", 9, bytes(range(16))),
        ]
    )
    stream = raw_frame(head, b"payload") + raw_frame(b"", b"")
    assert by_us([stream]) == by_botocore(stream)
    assert by_us([stream])[0][0][0] == ("byte", int, -128)


@pytest.mark.parametrize("seed", range(12))
def test_generated_streams_agree_with_botocore(seed: int) -> None:
    stream = random_stream(seed, 25)
    reference = by_botocore(stream)
    assert len(reference) == 25
    assert by_us([stream]) == reference
    assert by_us(pieces(stream, random.Random(seed))) == reference


def test_large_payloads_and_headers_agree_with_botocore() -> None:
    rng = random.Random(7)
    big_header = encode_typed_headers([("blob", 6, rng.randbytes(65_535)), ("s", 7, "x" * 60_000)])
    stream = raw_frame(big_header, rng.randbytes(3_000_000)) + raw_frame(b"", rng.randbytes(1)) + text("end")
    reference = by_botocore(stream)
    assert by_us([stream]) == reference
    assert by_us(pieces(stream, rng)) == reference


@pytest.mark.parametrize("seed", [100, 101, 102])
def test_small_streams_split_at_every_byte_boundary_agree_with_botocore(seed: int) -> None:
    rng = random.Random(seed)
    stream = b"".join(
        raw_frame(encode_typed_headers(random_headers(rng)[:4]), rng.randbytes(rng.randrange(40))) for _ in range(3)
    )
    reference = by_botocore(stream)
    for cut in range(len(stream) + 1):
        assert by_us([stream[:cut], stream[cut:]]) == reference, cut
    assert by_us([stream[i : i + 1] for i in range(len(stream))]) == reference


def test_frames_agree_with_botocore_messages_made_frames() -> None:
    stream = b"".join(text(f"piece {i} ") for i in range(50))
    buffer = EventStreamBuffer()
    buffer.add_data(stream)
    reference = [to_frame(m.headers, m.payload) for m in buffer]
    decoder = EventStreamDecoder()
    assert list(decoder.feed(stream)) == reference
    assert reference[3] == Frame("assistantResponseEvent", "event", {"content": "piece 3 "})


# -- corruption -------------------------------------------------------------------------------------


FRAME = raw_frame(encode_typed_headers([(":event-type", 7, "x"), ("n", 4, 5)]), orjson.dumps({"content": "hi"}))
HEAD_END = 12 + len(encode_typed_headers([(":event-type", 7, "x"), ("n", 4, 5)]))


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


def decode_all(chunks: Sequence[bytes]) -> list[Frame]:
    decoder = EventStreamDecoder()
    frames = [f for chunk in chunks for f in decoder.feed(chunk)]
    decoder.finish()
    return frames


@pytest.mark.parametrize(
    "data",
    [
        flip(FRAME, 3),  # total length
        flip(FRAME, 6),  # headers length
        flip(FRAME, 10),  # prelude CRC
        flip(FRAME, 14),  # a header name
        flip(FRAME, HEAD_END - 1),  # a header value
        flip(FRAME, HEAD_END + 2),  # the payload
        flip(FRAME, len(FRAME) - 1),  # the message CRC
        raw_frame(b"", b"", total=15),  # shorter than the smallest frame
        raw_frame(b"", b"", total=2**32 - 1),  # absurd length: fails at the prelude
        raw_frame(b"x" * 40, b"", total=16 + 20, headers_length=40),  # headers longer than the frame
        raw_frame(b"", b"", total=16 + MAX_HEADERS_LENGTH + 1, headers_length=MAX_HEADERS_LENGTH + 1),
        raw_frame(b"", b"", total=16 + MAX_PAYLOAD_LENGTH + 1),
        raw_frame(encode_typed_headers([("s", 7, "abc")])[:-1], b""),  # string value past the section
        raw_frame(encode_typed_headers([("n", 5, 1)])[:-3], b""),  # int64 value past the section
        raw_frame(encode_typed_headers([("u", 9, bytes(16))])[:-1], b""),  # uuid past the section
        raw_frame(b"\x05ab", b""),  # name past the section
        raw_frame(b"\x01a\x07\x00", b""),  # string length cut off
        raw_frame(b"\x01a", b""),  # no value type
        raw_frame(b"\x01a\x0a", b""),  # value type 10
        raw_frame(b"\x02\xff\xfe\x00", b""),  # name not utf-8
        raw_frame(b"\x01a\x07\x00\x02\xc3\x28", b""),  # string not utf-8
        raw_frame(encode_typed_headers([("a", 0, None), ("a", 1, None)]), b""),  # a header twice
    ],
    ids=[
        "total-length-bit",
        "headers-length-bit",
        "prelude-crc-bit",
        "header-name-bit",
        "header-value-bit",
        "payload-bit",
        "message-crc-bit",
        "too-short",
        "oversize",
        "headers-past-frame",
        "headers-over-limit",
        "payload-over-limit",
        "string-past-section",
        "long-past-section",
        "uuid-past-section",
        "name-past-section",
        "string-length-cut",
        "type-missing",
        "unknown-type",
        "name-not-utf8",
        "string-not-utf8",
        "duplicate",
    ],
)
def test_corrupt_frames_are_upstream_unavailable(data: bytes) -> None:
    with pytest.raises(UpstreamUnavailable, match="event stream is corrupt"):
        decode_all([text("before"), data])


def test_a_corrupt_prelude_fails_before_the_rest_of_its_frame_arrives() -> None:
    """Twelve bytes are enough to reject an absurd length: nothing is buffered waiting for it."""
    decoder = EventStreamDecoder()
    with pytest.raises(UpstreamUnavailable, match="corrupt"):
        list(decoder.feed(raw_frame(b"", b"", total=2**31)[:12]))
    with pytest.raises(UpstreamUnavailable, match="corrupt"):
        list(decoder.feed(flip(FRAME, 9)[:12]))


def test_the_error_sticks() -> None:
    decoder = EventStreamDecoder()
    with pytest.raises(UpstreamUnavailable):
        list(decoder.feed(flip(FRAME, 20)))
    with pytest.raises(UpstreamUnavailable):
        list(decoder.feed(FRAME))


# -- laziness and the feeding contract ----------------------------------------------------------------


def test_frames_are_handed_out_before_the_rest_of_the_chunk_is_decoded() -> None:
    """The last frame is corrupt: every frame before it still arrives, one at a time, first."""
    good = [text(f"t{i}") for i in range(100)]
    frames = EventStreamDecoder().feed(b"".join(good) + flip(text("bad"), 20))
    assert next(frames) == Frame("assistantResponseEvent", "event", {"content": "t0"})
    seen = 1
    with pytest.raises(UpstreamUnavailable, match="corrupt"):
        for frame in frames:
            assert frame.payload == {"content": f"t{seen}"}
            seen += 1
    assert seen == 100


def test_stopping_early_loses_nothing_and_repeats_nothing() -> None:
    decoder = EventStreamDecoder()
    stream = b"".join(text(f"t{i}") for i in range(10))
    taken = []
    for frame in decoder.feed(stream[:-5]):
        taken.append(frame.payload["content"])
        if len(taken) == 3:
            break
    taken += [f.payload["content"] for f in decoder.feed(stream[-5:])]
    decoder.finish()
    assert taken == [f"t{i}" for i in range(10)]


def test_an_iterator_left_behind_by_a_newer_feed_ends() -> None:
    decoder = EventStreamDecoder()
    first = decoder.feed(text("a") + text("b"))
    assert next(first).payload == {"content": "a"}
    second = decoder.feed(text("c"))
    assert list(first) == []  # the newer feed now owns what was left
    assert [f.payload["content"] for f in second] == ["b", "c"]
    decoder.finish()


def test_a_feed_never_iterated_keeps_its_bytes() -> None:
    decoder = EventStreamDecoder()
    decoder.feed(text("a"))
    decoder.feed(text("b"))
    assert [f.payload["content"] for f in decoder.feed(b"")] == ["a", "b"]
    decoder.finish()


def test_finish_counts_what_is_left_over() -> None:
    decoder = EventStreamDecoder()
    data = text("a") + text("b")[:-3]
    assert len(list(decoder.feed(data))) == 1
    with pytest.raises(UpstreamUnavailable, match=r"middle of an event-stream frame \(\d+ bytes left over\)"):
        decoder.finish()


def test_frames_spanning_chunks_with_memoryview_and_bytearray_chunks() -> None:
    stream = text("x") + text("y")
    chunks: list[Any] = [bytearray(stream[:7]), memoryview(stream[7:30]), stream[30:]]
    assert [f.payload["content"] for f in decode_all(chunks)] == ["x", "y"]


# -- the headers cache ---------------------------------------------------------------------------------


def test_the_headers_cache_is_bounded_and_evicts_correctly() -> None:
    decoder = EventStreamDecoder()
    count = 3 * HEADER_CACHE_SIZE
    kinds = [raw_frame(encode_typed_headers([(":event-type", 7, f"e{i}")]), b"{}") for i in range(count)]
    for round_ in range(2):  # the second round finds the early sections evicted and parses them again
        got = [f.event_type for f in decoder.feed(b"".join(kinds))]
        assert got == [f"e{i}" for i in range(count)], round_
        assert decoder.cached_headers == HEADER_CACHE_SIZE
    decoder.finish()


def test_cached_headers_are_shared_and_read_only() -> None:
    decoder = EventStreamDecoder()
    first, second = decoder.messages(text("a") + text("b"))
    assert first.headers is second.headers and decoder.cached_headers == 1
    with pytest.raises(TypeError):
        first.headers[":event-type"] = "changed"  # type: ignore[index]
