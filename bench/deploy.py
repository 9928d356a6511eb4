"""Everything the benchmark starts: the fake upstreams, `router serve` in front of them, and the bare relay.

The router runs exactly as a user runs it, as its own process (`router serve --config C --port P`),
with a generated config pointing every provider's base URL at its fake and fake credentials in a
temporary folder (HOME and the XDG folders point there too, so no real login is ever read):

- codex: an `auth.json` like the Codex CLI's, holding unsigned JWTs that expire in 2100;
- openrouter: an API key, given as `${OPENROUTER_API_KEY}` the way the docs recommend;
- kiro: a Kiro IDE social-login token file (`kiro-auth-token.json`) expiring in 2099.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

FAR_FUTURE = 4_102_444_800  # 2100-01-01
OPENROUTER_KEY = "sk-or-v1-bench-0123456789abcdef0123456789abcdef"


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


def write_credentials(folder: Path) -> dict[str, Path]:
    """Fake credential files for every provider, readable by the owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    auth = {"chatgpt_account_id": "acct-bench", "chatgpt_plan_type": "pro"}
    codex = folder / "codex-auth.json"
    codex.write_text(json.dumps({
        "auth_mode": "chatgpt", "OPENAI_API_KEY": None, "last_refresh": "2026-11-01T00:00:00Z",
        "tokens": {
            "id_token": _jwt({"email": "bench@example.com", "exp": FAR_FUTURE, "https://api.openai.com/auth": auth}),
            "access_token": _jwt({"exp": FAR_FUTURE, "https://api.openai.com/auth": auth}),
            "refresh_token": "rt-bench", "account_id": "acct-bench",
        },
    }, indent=2))
    kiro = folder / "kiro-auth-token.json"
    kiro.write_text(json.dumps({
        "accessToken": "kiro-bench-access-token", "refreshToken": "kiro-bench-refresh-token",
        "expiresAt": "2099-12-31T00:00:00.000Z", "region": "us-east-1", "authMethod": "social",
        "provider": "Github", "profileArn": "arn:aws:codewhisperer:us-east-1:000000000000:profile/BENCH",
    }, indent=2))
    key = folder / "openrouter.key"
    key.write_text(OPENROUTER_KEY + "\n")
    for path in (codex, kiro, key):
        path.chmod(0o600)
    return {"codex": codex, "kiro": kiro, "openrouter": key}


def write_config(path: Path, ports: dict[str, int], credentials: dict[str, Path], log_level: str) -> Path:
    """The router config: each provider's base URL at its fake, tiers spread over the providers."""
    codex, openrouter, kiro = (f"http://127.0.0.1:{ports[p]}" for p in ("codex", "openrouter", "kiro"))
    path.write_text(f"""\
server:
  host: 127.0.0.1
  log_level: {log_level}
providers:
  codex:
    base_url: {codex}
    token_url: {codex}/oauth/token
    auth_file: {credentials["codex"]}
  openrouter:
    api_key: "${{OPENROUTER_API_KEY}}"
    base_url: {openrouter}
  kiro:
    api_url: {kiro}
    social_refresh_url: {kiro}/refreshToken
    token_file: {credentials["kiro"]}
routes:
  - when: {{tier: opus}}
    use: codex/gpt-5.5
  - when: {{tier: sonnet}}
    use: openrouter/anthropic/claude-sonnet-4.5
  - when: {{tier: haiku}}
    use: kiro/claude-sonnet-4.5
default: {{use: codex/gpt-5.5}}
""")
    return path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    """A plain GET on 127.0.0.1 (no proxies, no client library): (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nconnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data and (chunk := sock.recv(1 << 16)):
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = _content_length(head)
        while (len(body) < length if length >= 0 else True) and (chunk := sock.recv(1 << 16)):
            body += chunk
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunk(body)
    return status, body


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return -1


def _unchunk(data: bytes) -> bytes:
    out, pos = b"", 0
    while True:
        end = data.index(b"\r\n", pos)
        size = int(data[pos:end].split(b";")[0], 16)
        if size == 0:
            return out
        out += data[end + 2:end + 2 + size]
        pos = end + 2 + size + 2


@dataclass
class Fakes:
    """The fake upstream process and its ports."""

    process: subprocess.Popen[bytes]
    ports: dict[str, int]

    @classmethod
    def start(cls) -> Fakes:
        process = subprocess.Popen([sys.executable, "-m", "bench.fakes"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, cwd=Path(__file__).resolve().parent.parent)
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the fake upstreams did not start")
        info = json.loads(line)
        return cls(process, {k: int(v) for k, v in info.items() if k != "pid"})

    @property
    def pid(self) -> int:
        return self.process.pid

    def configure(self, mode: str, events: int, interval: float) -> None:
        status, body = http_get(self.ports["codex"], f"/_bench/config?mode={mode}&events={events}&interval={interval}")
        if status != 200:
            raise RuntimeError(f"configuring the fakes failed: {body!r}")

    def last_request(self, provider: str) -> bytes:
        """The raw request the router last sent to this provider's fake."""
        status, body = http_get(self.ports[provider], "/_bench/last")
        if status != 200 or not body:
            raise RuntimeError(f"the {provider} fake has recorded no request")
        return body

    def stats(self, provider: str) -> dict[str, int]:
        """Requests served and connections accepted so far by this provider's fake."""
        status, body = http_get(self.ports[provider], "/_bench/stats")
        data: dict[str, int] = json.loads(body) if status == 200 else {}
        return data

    def cuts(self, provider: str) -> list[float]:
        """When the router closed this fake's connections mid-reply since the last call (monotonic s)."""
        status, body = http_get(self.ports[provider], "/_bench/cuts")
        return [float(t) for t in json.loads(body)["cuts"]] if status == 200 else []

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


