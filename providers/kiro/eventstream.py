"""Kiro's reply body, the AWS binary event stream, as decoded frames.

The framing is parsed here, from the documented layout, rather than by scanning the bytes
for JSON the way several gateways do (fragile, per protocol sheet A5). A message is:

    prelude   total length (uint32 BE), headers length (uint32 BE),
              prelude CRC32 (uint32 BE, over the 8 bytes before it)
    headers   name length (uint8), name (utf-8), value type (uint8), value; repeated
    payload   the rest, up to
    CRC32     over everything before it

Header value types: 0 true, 1 false, 2 int8, 3 int16, 4 int32, 5 int64, 6 bytes (uint16
length), 7 utf-8 string (uint16 length), 8 timestamp (int64 ms), 9 uuid (16 bytes).

Why not botocore's `EventStreamBuffer` (there is no botocore service model for Kiro's
streaming API, so only that buffer would be used): it parses every header in pure Python,
one slice and one `struct.unpack` per field, and it was about half of Kiro's per-event CPU in
the profile. Here a frame costs two `zlib.crc32` and a few `struct.unpack_from` over one
memoryview, with no copy of the buffer, and the headers section, which repeats byte for byte
across frames of one type, is parsed once and cached by its bytes. botocore stays the
reference: the tests decode generated streams with both and compare.

`EventStreamDecoder.feed(chunk)` takes body chunks split anywhere (a frame may span many
chunks, a chunk may hold many frames) and returns a lazy iterator of the `Frame`s completed
so far, so the first frame of a big chunk is translated before the rest is decoded;
`finish()` at the end of the body fails if a frame was cut off. A corrupt frame (checksum,
lengths, header bounds) raises `UpstreamUnavailable` when the iterator reaches it: the reply
is broken.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar
from zlib import crc32

import orjson

from providers.kiro.failures import PROVIDER
from router.errors import UpstreamUnavailable

HeaderValue = bool | int | bytes | str

_PRELUDE = struct.Struct(">III")  # total length, headers length, prelude CRC
_UINT32 = struct.Struct(">I")
_UINT16 = struct.Struct(">H")
_PRELUDE_LENGTH = 12
_PRELUDE_AND_CRC = 16  # the smallest possible frame: 12-byte prelude, no headers, no payload, 4-byte CRC
# botocore's limits, so a corrupt length cannot make us buffer forever: fail at the prelude.
MAX_HEADERS_LENGTH = 128 * 1024
MAX_PAYLOAD_LENGTH = 24 * 1024 * 1024
HEADER_CACHE_SIZE = 64  # distinct headers sections kept; Kiro uses about ten

# Fixed-size integer header values: type -> (struct, size).
_FIXED: dict[int, tuple[struct.Struct, int]] = {
    2: (struct.Struct(">b"), 1),
    3: (struct.Struct(">h"), 2),
    4: (struct.Struct(">i"), 4),
    5: (struct.Struct(">q"), 8),
    8: (struct.Struct(">q"), 8),  # timestamp, milliseconds since the epoch (botocore: the int)
}

_T = TypeVar("_T")


class Frame(NamedTuple):
    """One decoded message: its type name, its message type, and its JSON payload.

    `message_type` is `event`, `exception` or `error` (the `:message-type` header).
    `event_type` is `:event-type` for events (`assistantResponseEvent`, …), `:exception-type`
    for exceptions (`ThrottlingException`, …) and `:error-code` for errors. For errors the
    payload falls back to `{"message": <:error-message>}`.
    """

    event_type: str
    message_type: str
    payload: dict[str, Any]


class Message(NamedTuple):
    """One raw message: its headers (read-only, shared between frames) and payload bytes."""

    headers: Mapping[str, HeaderValue]
    payload: bytes


class _Headers(NamedTuple):
    """A parsed headers section, cached by its bytes, with what `Frame` needs from it."""

    headers: Mapping[str, HeaderValue]
    event_type: str
    message_type: str
    error_message: str


class EventStreamDecoder:
    """Incremental decoder: `feed` chunks as they arrive, `finish` when the body ends.

    Contract: consume each `feed`'s iterator fully before the next `feed` or `finish` (the
    reply reader's `for frame in decoder.feed(chunk)` does). The position advances as each
    frame is handed out, so stopping early loses nothing: the frames not taken yet are
    handed out by the next `feed`'s iterator, and the earlier iterator ends.
    """

    def __init__(self) -> None:
        self._data = b""  # bytes fed and not yet handed out as frames, from `_offset`
        self._offset = 0
        self._epoch = 0  # which `feed` owns the buffer: older iterators stop
        self._cache: dict[bytes, _Headers] = {}

    def feed(self, chunk: bytes) -> Iterator[Frame]:
        """The frames completed by `chunk` (often none, sometimes several), decoded lazily."""
        return self._decode(self._take(chunk), _frame)

    def messages(self, chunk: bytes) -> Iterator[Message]:
        """`feed`, one level down: raw headers and payload bytes (for tests and tools)."""
        return self._decode(self._take(chunk), _message)

    def finish(self) -> None:
        """Called at the end of the body: leftover bytes mean the last frame was cut off."""
        left = len(self._data) - self._offset
        if left:
            raise UpstreamUnavailable(
                f"Kiro's reply ended in the middle of an event-stream frame ({left} bytes left over)",
                provider=PROVIDER,
            )

    @property
    def cached_headers(self) -> int:
        """How many distinct headers sections are cached (bounded by `HEADER_CACHE_SIZE`)."""
        return len(self._cache)

    def _take(self, chunk: bytes) -> int:
        """Append `chunk` to the buffer now (so no chunk is lost to an iterator never run)."""
        chunk = bytes(chunk) if type(chunk) is not bytes else chunk
        if self._offset < len(self._data):
            self._data = self._data[self._offset :] + chunk  # a partial frame: small
        else:
            self._data = chunk
        self._offset = 0
        self._epoch += 1
        return self._epoch

    def _decode(self, epoch: int, build: Callable[[_Headers, memoryview], _T]) -> Iterator[_T]:
        """Frames from `_offset` on, each built and handed out as soon as it is checked.

        One memoryview over the buffer, no copies but the headers' cache key: decoding
        stays linear in the chunk's size however many frames it holds.
        """
        data = self._data
        view = memoryview(data)
        size = len(data)
        cache = self._cache
        last_key, last = b"", None  # consecutive frames usually share their headers
        while self._epoch == epoch:
            offset = self._offset
            if size - offset < _PRELUDE_LENGTH:
                return
            total, headers_length, prelude_crc = _PRELUDE.unpack_from(data, offset)
            if crc32(view[offset : offset + 8]) != prelude_crc:
                raise _corrupt("prelude checksum mismatch")
            if total < _PRELUDE_AND_CRC or headers_length > total - _PRELUDE_AND_CRC:
                raise _corrupt(f"total length {total} with headers length {headers_length}")
            if headers_length > MAX_HEADERS_LENGTH or total - headers_length - _PRELUDE_AND_CRC > MAX_PAYLOAD_LENGTH:
                raise _corrupt(f"a frame of {total} bytes")
            end = offset + total
            if end > size:
                return  # the rest comes with the next chunk
            payload_end = end - 4
            if crc32(view[offset + 8 : payload_end], prelude_crc) != _UINT32.unpack_from(data, payload_end)[0]:
                raise _corrupt("message checksum mismatch")
            start = offset + _PRELUDE_LENGTH
            headers_end = start + headers_length
            if last is not None and headers_length == len(last_key) and data.startswith(last_key, start):
                headers = last
            else:
                last_key = data[start:headers_end]
                cached = cache.get(last_key)
                headers = last = cached if cached is not None else self._remember(last_key)
            item = build(headers, view[headers_end:payload_end])
            self._offset = end  # before handing the frame out: a caller may stop after it
            yield item

    def _remember(self, raw: bytes) -> _Headers:
        """Parse a headers section and cache it, evicting the oldest beyond the bound."""
        parsed = _describe(parse_headers(raw))
        if len(self._cache) >= HEADER_CACHE_SIZE:
            del self._cache[next(iter(self._cache))]
        self._cache[raw] = parsed
        return parsed


def parse_headers(raw: bytes) -> Mapping[str, HeaderValue]:
    """A headers section as a read-only mapping; bounds, types and names checked."""
    headers: dict[str, HeaderValue] = {}
    position, end = 0, len(raw)
    try:
        while position < end:
            name_end = position + 1 + raw[position]
            if name_end >= end:
                raise _corrupt("a header name out of bounds")
            name = raw[position + 1 : name_end].decode()
            kind = raw[name_end]
            position = name_end + 1
            value: HeaderValue
            if kind == 7 or kind == 6:
                if position + 2 > end:
                    raise _corrupt("a header length out of bounds")
                value_end = position + 2 + _UINT16.unpack_from(raw, position)[0]
                if value_end > end:
                    raise _corrupt("a header value out of bounds")
                value = raw[position + 2 : value_end]
                if kind == 7:
                    value = value.decode()
                position = value_end
            elif kind in _FIXED:
                unpacker, width = _FIXED[kind]
                if position + width > end:
                    raise _corrupt("a header value out of bounds")
                value = unpacker.unpack_from(raw, position)[0]
                position += width
            elif kind == 9:
                if position + 16 > end:
                    raise _corrupt("a header value out of bounds")
                value = raw[position : position + 16]
                position += 16
            elif kind == 0 or kind == 1:
                value = kind == 0
            else:
                raise _corrupt(f"header value type {kind}")
            if name in headers:
                raise _corrupt(f"header {name!r} twice")
            headers[name] = value
    except UnicodeDecodeError:
        raise _corrupt("a header that is not utf-8") from None
    return MappingProxyType(headers)


def to_frame(headers: Mapping[str, Any], payload: bytes | memoryview) -> Frame:
    """A `Frame` from one message's headers and payload bytes."""
    return _frame(_describe(headers), payload)


