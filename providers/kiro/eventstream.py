"""Kiro's reply body, the AWS binary event stream, as decoded frames.

The framing (prelude, headers, payload, two CRC32s) is parsed by botocore's own
`EventStreamBuffer`, the parser every AWS SDK call in Python goes through, rather than by
scanning the bytes for JSON the way several gateways do (fragile, per protocol sheet A5).
There is no botocore service model for Kiro's streaming API, so only the buffer is used.

`EventStreamDecoder.feed(chunk)` takes body chunks split anywhere (a frame may span many
chunks, a chunk may hold many frames) and returns the `Frame`s completed so far;
`finish()` at the end of the body fails if a frame was cut off. Every botocore error
(checksum mismatch, oversized headers) becomes `UpstreamUnavailable`: the reply is broken.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson
from botocore.eventstream import EventStreamBuffer, ParserError  # type: ignore[import-untyped]

from providers.kiro.failures import PROVIDER
from router.errors import UpstreamUnavailable

_PRELUDE_AND_CRC = 16  # the smallest possible frame: 12-byte prelude, no headers, no payload, 4-byte CRC


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


class EventStreamDecoder:
    """Incremental decoder: `feed` chunks as they arrive, `finish` when the body ends."""

    def __init__(self) -> None:
        self._buffer = EventStreamBuffer()
        self._carry = b""  # bytes fed but not yet part of a complete frame

    def feed(self, chunk: bytes) -> list[Frame]:
        """The frames completed by `chunk` (often none, sometimes several).

        Frames are cut at their prelude's total length and handed to botocore one at a time:
        botocore's buffer copies what remains after every message, which makes a chunk of many
        frames quadratic; one frame at a time keeps decoding linear in the chunk's size.
        """
        data = self._carry + chunk if self._carry else chunk
        frames: list[Frame] = []
        offset, size = 0, len(data)
        try:
            while size - offset >= 4:
                length = int.from_bytes(data[offset : offset + 4], "big")
                if length < _PRELUDE_AND_CRC:
                    raise UpstreamUnavailable("Kiro sent a malformed event-stream frame", provider=PROVIDER)
                if size - offset < length:
                    break
                self._buffer.add_data(data[offset : offset + length])
                offset += length
                for message in self._buffer:
                    frames.append(to_frame(message.headers, message.payload))
        except (ParserError, struct.error, KeyError, ValueError, IndexError) as exc:
            raise UpstreamUnavailable(
                f"Kiro's event stream is corrupt ({type(exc).__name__}); the reply was cut short",
                provider=PROVIDER,
            ) from None
        self._carry = data[offset:]
        return frames

    def finish(self) -> None:
        """Called at the end of the body: leftover bytes mean the last frame was cut off."""
        if self._carry:
            raise UpstreamUnavailable(
                f"Kiro's reply ended in the middle of an event-stream frame ({len(self._carry)} bytes left over)",
                provider=PROVIDER,
            )


def to_frame(headers: Mapping[str, Any], payload: bytes) -> Frame:
    """A `Frame` from one message's headers and payload bytes."""
    message_type = str(headers.get(":message-type") or "event")
    if message_type == "exception":
        name = headers.get(":exception-type") or headers.get(":error-code") or "UnknownException"
    elif message_type == "error":
        name = headers.get(":error-code") or headers.get(":exception-type") or "UnknownError"
    else:
        name = headers.get(":event-type") or ""
    data = _payload(payload, message_type)
    if message_type == "error" and "message" not in data:
        data["message"] = str(headers.get(":error-message") or "")
    return Frame(str(name), message_type, data)


def _payload(payload: bytes, message_type: str) -> dict[str, Any]:
    """The JSON object in a payload; an exception's non-JSON text becomes its message."""
    if not payload.strip():
        return {}
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        if message_type != "event":
            return {"message": payload.decode("utf-8", "replace")}
        raise UpstreamUnavailable("Kiro sent an event whose payload is not JSON", provider=PROVIDER) from None
    if not isinstance(data, dict):
        raise UpstreamUnavailable("Kiro sent an event whose payload is not a JSON object", provider=PROVIDER)
    return data
