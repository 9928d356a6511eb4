"""AWS event-stream frames encoded by hand, for tests and the fake Kiro backend.

The encoding follows the documented layout (protocol sheet A5: total length, headers
length, prelude CRC32, headers as name-len/name/type 7/value-len/value, payload, message
CRC32), independently of botocore, so the decoder is checked against the format and not
against itself. `encode_typed_headers` covers the other nine value types, and `raw_frame`
can write lying lengths under valid checksums, for the decoder's own tests.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from typing import Any

import orjson


def encode_headers(headers: dict[str, str]) -> bytes:
    out = b""
    for name, value in headers.items():
        raw = value.encode()
        out += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw
    return out


# Header value types and their fixed-size encodings (struct formats); 6, 7 and 9 are below.
_FIXED = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}


def encode_typed_headers(headers: Sequence[tuple[str, int, Any]]) -> bytes:
    """Headers of any value type: (name, type 0-9, value); 0/1 ignore the value (true/false)."""
    out = b""
    for name, kind, value in headers:
        raw_name = name.encode()
        out += bytes([len(raw_name)]) + raw_name + bytes([kind])
        if kind in _FIXED:
            out += struct.pack(_FIXED[kind], value)
        elif kind in (6, 7):
            raw = value.encode() if kind == 7 else value
            out += struct.pack(">H", len(raw)) + raw
        elif kind == 9:
            assert len(value) == 16
            out += value
        else:
            assert kind in (0, 1)
    return out


def raw_frame(head: bytes, payload: bytes, *, total: int | None = None, headers_length: int | None = None) -> bytes:
    """A frame around already-encoded headers; `total`/`headers_length` may lie (CRCs stay valid)."""
    if total is None:
        total = 12 + len(head) + len(payload) + 4
    if headers_length is None:
        headers_length = len(head)
    prelude = struct.pack(">II", total, headers_length)
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + head + payload
    return message + struct.pack(">I", zlib.crc32(message) & 0xFFFFFFFF)


def frame_bytes(headers: dict[str, str], payload: bytes) -> bytes:
    return raw_frame(encode_headers(headers), payload)


def event(event_type: str, **payload: Any) -> bytes:
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return frame_bytes(headers, orjson.dumps(payload))


def exception(kind: str, message: str, reason: str | None = None) -> bytes:
    headers = {":exception-type": kind, ":content-type": "application/json", ":message-type": "exception"}
    body: dict[str, Any] = {"message": message}
    if reason is not None:
        body["reason"] = reason
    return frame_bytes(headers, orjson.dumps(body))


def error_frame(code: str, message: str) -> bytes:
    return frame_bytes({":message-type": "error", ":error-code": code, ":error-message": message}, b"")


def text(content: str) -> bytes:
    return event("assistantResponseEvent", content=content)


def tool(
    tool_id: str | None = None, name: str | None = None, fragment: Any = None, stop: bool = False
) -> bytes:
    payload: dict[str, Any] = {}
    if tool_id is not None:
        payload["toolUseId"] = tool_id
    if name is not None:
        payload["name"] = name
    if fragment is not None:
        payload["input"] = fragment
    if stop:
        payload["stop"] = True
    return event("toolUseEvent", **payload)
