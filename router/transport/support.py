"""Whether the fast transport can run here, and which transport a provider's client gets.

`router.transport.http1` and `netio` build on parts of httpcore and httpx that are not their
public API (the pool's bookkeeping, the hook it calls to assign requests, httpx's `_pool`), and
on httptools. A release that moves any of them must not break the router: the check below
looks for each one, without importing `http1` or `netio` until they are all there, and when
one is missing the router says so once and uses httpx's own transport, which is slower on
paced streams but otherwise the same.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from collections.abc import Callable
from typing import Any
from urllib.request import getproxies

import httpcore
import httpx

log = logging.getLogger("router.transport")

FAST, HTTPX = "fast", "httpx"
"""The values of `server.upstream_transport`."""

CHECKED_HTTPCORE_NAMES = (
    "AsyncConnectionPool", "AsyncConnectionInterface", "AsyncNetworkBackend", "AsyncNetworkStream",
    "ConnectionNotAvailable", "Origin", "Request", "Response", "SOCKET_OPTION",
)
RAISED_ERRORS = (
    "ConnectError", "ConnectTimeout", "ReadError", "ReadTimeout", "WriteError", "WriteTimeout",
    "RemoteProtocolError", "LocalProtocolError", "NetworkError", "TimeoutException", "ProtocolError",
)
"""httpcore exceptions http1/netio raise or catch; http1 maps each to httpx's class of the same name."""
CONNECTION_METHODS = {  # what the pool calls on a connection, with the arguments besides self
    "handle_async_request": 1, "aclose": 0, "info": 0, "can_handle_request": 1,
    "is_available": 0, "has_expired": 0, "is_idle": 0, "is_closed": 0,
}
STREAM_METHODS = ("read", "write", "aclose", "start_tls", "get_extra_info")
BACKEND_METHODS = ("connect_tcp", "connect_unix_socket", "sleep")
POOL_ARGUMENTS = ("ssl_context", "max_connections", "max_keepalive_connections", "keepalive_expiry",
                  "network_backend")
PARSER_METHODS = ("feed_data", "set_dangerous_leniencies", "get_status_code", "get_http_version",
                  "should_keep_alive")

_told: set[str] = set()


def upstream_transport(choice: str, limits: httpx.Limits) -> httpx.AsyncBaseTransport | None:
    """The transport for a provider's client: ours for "fast" when it can run, else None (httpx's own,
    which also honours a proxy from the environment)."""
    if choice != FAST:
        return None
    if getproxies():
        _once(logging.INFO, "a proxy is set in the environment: upstream requests use httpx's own transport")
        return None
    reason = fast_transport_supported()
    if reason is not None:
        _once(logging.WARNING, f"the fast upstream transport cannot run on httpcore {_version()}: {reason}; "
                               f"upstream requests use httpx's own transport")
        return None
    from router.transport import netio

    return netio.transport(limits)


@functools.cache
def fast_transport_supported() -> str | None:
    """None when every part of httpcore, httpx and httptools the fast transport relies on is there,
    else what is missing (`; `-separated)."""
    missing: list[str] = []
    for check in (_httptools, _httpcore_names, _connection_interface, _pool, _pool_request, _httpx):
        try:
            missing += check()
        except Exception as exc:  # a shape so different that looking at it fails
            missing.append(f"{check.__name__.lstrip('_')} (checking it raised {type(exc).__name__}: {exc})")
    if not missing:
        try:
            importlib.import_module("router.transport.netio")
        except Exception as exc:
            missing.append(f"router.transport.netio does not import ({type(exc).__name__}: {exc})")
    return "; ".join(missing) or None


def _httptools() -> list[str]:
    try:
        import httptools
    except ImportError as exc:
        return [f"httptools (it does not import: {exc})"]
    missing = _absent(httptools, "httptools", "HttpResponseParser", "HttpParserError", "HttpParserCallbackError",
                      "HttpParserUpgrade")
    return missing or _absent(httptools.HttpResponseParser, "httptools.HttpResponseParser", *PARSER_METHODS)


def _httpcore_names() -> list[str]:
    return _absent(httpcore, "httpcore", *CHECKED_HTTPCORE_NAMES, *RAISED_ERRORS) + [
        f"httpx.{name}" for name in RAISED_ERRORS if not hasattr(httpx, name)
    ]