def _describe(headers: Mapping[str, Any]) -> _Headers:
    """What a `Frame` takes from the headers, worked out once per distinct headers section."""
    message_type = str(headers.get(":message-type") or "event")
    if message_type == "exception":
        name = headers.get(":exception-type") or headers.get(":error-code") or "UnknownException"
    elif message_type == "error":
        name = headers.get(":error-code") or headers.get(":exception-type") or "UnknownError"
    else:
        name = headers.get(":event-type") or ""
    return _Headers(headers, str(name), message_type, str(headers.get(":error-message") or ""))


def _frame(headers: _Headers, payload: bytes | memoryview) -> Frame:
    data = _payload(payload, headers.message_type)
    if headers.message_type == "error" and "message" not in data:
        data["message"] = headers.error_message
    return Frame(headers.event_type, headers.message_type, data)


def _message(headers: _Headers, payload: memoryview) -> Message:
    return Message(headers.headers, bytes(payload))


def _payload(payload: bytes | memoryview, message_type: str) -> dict[str, Any]:
    """The JSON object in a payload; an exception's non-JSON text becomes its message."""
    if not payload:
        return {}
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        raw = bytes(payload)
        if not raw.strip():
            return {}
        if message_type != "event":
            return {"message": raw.decode("utf-8", "replace")}
        raise UpstreamUnavailable("Kiro sent an event whose payload is not JSON", provider=PROVIDER) from None
    if not isinstance(data, dict):
        raise UpstreamUnavailable("Kiro sent an event whose payload is not a JSON object", provider=PROVIDER)
    return data


def _corrupt(reason: str) -> UpstreamUnavailable:
    return UpstreamUnavailable(
        f"Kiro's event stream is corrupt ({reason}); the reply was cut short", provider=PROVIDER
    )
