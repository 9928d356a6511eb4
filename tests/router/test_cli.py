"""The `router` subcommands other than serve, run in-process with the scripted test plugin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from router.server import cli
from router.server.cooldowns import Cooldowns, SqliteStore, state_file
from router.server.runtime import state_dir
from router.server.plugins import make_plugin_manager
from tests.conftest import CONFIG
from tests.support import scripted


@pytest.fixture(autouse=True)
def with_scripted_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    def pm(**kwargs: Any) -> Any:
        return make_plugin_manager(builtins=(), extra=[scripted], autoload=False)

    monkeypatch.setattr(cli, "make_plugin_manager", pm)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    return path


def test_check_prints_the_routing_table(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "config is valid" in out
    assert "tier=opus" in out and "scripted/big-model:high" in out and "other/backup-model" in out
    assert out.index("tier=opus") < out.index("default")


def test_check_fails_with_a_dotted_path_and_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("routes:\n  - when: {tier: opus}\n    use: scripted/x\n    fallbak: [other/y]\n")
    assert cli.main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "routes[0].fallbak" in err and "did you mean 'fallback'" in err


def test_unknown_provider_in_a_route_names_the_installed_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("routes:\n  - when: {tier: opus}\n    use: scripted2/x\n")
    assert cli.main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "routes[0].use" in err and "scripted2" in err and "scripted" in err


def test_plugins_lists_plugins_with_versions_and_providers(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "providers other, scripted" in out and "0.1.0" in out


def test_models_lists_each_providers_models(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["models", "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "scripted/big-model  context 200000" in out and "other:" in out


def test_status_shows_credentials(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "scripted" in out and "test provider 'primary'" in out


def test_status_is_nonzero_when_a_provider_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SWITCHYARD_CONFIG", raising=False)
    assert cli.main(["status"]) == 1  # built-in default: codex, not installed here
    out = capsys.readouterr().out
    assert "none found" in out and "codex" in out and "MISSING" in out


def test_bad_port_on_the_command_line_is_a_config_error(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--config", str(config_file), "--port", "70000"]) == 2
    assert "--port: must be between 1 and 65535" in capsys.readouterr().err


def test_login_runs_the_providers_flow_with_the_options(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["login", "scripted", "--device", "--config", str(config_file)]) == 0
    assert "signed in to scripted (device=True, import=None, force=False)" in capsys.readouterr().out
    assert cli.main(["login", "other", "--import", "opencode", "--force", "--config", str(config_file)]) == 0
    assert "signed in to other (device=False, import=opencode, force=True)" in capsys.readouterr().out


def test_login_failures_and_unsupported_logout_are_reported(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["login", "scripted", "--import", "nowhere", "--config", str(config_file)]) == 1
    assert "login failed: no login found in nowhere" in capsys.readouterr().err
    assert cli.main(["logout", "scripted", "--config", str(config_file)]) == 2
    assert "has no logout" in capsys.readouterr().err
    assert cli.main(["login", "nosuch", "--config", str(config_file)]) == 2
    assert "unknown provider 'nosuch'" in capsys.readouterr().err


def test_status_adds_plan_usage_where_a_provider_reports_it(config_file: Path, capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    async def report(self: object) -> str:
        return "42 of 50 requests used this month"

    monkeypatch.setattr(scripted.OtherProvider, "usage_report", report)
    assert cli.main(["status", "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "usage: 42 of 50 requests used this month" in out
    assert out.count("usage:") == 1  # the scripted provider reports none


def test_a_named_login_joins_the_pool_until_logged_out(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["login", "scripted", "--account", "work", "--config", str(config_file)]) == 0
    assert "account 'work' of scripted stored" in capsys.readouterr().out
    assert cli.main(["accounts", "--config", str(config_file)]) == 0
    listing = capsys.readouterr().out
    assert "scripted/default" in listing and "scripted/work" in listing
    assert cli.main(["check", "--config", str(config_file)]) == 0
    assert "scripted     default, work  (strategy sticky)" in capsys.readouterr().out

    assert cli.main(["logout", "scripted", "--account", "work", "--config", str(config_file)]) == 0
    assert cli.main(["accounts", "--config", str(config_file)]) == 0
    assert "scripted/work" not in capsys.readouterr().out


def test_an_account_name_must_be_a_plain_label(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["login", "scripted", "--account", "../escape", "--config", str(config_file)]) == 2
    assert "--account: expected a name" in capsys.readouterr().err


def test_accounts_clear_lifts_a_cooldown_a_running_router_would_follow(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = SqliteStore(state_file(state_dir()))
    serving = Cooldowns(store)  # as the serving router holds it
    serving.strike("scripted", "default", None, retry_after=20 * 86400, reason="monthly credits used up")
    serving.strike("scripted", "default", "big-model", retry_after=600, reason="no capacity")
    assert cli.main(["accounts", "--config", str(config_file)]) == 0
    assert "cooling" in capsys.readouterr().out

    assert cli.main(["accounts", "--clear", "scripted", "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "cleared scripted/default: was cooling: monthly credits used up" in out
    assert "cleared scripted/default (big-model): was cooling: no capacity" in out
    assert "cooling" not in out.split("no capacity", 1)[1]  # the listing that follows shows it ok
    assert store.load()[0] == []
    assert serving.snapshot() == []  # the other process follows the shared state file

    assert cli.main(["accounts", "--clear", "scripted", "--account", "default", "--config", str(config_file)]) == 0
    assert "nothing to clear: scripted/default was not cooling down" in capsys.readouterr().out
    store.close()


def test_accounts_clear_names_what_it_could_not_find(config_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["accounts", "--clear", "nosuch", "--config", str(config_file)]) == 2
    assert "no provider 'nosuch' is configured (configured: " in capsys.readouterr().err
    assert cli.main(["accounts", "--clear", "scripted", "--account", "work", "--config", str(config_file)]) == 2
    assert "scripted has no account 'work' (accounts: default)" in capsys.readouterr().err


def test_a_rule_naming_a_missing_account_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.replace("routes:", "routes:\n  - when: {tier: haiku}\n    use: scripted/small\n"
                                   "    accounts: [work]", 1))
    assert cli.main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    line = path.read_text().splitlines().index("    accounts: [work]") + 1
    assert f"{path}:{line}:" in err and "no account 'work'" in err and "accounts of scripted: default" in err
