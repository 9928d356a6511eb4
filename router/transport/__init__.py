"""The router's own upstream HTTP/1.1 layer, optional: httpx's transport is the fallback.

Providers' clients use it when `server.upstream_transport` is `fast` (the default): `http1`
(the connection, replies parsed by llhttp, in httpcore's pool) on `netio` (an asyncio network
backend), both cheaper than httpcore's own on streams paced one event per read. Under a proxy
from the environment, with `upstream_transport: httpx`, or when `support.fast_transport_supported()`
finds a part of httpcore/httpx/httptools they build on missing (logged once, as a warning),
the client gets httpx's own transport instead; `body.body_chunks` reads a body on either.
Nothing here imports the rest of `router`.
"""
