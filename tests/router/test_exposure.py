"""`router serve` on an address other machines can reach needs `server.auth_token`, or an explicit,
loudly logged `--insecure-no-auth`.

The refusal happens before anything binds, so these tests never listen anywhere but on
127.0.0.1: the in-process ones swap uvicorn's server for a stand-in that records what it was
asked to bind, and the loopback case starts `router serve` for real.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.server import cli
from router.server.config import is_loopback
from router.server.plugins import make_plugin_manager
from tests.support import scripted
from tests.support.live import router_env, router_serving

CONFIG = "providers: {scripted: {label: primary}}\ndefault: {use: scripted/m}\n"
TOKEN_HINT = "server.auth_token"


class StandIn:
    """Takes uvicorn's place in `serve_command`: records the host it would bind, binds nothing."""

    made: list[StandIn] = []

    def __init__(self, config: Any, lifecycle: Any) -> None:
        self.config = config
        self.started = False
        StandIn.made.append(self)

    def run(self) -> None:
        self.started = True
        asyncio.run(self.config.app.state.runtime.aclose())


@pytest.fixture(autouse=True)
def in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The scripted plugin, the stand-in server, and the root logger put back after `configure_logging`."""
    def pm(**kwargs: Any) -> Any:
        return make_plugin_manager(builtins=(), extra=[scripted], autoload=False)

    monkeypatch.setattr(cli, "make_plugin_manager", pm)
    monkeypatch.setattr(cli, "_Server", StandIn)
    StandIn.made = []
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    saved = root.handlers[:], root.level, access.disabled
    yield
    root.handlers[:], _, access.disabled = saved
    root.setLevel(saved[1])


def config_file(tmp_path: Path, server: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text((f"server: {server}\n" if server else "") + CONFIG)
    return path


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1", "[::1]", "localhost", "LocalHost"])
def test_loopback_hosts_stay_on_this_machine(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "fe80::1", "router.example.com"])
def test_other_hosts_are_reachable_from_elsewhere(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(("args", "server", "where"), [
    (["--host", "0.0.0.0"], "", "--host"),
    (["--host", "::"], "", "--host"),
    ([], "{host: 192.168.1.20}", "server.host"),
    ([], '{host: 0.0.0.0, auth_token: "${ROUTER_TOKEN:-}"}', "server.host"),  # an unset variable is no token
])
def test_an_exposed_host_without_a_token_refuses_to_start(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          args: list[str], server: str, where: str) -> None:
    code = cli.main(["serve", "--config", str(config_file(tmp_path, server)), *args])
    assert code == 2
    captured = capsys.readouterr()
    assert f"router: config error: {where}: " in captured.err
    assert "can be reached from other machines" in captured.err
    assert f"set {TOKEN_HINT} in the config" in captured.err and "${SWITCHYARD_AUTH_TOKEN}" in captured.err
    assert "--insecure-no-auth" in captured.err
    assert StandIn.made == [] and "listening on" not in captured.out  # refused before the server or banner


def test_the_override_starts_anyway_and_warns_on_every_start(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = config_file(tmp_path)
    for _ in range(2):
        assert cli.main(["serve", "--config", str(path), "--host", "0.0.0.0", "--insecure-no-auth"]) == 0
        err = capsys.readouterr().err
        (line,) = [line for line in err.splitlines() if "--insecure-no-auth" in line]
        assert "WARNING" in line and "serving on 0.0.0.0 with no server.auth_token" in line
        assert "port 8765" in line and "anyone who can reach" in line
    assert [(s.config.host, s.started) for s in StandIn.made] == [("0.0.0.0", True)] * 2


def test_the_warning_survives_a_quiet_log_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["serve", "--config", str(config_file(tmp_path)), "--host", "::", "--insecure-no-auth", "--log-level", "error"]
    assert cli.main(args) == 0
    assert "router: WARNING: serving on :: with no server.auth_token" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "server"), [
    (["--host", "0.0.0.0"], "{auth_token: s3cret-token}"),
    ([], "{host: 192.168.1.20, auth_token: s3cret-token}"),
    (["--host", "localhost"], ""),
    (["--host", "::1", "--insecure-no-auth"], ""),  # nothing to warn about on loopback
])
def test_a_token_or_a_loopback_host_starts_without_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             args: list[str], server: str) -> None:
    assert cli.main(["serve", "--config", str(config_file(tmp_path, server)), *args]) == 0
    captured = capsys.readouterr()
    assert "auth_token" not in captured.err and "s3cret-token" not in captured.err + captured.out
    assert len(StandIn.made) == 1 and StandIn.made[0].started and "listening on" in captured.out


def test_loopback_without_a_token_really_serves(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("providers: {openrouter: {api_key: sk-or-v1-unused, base_url: 'http://127.0.0.1:9'}}\n"
                    "default: {use: openrouter/some/model}\n")
    env = router_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg"), XDG_STATE_HOME=str(tmp_path / "st"))
    with router_serving(path, tmp_path, env) as serving:
        assert httpx.get(f"{serving.url}/health", timeout=5, trust_env=False).status_code == 200
        serving.process.terminate()
        _, err = serving.process.communicate(timeout=10)
    assert "--insecure-no-auth" not in err and "config error" not in err
