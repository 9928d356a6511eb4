"""Reading a streamed upstream reply's body with as few layers as possible, on either transport.

It needs only httpx: on the router's own connections (`router.transport.http1`) it finds the
connection's body in the reply's `BODY` extension; on httpx's transport (`server.upstream_transport:
httpx`, or the fallback) there is none and it reads httpx's raw stream. So a provider calls it
without knowing which transport its client has, and it imports even where `http1` cannot.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

import httpx

BODY = "router.body"
"""Response extension holding the reply's body on our own connections, to be read past httpx's
layers (`http1._Body.chunks`)."""


def body_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """A streamed reply's body as it arrives, decompressed if the backend compressed it.

    Without a content encoding the raw chunks are the body, and skipping httpx's decoder
    layer saves a little on every read: one read is one event when a backend paces its stream.
    On the router's own connections (`router.transport.http1`) the chunks come straight from
    the connection, past httpx's and the pool's stream wrappers, four fewer generators per read.
    """
    if response.headers.get("content-encoding", "identity").strip().lower() in ("", "identity"):
        body = response.extensions.get(BODY)
        if body is not None and not response.is_stream_consumed:
            return cast(AsyncIterator[bytes], body.chunks(response.request))
        return response.aiter_raw()
    return response.aiter_bytes()
