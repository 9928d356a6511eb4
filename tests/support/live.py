"""Run the router for real: uvicorn on 127.0.0.1 in a background thread, or `router serve` as a process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from router.server.app import create_app
from router.server.cli import _Server
from router.server.runtime import Runtime


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1.0, trust_env=False) as client:  # one client: each new one loads the CA bundle
        while time.monotonic() < deadline:
            try:
                if client.get(f"{url}/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
    raise TimeoutError(f"router at {url} did not become ready in {timeout}s")


@contextmanager
def served(runtime: Runtime) -> Iterator[tuple[str, _Server]]:
    """The app of `runtime` behind uvicorn (the same server class `router serve` uses)."""
    port = free_port()
    config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_config=None, lifespan="on",
                            timeout_graceful_shutdown=5)
    server = _Server(config, runtime.lifecycle)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        yield url, server
    finally:
        server.should_exit = True
        thread.join(timeout=10)


PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")
"""Left out of a router's environment: its upstreams are on 127.0.0.1, and a proxy would force httpx's transport."""


def router_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k != "SWITCHYARD_NO_PLUGIN_AUTOLOAD" and k.lower() not in PROXY_VARIABLES}
    env.update(extra)
    return env


@contextmanager
def router_process(args: Sequence[str], cwd: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`router ARGS` as a child process, always stopped afterwards."""
    process = subprocess.Popen([sys.executable, "-m", "router", *args], cwd=cwd, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@dataclass(frozen=True)
class Serving:
    """A live `router serve`: its base URL, and the process for tests that stop it and read its output."""

    url: str
    process: subprocess.Popen[str]


@contextmanager
def router_serving(config: Path, cwd: Path, env: dict[str, str]) -> Iterator[Serving]:
    """`router serve --config CONFIG` on a free 127.0.0.1 port, ready; if it never gets ready, fail with its output."""
    port = free_port()
    with router_process(["serve", "--config", str(config), "--port", str(port)], cwd, env) as process:
        url = f"http://127.0.0.1:{port}"
        try:
            wait_ready(url)
        except TimeoutError:
            process.terminate()
            raise AssertionError(process.communicate(timeout=10)) from None
        yield Serving(url, process)


@contextmanager
def serve_asgi(app: object) -> Iterator[str]:
    """Any ASGI app (a fake upstream) on 127.0.0.1, in a background thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
