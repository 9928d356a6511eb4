"""`router code`: Claude Code wired to this router, with a router started for it when none runs.

The environment Claude Code gets is built by pure functions (`router_url`, `router_env`,
`claude_env`), so what it is told can be tested without a process. The rest is process
handling: probe `/health`, start `router serve` in its own session (so a Ctrl-C typed at
Claude Code never reaches it), wait until it answers, run `claude` in the foreground with
stdio inherited, and stop the router again only if this command started it.

Claude Code reads `ANTHROPIC_AUTH_TOKEN` (sent as `Authorization: Bearer`) without asking the
user to approve it, which `ANTHROPIC_API_KEY` needs in an interactive session; and the router
prefers `x-api-key` when both arrive, so an `ANTHROPIC_API_KEY` inherited from the shell (a real
Anthropic key, say) is left out of Claude Code's environment. The tier model variables
(`ANTHROPIC_DEFAULT_OPUS_MODEL`, ...) are not set: the router routes on the tier in the model
names Claude Code already sends (`claude-opus-4-8` -> opus), and names that do not start with
`claude-` would turn off Claude Code's per-model features. A user's own values pass through.
"""

from __future__ import annotations

import contextlib
import enum
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import TextIO

import httpx

from router.server.config import ServerConfig
from router.server.term import spinner

PLACEHOLDER_TOKEN = "switchyard"
"""Sent when the router has no `server.auth_token` (it then accepts any key), so Claude Code has one."""
BASE_URL = "ANTHROPIC_BASE_URL"
TOKEN = "ANTHROPIC_AUTH_TOKEN"
DROPPED = ("ANTHROPIC_API_KEY",)
INSTALL_HINT = "install it with `npm install -g @anthropic-ai/claude-code` (or see docs/claude-code.md)"
START_TIMEOUT = 30.0
PROBE_TIMEOUT = 3.0
STOP_MARGIN = 5.0
LOG_NAME = "router-code.log"
ROUTER_OPTIONS_WITH_VALUE = ("--config",)
ROUTER_FLAGS = ("-h", "--help")


class LaunchError(Exception):
    """`router code` could not get a router to talk to; the message says why."""


class Found(enum.Enum):
    """What answers on the router's port."""

    ROUTER = "router"
    NOTHING = "nothing"
    OTHER = "other"


# -- pure: what Claude Code is told -----------------------------------------------------------


def client_host(host: str) -> str:
    """The address a client on this machine uses for a server bound to `host` (URL-ready)."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def router_url(server: ServerConfig) -> str:
    """The router's base URL as a client on this machine reaches it."""
    return f"http://{client_host(server.host)}:{server.port}"


def router_env(server: ServerConfig) -> dict[str, str]:
    """The variables that point Claude Code at the router: its URL and a key it accepts."""
    return {BASE_URL: router_url(server), TOKEN: server.auth_token or PLACEHOLDER_TOKEN}


def claude_env(environ: Mapping[str, str], server: ServerConfig) -> dict[str, str]:
    """`environ` with the router's variables set and keys that would be sent instead of its token left out."""
    env = {key: value for key, value in environ.items() if key not in DROPPED}
    env.update(router_env(server))
    return env


def code_arguments(argv: Sequence[str]) -> list[str]:
    """`router code ...` argv with a `--` after the router's own leading options, so everything else
    (`-p`, `--model`, even `--help` once Claude's arguments have begun) reaches `claude` unchanged.

    The router's options (`--config PATH`, `-h`) count only before the first other argument; an
    explicit `--` ends them too. Any other command's argv is returned as it is.
    """
    args = list(argv)
    if args[:1] != ["code"]:
        return args
    own, rest = ["code"], args[1:]
    while rest:
        head = rest[0]
        if head == "--":
            rest = rest[1:]
            break
        if head in ROUTER_FLAGS or any(head.startswith(f"{option}=") for option in ROUTER_OPTIONS_WITH_VALUE):
            own.append(rest.pop(0))
        elif head in ROUTER_OPTIONS_WITH_VALUE and len(rest) > 1:
            own.extend(rest[:2])
            rest = rest[2:]
        else:
            break
    return [*own, "--", *rest]


def exit_status(returncode: int) -> int:
    """A child's return code as a shell reports it: 128+N when signal N ended it."""
    return 128 - returncode if returncode < 0 else returncode