def _connection_interface() -> list[str]:
    missing = []
    for base, names in ((httpcore.AsyncNetworkStream, STREAM_METHODS), (httpcore.AsyncNetworkBackend, BACKEND_METHODS)):
        missing += _absent(base, f"httpcore.{base.__name__}", *names)
    interface = httpcore.AsyncConnectionInterface
    for name, arguments in CONNECTION_METHODS.items():
        method = getattr(interface, name, None)
        if not callable(method) or not _takes(method, arguments):
            missing.append(f"httpcore.AsyncConnectionInterface.{name}() taking {arguments} argument(s)")
    return missing


def _pool() -> list[str]:
    """The pool's state we read and the hook we replace, and that httpcore still calls the hook."""
    pool_class = httpcore.AsyncConnectionPool
    parameters = inspect.signature(pool_class.__init__).parameters
    missing = [f"httpcore.AsyncConnectionPool({name}=...)" for name in POOL_ARGUMENTS if name not in parameters]
    hook = "_assign_requests_to_connections"
    if not _takes(getattr(pool_class, hook, None), 0):
        missing.append(f"httpcore.AsyncConnectionPool.{hook}()")
    if not _calls(getattr(pool_class, "handle_async_request", None), hook, "ConnectionNotAvailable"):
        missing.append(f"httpcore.AsyncConnectionPool.handle_async_request calling {hook} "
                       f"and retrying on ConnectionNotAvailable")
    released = getattr(_pool_module().get("PoolByteStream"), "aclose", None)
    if not _calls(released, "_pool", "_requests", hook):
        missing.append(f"httpcore's PoolByteStream.aclose calling the pool's {hook}")
    if not _takes(getattr(pool_class, "create_connection", None), 1):
        missing.append("httpcore.AsyncConnectionPool.create_connection(origin)")
    pool = pool_class(max_connections=2, max_keepalive_connections=1)
    for name, kind in (("_connections", list), ("_requests", list), ("_max_connections", int),
                       ("_max_keepalive_connections", int)):
        if not isinstance(getattr(pool, name, None), kind):
            missing.append(f"httpcore.AsyncConnectionPool().{name} ({kind.__name__})")
    return missing


def _pool_request() -> list[str]:
    """What the pool queues in `_requests`: its request, whether it waits, and how to hand it a connection."""
    name = "httpcore's AsyncPoolRequest"
    kind = _pool_module().get("AsyncPoolRequest")
    if kind is None:
        return [name]
    request = httpcore.Request("GET", "http://localhost/")
    queued = kind(request)
    missing = [] if getattr(queued, "request", None) is request else [f"{name}.request"]
    if not _takes(getattr(kind, "is_queued", None), 0) or queued.is_queued() is not True:
        missing.append(f"{name}.is_queued()")
    if not _takes(getattr(kind, "assign_to_connection", None), 1):
        missing.append(f"{name}.assign_to_connection(connection)")
    return missing


def _httpx() -> list[str]:
    """httpx's transport keeps its pool in `_pool`, which `netio.transport` replaces."""
    transport = httpx.AsyncHTTPTransport
    missing = [] if callable(getattr(httpx, "create_ssl_context", None)) else ["httpx.create_ssl_context"]
    for method in ("__init__", "handle_async_request", "aclose"):
        if not _calls(getattr(transport, method, None), "_pool"):
            missing.append(f"httpx.AsyncHTTPTransport.{method} using self._pool")
    return missing


def _pool_module() -> dict[str, Any]:
    """The namespace of the module defining httpcore's pool (httpcore re-labels the class's own
    `__module__` as "httpcore"; the functions keep their module's globals)."""
    return dict(httpcore.AsyncConnectionPool.handle_async_request.__globals__)


def _absent(owner: object, label: str, *names: str) -> list[str]:
    return [f"{label}.{name}" for name in names if not hasattr(owner, name)]


def _takes(function: Callable[..., Any] | None, arguments: int) -> bool:
    """Whether `function` (looked up on a class) can be called with `arguments` positional arguments."""
    if not callable(function):
        return False
    try:
        inspect.signature(function).bind(None, *range(arguments))
    except TypeError:
        return False
    return True


def _calls(function: Callable[..., Any] | None, *names: str) -> bool:
    """Whether `function`'s own code names every one of `names` (an attribute or a global it uses)."""
    code = getattr(function, "__code__", None)
    return code is not None and all(name in code.co_names for name in names)


def _version() -> str:
    return str(getattr(httpcore, "__version__", "(unknown version)"))


def _once(level: int, message: str) -> None:
    if message not in _told:
        _told.add(message)
        log.log(level, message)
