"""A third-party provider package works with no change to the core.

`examples/switchyard-echo` is pip-installed into a directory of its own, exactly as a user
would install a plugin, and found through its entry point: by `router plugins`, by
`router check`, by a real `router serve` answering the official SDK, and in-process through
the ASGI app for the error mapping.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest.mock import ANY

import anthropic
import httpx
import pytest

from router.server.app import create_app
from router.server.config import parse_config
from router.conversation import Message, Request, Signature, TextBlock, Thinking, ToolResultBlock, Usage
from router.events import (
    BlockStop,
    MessageStart,
    MessageStop,
    SignatureDelta,
    TextDelta,
    TextStart,
    ThinkingDelta,
    ThinkingStart,
    ToolInputDelta,
    ToolUseStart,
)
from router.server.plugins import AUTOLOAD_ENV
from router.server.runtime import Runtime
from tests.support.canonical import user
from tests.support.live import free_port

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "switchyard-echo"
RUN_CLI = "import sys; from router.server.cli import main; sys.exit(main(sys.argv[1:]))"
HAIKU = "claude-haiku-4-5-20251001"
START_TIMEOUT = 15.0

CONFIG = """\
server: {host: 127.0.0.1}
providers:
  echo: {prefix: "plugin says: "}
routes:
  - when: {tier: haiku}
    use: echo/echo-1
"""


# -- installing the example -----------------------------------------------------------------


@pytest.fixture(scope="module")
def echo_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example pip-installed with `--target`; built from a copy so the source tree stays clean."""
    base = tmp_path_factory.mktemp("switchyard-echo")
    source = base / "source"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = base / "site"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        *_isolation(),
        "--target",
        str(target),
        str(source),
    ]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"pip install failed:\n{result.stdout}\n{result.stderr}"
    return target


def _isolation() -> list[str]:
    """`--no-build-isolation` (offline) when this environment can build a wheel by itself.

    setuptools older than 70.1 builds wheels only with the `wheel` package installed; without
    it pip must fetch a build environment from the package index instead.
    """
    try:
        major, minor = (int(part) for part in metadata.version("setuptools").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return []
    return ["--no-build-isolation"] if (major, minor) >= (70, 1) or find_spec("wheel") else []


def plugin_env(target: Path) -> dict[str, str]:
    """This environment with the plugin importable and entry-point autoload on (conftest turns it off)."""
    env = {key: value for key, value in os.environ.items() if key not in (AUTOLOAD_ENV, "SWITCHYARD_CONFIG")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(target), env.get("PYTHONPATH"))))
    return env


def router_command(*args: str) -> list[str]:
    """The `router` console script, run by this interpreter."""
    return [sys.executable, "-c", RUN_CLI, *args]