def log_tail(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of a log file ('' when it cannot be read)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# -- processes --------------------------------------------------------------------------------


def probe(url: str, timeout: float = PROBE_TIMEOUT) -> Found:
    """Whether a switchyard router answers `GET /health` at `url` (proxies ignored: it is local)."""
    try:
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            response = client.get(f"{url}/health")
    except httpx.ConnectError:
        return Found.NOTHING
    except httpx.HTTPError:
        return Found.OTHER
    try:
        ours = response.status_code == 200 and response.json().get("status") == "ok"
    except (ValueError, AttributeError):
        ours = False
    return Found.ROUTER if ours else Found.OTHER


def start_router(serve_args: Sequence[str], log_path: Path, environ: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """`router serve ARGS` in the background, in its own session, its output in `log_path`."""
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "router", *serve_args], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, env=dict(environ), start_new_session=True)


def wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path, out: TextIO,
               timeout: float = START_TIMEOUT) -> bool:
    """Wait until the router answers; True if the one answering is `process` (False: another, started
    meanwhile, holds the port). Raises `LaunchError` with the log's tail when it never does."""
    deadline = time.monotonic() + timeout
    with spinner(f"starting the router at {url} (log: {log_path})", out):
        while time.monotonic() < deadline:
            found = probe(url, timeout=1.0)
            if found is Found.ROUTER:
                return process.poll() is None
            if process.poll() is not None:
                break
            time.sleep(0.1)
    if process.poll() is None:
        stop_router(process, grace=1.0)
        why = f"did not answer at {url}/health within {timeout:g} s"
    else:
        why = f"exited with status {exit_status(process.returncode)}"
    tail = log_tail(log_path)
    raise LaunchError(f"`router serve` {why}; the end of its log ({log_path}):\n{tail}" if tail else
                      f"`router serve` {why}; its log ({log_path}) is empty")


def stop_router(process: subprocess.Popen[bytes], grace: float) -> None:
    """Ctrl-C for the router (it finishes open streams within its shutdown grace), then kill."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=grace + STOP_MARGIN)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_MARGIN)


def terminal_delivers_sigint() -> bool:
    """Whether a Ctrl-C typed now reaches our process group (and so `claude`, which shares it) directly."""
    for fd in (0, 1, 2):
        with contextlib.suppress(OSError):
            if os.isatty(fd):
                return os.tcgetpgrp(fd) == os.getpgrp()
    return False


def run_claude(command: Sequence[str], env: Mapping[str, str]) -> int:
    """Run `claude` in the foreground and return its exit status.

    A Ctrl-C typed at the terminal reaches `claude` by itself (same process group), and Claude
    Code decides what it means (clear the prompt, or quit on the second), so it is not passed on
    again; a SIGINT sent to this process alone, and SIGTERM or SIGHUP, are forwarded.
    """
    child: subprocess.Popen[bytes] | None = None
    from_terminal = terminal_delivers_sigint()

    def forward(signum: int, frame: FrameType | None) -> None:
        if child is not None and not (signum == signal.SIGINT and from_terminal):
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    signals = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {signum: signal.signal(signum, forward) for signum in signals}  # before the child exists: no gap
    try:
        child = subprocess.Popen(list(command), env=dict(env))
        return exit_status(child.wait())
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def launch(claude_args: Sequence[str], server: ServerConfig, serve_args: Sequence[str], log_path: Path,
           environ: Mapping[str, str] = os.environ, out: TextIO | None = None) -> int:
    """The whole of `router code`: find `claude`, make sure a router answers, run, clean up (notes on `out`,
    default stderr: stdout is Claude Code's)."""
    out = out if out is not None else sys.stderr
    binary = shutil.which("claude", path=environ.get("PATH"))
    if binary is None:
        print(f"router: Claude Code (`claude`) is not on PATH; {INSTALL_HINT}", file=out)
        return 127
    url = router_url(server)
    found = probe(url)
    if found is Found.OTHER:
        print(f"router: something that is not a switchyard router answers at {url}; free port {server.port} "
              "or set server.port in the config", file=out)
        return 1
    started: subprocess.Popen[bytes] | None = None
    if found is Found.NOTHING:
        process = start_router(serve_args, log_path, environ)
        try:
            ours = wait_ready(process, url, log_path, out)
        except LaunchError as exc:
            print(f"router: {exc}", file=out)
            return 1
        except BaseException:  # Ctrl-C while waiting: the router is in its own session, so stop it here
            stop_router(process, grace=1.0)
            raise
        started = process if ours else None
    if started is None:
        print(f"router: using the router already running at {url}", file=out, flush=True)
    try:
        return run_claude([binary, *claude_args], claude_env(environ, server))
    finally:
        if started is not None:
            stop_router(started, server.shutdown_grace)
