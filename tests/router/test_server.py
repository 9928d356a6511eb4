"""The router on a real socket: pings, client disconnects, Ctrl-C, and `router serve` as a process."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from router.events import MessageStart, TextDelta, TextStart
from router.server.runtime import Runtime
from tests.conftest import CLASSES, body, make_config
from tests.support.live import free_port, router_env, router_process, served, wait_ready
from tests.support.scripted import ScriptedProvider, Sleep, Step, text_reply
from tests.support.sse import checked


def scripted(runtime: Runtime) -> ScriptedProvider:
    provider = runtime.providers["scripted"]
    assert isinstance(provider, ScriptedProvider)
    return provider


def wait_for(condition: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_pings_arrive_on_the_wire_while_the_upstream_is_silent() -> None:
    runtime = Runtime(make_config(ping_interval=0.2), CLASSES)
    scripted(runtime).queue([MessageStart("m"), Sleep(0.7), *text_reply("late")[1:]])
    with served(runtime) as (url, _):
        response = httpx.post(f"{url}/v1/messages", json=body(stream=True), timeout=10)
    events = checked(response.text)
    names = [name for name, _ in events]
    assert names.count("ping") >= 2
    assert names.index("ping") < names.index("content_block_start")


def test_client_disconnect_cancels_the_upstream_request() -> None:
    runtime = Runtime(make_config(), CLASSES)
    provider = scripted(runtime)
    provider.queue([MessageStart("m"), TextStart(), TextDelta("first"), Sleep(60), TextDelta("never")])
    with served(runtime) as (url, _):
        with httpx.stream("POST", f"{url}/v1/messages", json=body(stream=True), timeout=10) as response:
            for line in response.iter_lines():
                if "content_block_delta" in line:
                    break
        assert wait_for(lambda: provider.closed_streams == 1), "upstream stream was not closed"


async def test_ctrl_c_lets_short_streams_finish_and_ends_long_ones_with_an_error_event() -> None:
    runtime = Runtime(make_config(shutdown_grace=0.5), CLASSES)
    provider = scripted(runtime)
    long_script: list[Step] = [MessageStart("m"), TextStart(), TextDelta("a"), Sleep(60)]
    short_script: list[Step] = [MessageStart("m"), Sleep(0.2), *text_reply("done")[1:]]
    with served(runtime) as (url, server):
        async with httpx.AsyncClient(base_url=url, timeout=15) as client:
            provider.queue(long_script)
            long_request = asyncio.create_task(client.post("/v1/messages", json=body(stream=True)))
            await asyncio.sleep(0.3)
            provider.queue(short_script)
            short_request = asyncio.create_task(client.post("/v1/messages", json=body(stream=True)))
            await asyncio.sleep(0.05)
            server.handle_exit(signal.SIGINT, None)
            long_response, short_response = await asyncio.wait_for(asyncio.gather(long_request, short_request), 10)
    assert checked(short_response.text)[-1][0] == "message_stop"
    last = checked(long_response.text)[-1]
    assert last[0] == "error" and last[1]["error"]["type"] == "overloaded_error"
    assert "shutting down" in last[1]["error"]["message"]
    assert provider.closed_streams == 2


@pytest.fixture
def empty_home(tmp_path: Path) -> dict[str, str]:
    return router_env(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "xdg"), XDG_STATE_HOME=str(tmp_path / "st"))


def test_router_serve_without_config_serves_the_builtin_default(tmp_path: Path, empty_home: dict[str, str]) -> None:
    port = free_port()
    with router_process(["serve", "--port", str(port)], tmp_path, empty_home) as process:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url)
        assert httpx.head(url).status_code == 200
        assert httpx.get(url).status_code == 200
        response = httpx.post(f"{url}/v1/messages", json=body("claude-opus-4-8"))
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert f"listening on {url}" in out
    assert "none found" in out and str(tmp_path / "config.yaml") in out  # says which file it would read
    assert "codex" in out and f"ANTHROPIC_BASE_URL={url} claude" in out
    assert "tier=opus" in out  # the routing table
    error = response.json()
    assert error["type"] == "error" and "codex" in error["error"]["message"]
    assert "Traceback" not in err
    assert "status=" in err and "tier=opus" in err  # the access-log line


def test_router_check_reports_config_errors_with_a_dotted_path(tmp_path: Path, empty_home: dict[str, str]) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("server: {port: 99999}\nroutes: []\n")
    result = subprocess.run(
        [*_router(), "check", "--config", str(config)], cwd=tmp_path, env=empty_home, text=True,
        capture_output=True, timeout=60,
    )
    assert result.returncode == 2
    assert "server.port" in result.stderr and "Traceback" not in result.stderr


def test_router_serve_refuses_a_missing_config_file(tmp_path: Path, empty_home: dict[str, str]) -> None:
    result = subprocess.run([*_router(), "serve", "--config", str(tmp_path / "nope.yaml")], cwd=tmp_path,
                            env=empty_home, text=True, capture_output=True, timeout=60)
    assert result.returncode == 2 and "nope.yaml" in result.stderr


def _router() -> list[str]:
    import sys

    return [sys.executable, "-m", "router"]