def run_router(target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        router_command(*args),
        check=False,
        env=plugin_env(target),
        cwd=target.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write_config(directory: Path, text: str, name: str = "config.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


# -- the CLI ----------------------------------------------------------------------------------


def test_router_plugins_lists_the_installed_plugin(echo_target: Path) -> None:
    result = run_router(echo_target, "plugins")
    assert result.returncode == 0, result.stderr
    assert re.search(
        r"^(switchyard-echo|echo) 0\.1\.0 \(plugin\): providers echo$", result.stdout, re.MULTILINE
    ), result.stdout


def test_router_plugins_without_the_plugin_on_the_path(echo_target: Path) -> None:
    elsewhere = [entry for entry in sys.path if entry != str(echo_target)]
    if any(metadata.distributions(name="switchyard-echo", path=elsewhere)):
        pytest.skip("switchyard-echo is also installed in this environment itself")
    env = plugin_env(echo_target)
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    result = subprocess.run(
        router_command("plugins"), check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "providers echo" not in result.stdout


def test_router_check_accepts_a_config_using_the_plugin(echo_target: Path, tmp_path: Path) -> None:
    result = run_router(echo_target, "check", "--config", str(write_config(tmp_path, CONFIG)))
    assert result.returncode == 0, result.stderr
    assert "echo/echo-1" in result.stdout


@pytest.mark.parametrize(
    ("section", "where", "problem"),
    [
        ("{chunk_size: 0}", "providers.echo.chunk_size", "must be greater than 0"),
        ("{chunk_size: many}", "providers.echo.chunk_size", "expected an integer"),
        ("{fail_with: sometimes}", "providers.echo.fail_with", "expected one of"),
        ("{prefx: hi}", "providers.echo.prefx", "did you mean 'prefix'?"),
    ],
)
def test_router_check_reports_bad_plugin_settings_by_dotted_path(
    echo_target: Path, tmp_path: Path, section: str, where: str, problem: str
) -> None:
    config = write_config(tmp_path, CONFIG.replace('{prefix: "plugin says: "}', section))
    result = run_router(echo_target, "check", "--config", str(config))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{where}: " in result.stderr and problem in result.stderr, result.stderr


# -- the provider contract suite ----------------------------------------------------------------


def test_the_example_passes_the_provider_contract_suite(echo_target: Path) -> None:
    """The example's own tests (`router.testing.suite` with its harness) pass, run as its author would.

    A separate pytest, from a directory holding no package, so `switchyard_echo` comes from the
    installed copy and no fixture of this suite leaks in; the cases echo cannot script skip.
    """
    tests = echo_target.parent / "source" / "tests"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(tests), "-p", "no:cacheprovider", "-q", "-rs"],
        check=False,
        env=plugin_env(echo_target),
        cwd=echo_target.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    counts = dict((kind, int(n)) for n, kind in re.findall(r"(\d+) (passed|skipped|failed)", result.stdout))
    assert counts.get("passed", 0) >= 15 and "failed" not in counts, result.stdout
    assert "cannot script: broken-mid-stream" in result.stdout, result.stdout  # unsupported cases skip, by name


# -- a real server ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """A running `router serve` and where its output goes."""

    port: int
    stdout: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="module")
def served(echo_target: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`router serve` in a subprocess, on 127.0.0.1 only; always stopped at teardown."""
    directory = tmp_path_factory.mktemp("serve")
    config = write_config(directory, CONFIG)
    server = Served(free_port(), directory / "stdout.txt")
    command = router_command("serve", "--config", str(config), "--port", str(server.port))
    with server.stdout.open("w") as out, (directory / "stderr.txt").open("w") as err:
        process = subprocess.Popen(
            command, env=plugin_env(echo_target), cwd=directory, stdout=out, stderr=err
        )
    try:
        _wait_until_healthy(process, server, directory / "stderr.txt")
        yield server
    finally:
        _stop(process)


def _wait_until_healthy(process: subprocess.Popen[bytes], server: Served, stderr: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"router serve exited with {process.returncode}:\n{stderr.read_text()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"router serve did not answer /health within {START_TIMEOUT}s:\n{stderr.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def sdk(served: Served) -> Iterator[anthropic.Anthropic]:
    client = anthropic.Anthropic(base_url=served.url, api_key="x", max_retries=0)
    yield client
    client.close()


def test_banner_names_the_plugin_provider_and_how_to_use_it(served: Served) -> None:
    banner = served.stdout.read_text()
    assert re.search(r"^  echo\s+ok", banner, re.MULTILINE), banner
    assert "echo/echo-1" in banner
    assert f"ANTHROPIC_BASE_URL=http://127.0.0.1:{served.port} claude" in banner


def test_health_reports_the_plugin_provider(served: Served) -> None:
    health = httpx.get(f"{served.url}/health").json()
    assert health["providers"]["echo"]["ok"] is True


def test_sdk_message_is_echoed_by_the_plugin(sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(
        model=HAIKU, max_tokens=100, messages=[{"role": "user", "content": "hello there"}]
    )
    assert message.model == HAIKU
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "plugin says: hello there"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (3, 2)  # 11 chars / 4; 24 chars / 16


def test_sdk_stream_is_echoed_in_chunks(sdk: anthropic.Anthropic) -> None:
    text = "streaming through a third-party plugin"
    with sdk.messages.stream(
        model=HAIKU, max_tokens=100, messages=[{"role": "user", "content": text}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == f"plugin says: {text}"
    assert len(pieces) == 4  # 51 characters in chunks of 16
    assert final.content[0].text == f"plugin says: {text}"  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 4


def test_sdk_tool_call_comes_back_as_a_tool_use_block(sdk: anthropic.Anthropic) -> None:
    message = sdk.messages.create(
        model=HAIKU,
        max_tokens=100,
        tools=[{"name": "Bash", "description": "run a command", "input_schema": {"type": "object"}}],
        messages=[{"role": "user", "content": 'tool:Bash {"command": "ls"}'}],
    )
    assert message.stop_reason == "tool_use"
    [block] = message.content
    assert block.type == "tool_use"
    assert (block.name, block.input) == ("Bash", {"command": "ls"})
    assert block.id.startswith("toolu_")


def test_sdk_count_tokens_and_models_come_from_the_plugin(sdk: anthropic.Anthropic) -> None:
    counted = sdk.messages.count_tokens(model=HAIKU, messages=[{"role": "user", "content": "x" * 40}])
    assert counted.input_tokens == 10
    assert "echo/echo-1" in {model.id for model in sdk.models.list()}


# -- in-process: the pure translation and the error mapping -----------------------------------


@pytest.fixture(scope="module")
def echo(echo_target: Path) -> Iterator[ModuleType]:
    """`switchyard_echo`, imported from the pip-installed copy (and forgotten afterwards)."""
    sys.path.insert(0, str(echo_target))
    try:
        package = importlib.import_module("switchyard_echo")
        assert package.__file__ is not None and package.__file__.startswith(str(echo_target))
        yield package
    finally:
        sys.path.remove(str(echo_target))
        for name in [name for name in sys.modules if name.split(".")[0] == "switchyard_echo"]:
            del sys.modules[name]


def request(*messages: Message, thinking: Thinking | None = None) -> Request:
    return Request(model=HAIKU, messages=messages, max_tokens=100, thinking=thinking)


SIGNED = SignatureDelta(Signature("echo", "echo-1", ANY))  # minted by echo for echo-1; the value is a digest

TRANSLATIONS: list[tuple[str, Request, list[Any]]] = [
    (
        "text in chunks",
        request(user("abcdefgh")),
        [
            MessageStart("echo-1", Usage(2)),
            TextStart(),
            TextDelta("> abc"),
            TextDelta("defgh"),
            BlockStop(),
            MessageStop("end_turn", Usage(2, 2)),
        ],
    ),
    (
        "the last user turn, tool results included",
        request(
            user("first"),
            Message("assistant", (TextBlock("reply"),)),
            user(ToolResultBlock("call_1", (TextBlock("out"),))),
        ),
        [
            MessageStart("echo-1", Usage(4)),
            TextStart(),
            TextDelta("> out"),
            BlockStop(),
            MessageStop("end_turn", Usage(4, 1)),
        ],
    ),
    (
        "a tool call",
        request(user('tool:Read {"p": 1}')),
        [
            MessageStart("echo-1", Usage(5)),
            ToolUseStart("call_x", "Read"),
            ToolInputDelta('{"p":'),
            ToolInputDelta(" 1}"),
            BlockStop(),
            MessageStop("tool_use", Usage(5, 2)),
        ],
    ),
    (
        "bad JSON is plain text",
        request(user("tool:Read {")),
        [
            MessageStart("echo-1", Usage(3)),
            TextStart(),
            TextDelta("> too"),
            TextDelta("l:Rea"),
            TextDelta("d {"),
            BlockStop(),
            MessageStop("end_turn", Usage(3, 3)),
        ],
    ),
    (
        "thinking first, signed by echo",
        request(user("hi"), thinking=Thinking("enabled", 1024)),
        [
            MessageStart("echo-1", Usage(1)),
            ThinkingStart(),
            ThinkingDelta("The user wrote 2 characters; I will echo them."),
            SIGNED,
            BlockStop(),
            TextStart(),
            TextDelta("> hi"),
            BlockStop(),
            MessageStop("end_turn", Usage(1, 2)),
        ],
    ),
]


@pytest.mark.parametrize(
    ("case", "given", "expected"), TRANSLATIONS, ids=[case for case, _, _ in TRANSLATIONS]
)
def test_translate_is_pure_and_table_driven(
    echo: ModuleType, case: str, given: Request, expected: list[Any]
) -> None:
    translate = importlib.import_module("switchyard_echo.translate")
    events = translate.reply_events(given, model="echo-1", prefix="> ", chunk_size=5, call_id="call_x")
    assert list(events) == expected


async def post(echo: ModuleType, settings: dict[str, Any], payload: dict[str, Any]) -> httpx.Response:
    """One request through the router's ASGI app with the echo provider configured by `settings`."""
    classes = {"echo": echo.EchoProvider}
    data = {
        "server": {"retries": 0},
        "providers": {"echo": settings},
        "routes": [{"when": {"tier": "haiku"}, "use": "echo/echo-1"}],
    }
    runtime = Runtime(parse_config(data, classes, env={}), classes)
    transport = httpx.ASGITransport(app=create_app(runtime))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            return await client.post("/v1/messages", json=payload)
    finally:
        await runtime.aclose()


def body(text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"model": HAIKU, "max_tokens": 100, "messages": [{"role": "user", "content": text}], **extra}


@pytest.mark.parametrize(
    ("fail_with", "status", "error_type", "message"),
    [
        ("rate_limit", 429, "rate_limit_error", "echo: simulated rate limit"),
        ("overloaded", 529, "overloaded_error", "echo: simulated overload"),
        ("context", 400, "invalid_request_error", "prompt is too long"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_provider_errors_become_anthropic_errors(
    echo: ModuleType, fail_with: str, status: int, error_type: str, message: str, stream: bool
) -> None:
    response = await post(echo, {"fail_with": fail_with}, body(stream=stream))
    assert response.status_code == status
    error = response.json()["error"]
    assert error["type"] == error_type and error["message"].startswith(message)
    assert response.headers.get("retry-after") == ("7" if fail_with == "rate_limit" else None)


async def test_thinking_is_signed_and_accepted_back(echo: ModuleType) -> None:
    first = (await post(echo, {}, body("hi", thinking={"type": "enabled", "budget_tokens": 1024}))).json()
    thinking, text = first["content"]
    assert thinking["type"] == "thinking" and thinking["signature"].startswith("swy1.")
    assert text == {"type": "text", "text": "echo: hi"}
    follow_up = {
        "model": HAIKU,
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": first["content"]},
            {"role": "user", "content": "again"},
        ],
    }
    second = await post(echo, {}, follow_up)
    assert second.status_code == 200
    assert second.json()["content"] == [{"type": "text", "text": "echo: again"}]
