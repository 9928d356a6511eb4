"""Colour and the spinner: escape codes only on a terminal, never with NO_COLOR, nothing drawn for pipes."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from router.server import cli, term
from router.server.plugins import make_plugin_manager
from tests.conftest import CONFIG
from tests.support import scripted


class Tty(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("env", "tty", "coloured"), [
    ({}, True, True),
    ({}, False, False),
    ({"NO_COLOR": "1"}, True, False),
    ({"NO_COLOR": ""}, True, True),  # the convention: set *and non-empty*
    ({"TERM": "dumb"}, True, False),
    ({"FORCE_COLOR": "1"}, False, True),
    ({"FORCE_COLOR": "0"}, False, False),
    ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, True, False),
])
def test_colour_follows_the_terminal_and_the_conventions(env: dict[str, str], tty: bool, coloured: bool) -> None:
    stream = Tty() if tty else io.StringIO()
    text = term.paint("ok", "green", stream, env)
    assert ("\x1b[" in text) is coloured
    assert text == ("\x1b[32mok\x1b[0m" if coloured else "ok")


def test_state_words_are_green_yellow_or_red(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert term.state(True, "ok", Tty()) == "\x1b[32mok\x1b[0m"
    assert term.state(False, "cooling", Tty(), warn=True) == "\x1b[33mcooling\x1b[0m"
    assert term.state(False, "MISSING", Tty()) == "\x1b[31mMISSING\x1b[0m"


def test_the_spinner_draws_nothing_on_a_pipe() -> None:
    stream = io.StringIO()
    with term.spinner("waiting", stream, delay=0) as spin:
        time.sleep(0.35)
        spin.say("a line", out=stream)
    assert stream.getvalue() == "a line\n"


def test_the_spinner_spins_on_a_terminal_and_clears_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    stream = Tty()
    with term.spinner("waiting", stream, delay=0):
        time.sleep(0.35)
    written = stream.getvalue()
    assert "| waiting" in written and "/ waiting" in written
    assert written.endswith("\r\x1b[K")  # the line is gone once the wait is over


def test_with_no_color_the_spinner_uses_no_escape_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    stream = Tty()
    with term.spinner("waiting", stream, delay=0) as spin:
        time.sleep(0.25)
        spin.say("between", out=stream)
        time.sleep(0.25)
    written = stream.getvalue()
    assert "waiting" in written and "between\n" in written and "\x1b" not in written
    assert written.endswith("\r" + " " * len("| waiting") + "\r")


def test_a_quick_wait_is_never_drawn() -> None:
    stream = Tty()
    with term.spinner("waiting", stream, delay=5):
        pass
    assert stream.getvalue() == ""


# -- the commands -----------------------------------------------------------------------------


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(cli, "make_plugin_manager",
                        lambda **kwargs: make_plugin_manager(builtins=(), extra=[scripted], autoload=False))
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    return path


@pytest.mark.parametrize("command", ["status", "accounts", "models"])
def test_piped_output_has_no_escape_codes(config_file: Path, command: str, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FORCE_COLOR", "")
    assert cli.main([command, "--config", str(config_file)]) == 0
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out + captured.err and "\r" not in captured.out + captured.err
    assert "scripted" in captured.out


def test_status_on_a_terminal_is_coloured_and_plain_with_no_color(config_file: Path, tmp_path: Path) -> None:
    """`router status` under a real pseudo-terminal: green `ok`; NO_COLOR turns every escape off."""
    script = ("import sys; from router.server import cli; from router.server.plugins import make_plugin_manager; "
              "from tests.support import scripted; "
              "cli.make_plugin_manager = "
              "lambda **k: make_plugin_manager(builtins=(), extra=[scripted], autoload=False); "
              f"sys.exit(cli.main(['status', '--config', {str(config_file)!r}]))")
    for no_color, expect_escapes in (("", True), ("1", False)):
        env = {**os.environ, "NO_COLOR": no_color, "TERM": "xterm", "FORCE_COLOR": "",
               "SWITCHYARD_STATE_DIR": str(tmp_path / "state")}
        leader, follower = pty.openpty()
        process = subprocess.Popen([sys.executable, "-c", script], stdin=follower, stdout=follower, stderr=follower,
                                   env=env, cwd=Path(__file__).resolve().parents[2])
        os.close(follower)
        output = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the pty reports EIO once the child has gone
                break
            if not chunk:
                break
            output += chunk
        os.close(leader)
        assert process.wait(timeout=30) == 0, output
        text = output.decode()
        assert "scripted" in text
        assert ("\x1b[32mok\x1b[0m" in text) is expect_escapes
        assert ("\x1b" in text) is expect_escapes
