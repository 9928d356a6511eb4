"""AWS event-stream frames encoded by hand, for tests and the fake Kiro backend.

The encoding follows the documented layout (protocol sheet A5: total length, headers
length, prelude CRC32, headers as name-len/name/type 7/value-len/value, payload, message
CRC32), independently of botocore, so the decoder is checked against the format and not
against itself.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import orjson


def encode_headers(headers: dict[str, str]) -> bytes:
    out = b""
    for name, value in headers.items():
        raw = value.encode()
        out += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(raw)) + raw
    return out


def frame_bytes(headers: dict[str, str], payload: bytes) -> bytes:
    head = encode_headers(headers)
    total = 12 + len(head) + len(payload) + 4
    prelude = struct.pack(">II", total, len(head))
    prelude += struct.pack(">I", zlib.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + head + payload
    return message + struct.pack(">I", zlib.crc32(message) & 0xFFFFFFFF)


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