@dataclass
class Router:
    """`router serve` as a child process, its log in a file."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    log_file: IO[bytes]
    log_offset: int = 0
    exit_note: str = ""
    started_in: float = 0.0
    command: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, config: Path, home: Path, log_path: Path) -> Router:
        port = free_port()
        script = Path(sys.executable).with_name("router")
        command = ([str(script)] if script.exists() else [sys.executable, "-m", "router"])
        command += ["serve", "--config", str(config), "--port", str(port)]
        return cls._launch(command, port, home, log_path)

    @classmethod
    def start_relay(cls, home: Path, log_path: Path) -> Router:
        """The bare relay (`bench.relay`), run and measured the same way as the router."""
        port = free_port()
        return cls._launch([sys.executable, "-m", "bench.relay", "--port", str(port)], port, home, log_path,
                           cwd=Path(__file__).resolve().parent.parent)

    @classmethod
    def _launch(cls, command: list[str], port: int, home: Path, log_path: Path, cwd: Path | None = None) -> Router:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENROUTER_", "KIRO_", "CODEX_"))}
        env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_STATE_HOME=str(home / "state"),
                   XDG_DATA_HOME=str(home / "data"), OPENROUTER_API_KEY=(home / "creds" / "openrouter.key")
                   .read_text().strip(), SWITCHYARD_NO_PLUGIN_AUTOLOAD="1", PYTHONUNBUFFERED="1")
        for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
            env.pop(proxy, None)
        log_file = log_path.open("wb")
        started = time.perf_counter()
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                   env=env, cwd=cwd or home)
        router = cls(process, port, log_path, log_file, command=command)
        router.wait_ready()
        router.started_in = time.perf_counter() - started
        return router

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"router exited at start-up:\n{self.log_path.read_text()[-3000:]}")
            try:
                if http_get(self.port, "/health", timeout=1.0)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"router not ready in {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def new_log_lines(self) -> list[str]:
        """Log lines written since the last call."""
        self.log_file.flush()
        with self.log_path.open("rb") as handle:
            handle.seek(self.log_offset)
            data = handle.read()
        self.log_offset += len(data)
        return data.decode("utf-8", "replace").splitlines()

    def stop(self, grace: float = 20.0) -> None:
        """Ctrl-C (SIGINT) as a user would, then wait; note it when the router has to be killed."""
        if self.process.poll() is None:
            started = time.perf_counter()
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=grace)
                self.exit_note = f"exited {self.process.returncode} {time.perf_counter() - started:.2f}s after SIGINT"
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
                self.exit_note = f"did not exit within {grace}s of SIGINT; killed"
        self.log_file.close()
