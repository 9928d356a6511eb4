"""The `router` command: serve, check a config, list plugins, models and credential status."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import shutil
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

import pluggy
import uvicorn

from router import __version__
from router.server.app import create_app
from router.quota import QuotaWindow
from router.server.config import ACCOUNT_NAME, Config, builtin_default, config_candidates, find_config, load_config
from router.server.config import ServerConfig, is_loopback
from router.errors import ConfigError, RouterError
from router.server.logs import configure_logging
from router.server.plugins import PluginLoadError, make_plugin_manager, plugin_infos, provider_classes
from router.provider import DEFAULT_ACCOUNT, LoginOptions, Provider
from router.server.runtime import Lifecycle, Runtime, account_dir, state_dir
from router.server import statusline
from router.server.entry import STATUSLINE
from router.server import usage_report
from router.server.ledger import GROUPINGS, Ledger, ledger_file
from router.server import claude_settings, term
from router.server.launcher import LOG_NAME, code_arguments, launch
from router.toolkit.failures import describe_wait
from router.settings import InvalidField, build_settings

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
INSECURE_FLAG = "--insecure-no-auth"


def main(argv: Sequence[str] | None = None) -> int:
    """The `router` command (the console script enters through `router.server.entry`)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == [STATUSLINE]:
        return statusline.main(arguments[1:])
    args = _parser().parse_args(code_arguments(arguments))
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"router: config error: {exc}", file=sys.stderr)
        return 2
    except PluginLoadError as exc:
        print(f"router: plugin error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="router", description="Anthropic Messages API router over pluggable backends.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the Anthropic API on this machine")
    _config_option(serve)
    serve.add_argument("--host", help="address to bind (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default from config: 8765)")
    serve.add_argument("--log-level", choices=LOG_LEVELS, help="log verbosity; debug logs every event")
    serve.add_argument(INSECURE_FLAG, action="store_true",
                       help="serve a non-loopback --host even without server.auth_token (anyone who can reach "
                            "the port can then use your logins)")
    serve.set_defaults(handler=serve_command)

    check = commands.add_parser("check", help="validate a config file and show its routing table")
    _config_option(check)
    check.set_defaults(handler=check_command)

    plugins = commands.add_parser("plugins", help="list loaded plugins and the providers they register")
    plugins.set_defaults(handler=plugins_command)

    models = commands.add_parser("models", help="list the models each configured provider offers")
    _config_option(models)
    models.set_defaults(handler=models_command)

    login = commands.add_parser("login", help="sign in to a provider (e.g. `router login codex`)")
    login.add_argument("provider", help="provider name")
    login.add_argument("--device", action="store_true", help="no browser here: sign in with a device code")
    login.add_argument("--import", dest="import_from", metavar="TOOL",
                       help="take over the login another tool keeps (e.g. opencode)")
    login.add_argument("--force", action="store_true", help="replace an existing login")
    _account_option(login, "store the login as this named account (default: the provider's own)")
    _config_option(login)
    login.set_defaults(handler=login_command)

    logout = commands.add_parser("logout", help="forget a provider's stored login")
    logout.add_argument("provider", help="provider name")
    _account_option(logout, "forget this named account (default: the provider's own login)")
    _config_option(logout)
    logout.set_defaults(handler=logout_command)

    status = commands.add_parser("status", help="show each configured provider's credential status")
    _config_option(status)
    status.set_defaults(handler=status_command)

    accounts = commands.add_parser("accounts", help="list every provider's accounts: ok, or cooling down until when")
    accounts.add_argument("--clear", metavar="PROVIDER",
                          help="lift the cooldowns of PROVIDER's accounts (e.g. after buying credits); "
                               "a running router follows within a second")
    accounts.add_argument("--account", metavar="NAME", help="with --clear: only this account")
    _config_option(accounts)
    accounts.set_defaults(handler=accounts_command)

    # listed for --help only: `main` (and router.server.entry, before this module loads) hands
    # `router statusline ...` to router.server.statusline, whose options never fail
    commands.add_parser("statusline", add_help=False, help="print the status line Claude Code shows (settings.json "
                        "statusLine): lane, session tokens, quota left; reads its JSON on stdin")

    usage = commands.add_parser("usage", help="what the requests served used: tokens, cost, errors (the usage ledger)")
    usage.add_argument("--since", default=usage_report.SINCE_DEFAULT, metavar="WHEN",
                       help="a span back from now (7d, 24h, 30m) or a date or time (2026-12-01, UTC); default 7d")
    usage.add_argument("--by", choices=GROUPINGS, help="one line per provider, model, account, day (UTC) or rule")
    usage.add_argument("--json", action="store_true", help="print the lines as a JSON array")
    _config_option(usage)
    usage.set_defaults(handler=usage_command)

    code = commands.add_parser(
        "code", allow_abbrev=False, help="start Claude Code wired to this router (starting one if none runs)",
        usage="router code [--config PATH] [--] [CLAUDE_ARGS ...]",
        description="Runs `claude` with ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN pointing at the router; "
                    "starts `router serve` for the session when nothing answers on the configured port. "
                    "Every argument after the router's own options goes to claude unchanged.")
    _config_option(code)
    code.add_argument("claude_args", nargs="*", metavar="CLAUDE_ARGS", help="passed to claude as they are")
    code.set_defaults(handler=code_command)

    settings = commands.add_parser("claude-settings",
                                   help="point every Claude Code session at the router (~/.claude/settings.json)")
    settings.add_argument("action", choices=("install", "uninstall", "show"))
    settings.add_argument("--yes", action="store_true", help="write without asking (needed when not in a terminal)")
    settings.add_argument("--statusline", action="store_true",
                          help="also register `router statusline` as Claude Code's status line")
    _config_option(settings)
    settings.set_defaults(handler=claude_settings_command)
    return parser


def _account_option(parser: argparse.ArgumentParser, text: str) -> None:
    parser.add_argument("--account", metavar="NAME", default=DEFAULT_ACCOUNT, help=text)


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="config file (default: $SWITCHYARD_CONFIG, ./config.yaml, "
                        "~/.config/switchyard/config.yaml)")


# -- loading ------------------------------------------------------------------------------


def load(config_path: Path | None) -> tuple[Config, Mapping[str, type[Provider[Any]]], pluggy.PluginManager, str]:
    """Plugins, provider classes and the validated config, with a line saying where it came from."""
    pm = make_plugin_manager()
    classes = provider_classes(pm)
    if config_path is not None:
        return load_config(config_path, classes), classes, pm, f"config: {config_path}"
    found = find_config()
    if found is not None:
        return load_config(found, classes), classes, pm, f"config: {found}"
    looked = ", ".join(str(p) for p in config_candidates())
    note = f"config: none found (looked for {looked}); serving the built-in default (Codex for every tier)"
    return builtin_default(classes), classes, pm, note


def banner(config: Config, runtime: Runtime, origin: str, out: TextIO) -> None:
    """The start-up summary: version, URL, providers, routing table, and how to point Claude Code here."""
    url = f"http://{_url_host(config.server.host)}:{config.server.port}"
    print(f"switchyard router {__version__} listening on {url}", file=out)
    print(origin, file=out)
    print("providers:", file=out)
    for name, status in runtime.credential_statuses().items():
        print(f"  {name:<12} {'ok  ' if status.ok else 'MISSING'} {status.detail}", file=out)
    _account_lines(runtime, out, only_interesting=True)
    print("routes:", file=out)
    for label, target in runtime.rules.table():
        print(f"  {label:<22} -> {target}", file=out)
    print(f"use it:  ANTHROPIC_BASE_URL={url} claude", file=out, flush=True)


def _account_lines(runtime: Runtime, out: TextIO, *, only_interesting: bool = False) -> None:
    """One line per account (state, last quota figures); the banner shows them only for pools or trouble."""
    now = runtime.clock()
    for state in runtime.account_states():
        if only_interesting and len(runtime.pools[state.provider].accounts) < 2 and not state.cooling:
            continue
        summary = term.state(state.credentials.ok and not state.cooling, state.summary(now), out,
                             warn=state.credentials.ok)
        print(f"  {state.provider + '/' + state.account:<24} {summary}", file=out)
        for window in state.quotas:
            print(f"  {'':<24}   {_quota_text(window, now)}", file=out)


def _quota_text(window: QuotaWindow, now: float) -> str:
    used = f"{window.used_percent:g}% used" if window.used_percent is not None else ""
    parts = [part for part in (used, window.detail) if part]
    if window.resets_at:
        parts.append(f"resets in {describe_wait(max(0.0, window.resets_at - now))}")
    return f"{window.name}: " + ", ".join(parts)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


# -- commands -----------------------------------------------------------------------------


def serve_command(args: argparse.Namespace) -> int:
    """`router serve`."""
    config, classes, _, origin = load(args.config)
    overrides = {key: value for key, value in (("host", args.host), ("port", args.port),
                                                ("log_level", args.log_level)) if value is not None}
    try:
        config = dataclasses.replace(config, server=dataclasses.replace(config.server, **overrides))
    except InvalidField as exc:
        raise ConfigError(f"--{exc.field.replace('_', '-')}", str(exc)) from None
    configure_logging(config.server.log_level)
    check_exposure(config.server, "--host" if args.host is not None else "server.host", insecure=args.insecure_no_auth)
    runtime = Runtime(config, classes)
    banner(config, runtime, origin, sys.stdout)
    uv_config = uvicorn.Config(
        create_app(runtime),
        host=config.server.host,
        port=config.server.port,
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=int(config.server.shutdown_grace) + 3,
        timeout_keep_alive=75,
    )
    server = _Server(uv_config, runtime.lifecycle)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down cleanly
        pass
    return 0 if server.started else 1


def check_exposure(server: ServerConfig, where: str, *, insecure: bool = False) -> None:
    """Refuse to serve other machines with no token (anyone there could spend the logins), unless
    `insecure`: then say so loudly on every start. `where` names the setting that chose the host."""
    if server.auth_token or is_loopback(server.host):
        return
    if not insecure:
        raise ConfigError(
            where, f"'{server.host}' can be reached from other machines, but server.auth_token is not set",
            "set server.auth_token in the config, e.g. `auth_token: ${SWITCHYARD_AUTH_TOKEN}` to read it from "
            f"the environment, and give clients the same token; or pass {INSECURE_FLAG} to serve anyway",
        )
    text = (f"serving on {server.host} with no server.auth_token ({INSECURE_FLAG}): anyone who can reach "
            f"port {server.port} can use every configured login")
    log = logging.getLogger("router")
    if log.isEnabledFor(logging.WARNING):
        log.warning(text)
    else:  # --log-level error or critical must not silence it
        print(f"router: WARNING: {text}", file=sys.stderr, flush=True)


class _Server(uvicorn.Server):
    """uvicorn's server, telling open streams to wind down when Ctrl-C arrives."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets)  # type: ignore[arg-type]

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.lifecycle.begin_shutdown)


def check_command(args: argparse.Namespace) -> int:
    """`router check`: validate and print what would be served."""
    config, classes, _, origin = load(args.config)
    runtime = Runtime(config, classes)
    print(origin)
    print("config is valid. routes (first match wins):")
    for label, target in runtime.rules.table():
        print(f"  {label:<22} -> {target}")
    print("accounts:")
    for name, pool in runtime.pools.items():
        print(f"  {name:<12} {', '.join(pool.names)}  (strategy {pool.strategy})")
    for name in config.missing_providers:
        print(f"warning: provider '{name}' is not installed; requests routed to it will fail")
    asyncio.run(runtime.aclose())
    return 0


def plugins_command(args: argparse.Namespace) -> int:
    """`router plugins`."""
    infos = plugin_infos(make_plugin_manager())
    if not infos:
        print("no plugins loaded")
    for info in infos:
        kind = "built-in" if info.builtin else "plugin"
        print(f"{info.name} {info.version} ({kind}): providers {', '.join(info.providers) or '(none)'}")
    return 0


def models_command(args: argparse.Namespace) -> int:
    """`router models`: each configured provider's models."""
    config, classes, _, _ = load(args.config)

    async def listing() -> None:
        runtime = Runtime(config, classes)
        try:
            for name, provider in runtime.providers.items():
                print(f"{name}:")
                try:
                    with term.spinner(f"asking {name} for its models"):
                        models = await provider.list_models()
                except Exception as exc:
                    print(f"  (could not list models: {exc})")
                    continue
                for model in models:
                    window = f"  context {model.context_window}" if model.context_window else ""
                    print(f"  {name}/{model.id}{window}")
        finally:
            await runtime.aclose()

    asyncio.run(listing())
    return 0


def status_command(args: argparse.Namespace) -> int:
    """`router status`: credentials of every configured provider, and plan usage where a backend reports it."""
    config, classes, _, origin = load(args.config)

    async def report() -> bool:
        runtime = Runtime(config, classes)
        try:
            statuses = runtime.credential_statuses()
            for name, status in statuses.items():
                print(f"{name:<12} {term.state(status.ok, 'ok' if status.ok else 'MISSING')}  {status.detail}")
                provider = runtime.providers.get(name)
                if status.ok and provider is not None:
                    with term.spinner(f"asking {name} for its usage"):
                        usage = await _usage(provider)
                    if usage:
                        print(f"{'':<12} usage: {usage}")
            print("accounts:")
            _account_lines(runtime, sys.stdout)
            return all(s.ok for s in statuses.values())
        finally:
            await runtime.aclose()

    print(origin)
    return 0 if asyncio.run(report()) else 1


async def _usage(provider: Provider[Any]) -> str | None:
    try:
        async with asyncio.timeout(10):
            return await provider.usage_report()
    except Exception as exc:  # a usage check must never break the status report
        return f"unavailable ({type(exc).__name__})"


def accounts_command(args: argparse.Namespace) -> int:
    """`router accounts`: every account of every provider, with its state and last quota figures."""
    config, classes, _, origin = load(args.config)
    runtime = Runtime(config, classes)
    try:
        print(origin)
        if args.clear is not None and not _clear(runtime, args.clear, args.account):
            return 2
        _account_lines(runtime, sys.stdout)
        return 0 if all(state.credentials.ok for state in runtime.account_states()) else 1
    finally:
        asyncio.run(runtime.aclose())


def _clear(runtime: Runtime, provider: str, account: str | None) -> bool:
    """Lift the cooldowns `router accounts --clear` names; False (with why on stderr) if it names nothing."""
    pool = runtime.pools.get(provider)
    if pool is None:
        print(f"router: no provider '{provider}' is configured (configured: {', '.join(runtime.pools) or 'none'})",
              file=sys.stderr)
        return False
    names = [a.name for a in pool.accounts]
    if account is not None and account not in names:
        print(f"router: {provider} has no account '{account}' (accounts: {', '.join(names)})", file=sys.stderr)
        return False
    lifted = runtime.cooldowns.lift(provider, account)
    which = f"{provider}/{account}" if account is not None else f"every {provider} account"
    if not lifted:
        print(f"nothing to clear: {which} was not cooling down")
    for cooldown in lifted:
        model = f" ({cooldown.model})" if cooldown.model else ""
        print(f"cleared {cooldown.provider}/{cooldown.account}{model}: was cooling: {cooldown.reason}")
    return True


def usage_command(args: argparse.Namespace) -> int:
    """`router usage`: the ledger's totals since `--since`, grouped `--by`, as a table or JSON."""
    config, _, _, _ = load(args.config)
    settings = config.ledger
    path = settings.path or ledger_file(state_dir())
    if not settings.enabled:
        print("router: the usage ledger is off (ledger.enabled: false in the config); nothing is recorded",
              file=sys.stderr)
        return 1
    now = time.time()
    try:
        since = usage_report.parse_since(args.since, now)
    except ValueError as exc:
        raise ConfigError("--since", str(exc)) from None
    if path.exists():
        ledger = Ledger(path, retention_days=settings.retention_days)
        try:
            groups = ledger.totals(since, args.by)
        finally:
            ledger.close()
    else:  # nothing served yet: say so without creating the file
        groups = [] if args.by else [usage_report.total_of([])]
    if args.json:
        print(usage_report.as_json(groups))
        return 0
    grouped = f", by {args.by}" if args.by else ""
    print(f"usage since {usage_report.describe_since(since)}{grouped} (ledger: {path})")
    for line in usage_report.table(groups, args.by):
        print(line)
    return 0


def login_command(args: argparse.Namespace) -> int:
    """`router login NAME`: the provider's own sign-in flow."""
    options = LoginOptions(device=args.device, import_from=args.import_from, force=args.force)
    with term.spinner("waiting for the sign-in to finish") as spin:
        return _with_provider(args, lambda provider: provider.login(options, spin.say))


def logout_command(args: argparse.Namespace) -> int:
    """`router logout NAME`."""
    return _with_provider(args, lambda provider: provider.logout(_say))


def _say(text: str) -> None:
    print(text, flush=True)


def _with_provider(args: argparse.Namespace, action: Callable[[Provider[Any]], Awaitable[None]]) -> int:
    """Run `action` on the named provider (configured, or installed with default settings)."""
    config, classes, _, _ = load(args.config)
    if args.provider not in config.providers:
        if args.provider not in classes:
            known = ", ".join(sorted(classes)) or "none installed"
            raise ConfigError("", f"unknown provider '{args.provider}' (installed: {known})")
        settings = build_settings(classes[args.provider].Settings, {}, f"providers.{args.provider}")
        config = dataclasses.replace(config, providers={**config.providers, args.provider: settings})

    account = str(args.account)
    if not ACCOUNT_NAME.fullmatch(account):
        raise ConfigError("--account", "expected a name of letters, digits, '.', '_' or '-'")

    async def run() -> int:
        runtime = Runtime(config, classes)
        try:
            try:
                await action(runtime.account(args.provider, account))
            except NotImplementedError:
                if args.command != "logout" or account == DEFAULT_ACCOUNT:
                    raise  # a named account's stored state goes with its folder anyway
            if account != DEFAULT_ACCOUNT:
                folder = account_dir(state_dir(), args.provider, account)
                if args.command == "logout":
                    shutil.rmtree(folder, ignore_errors=True)
                else:  # the folder is what makes the account part of the provider's pool
                    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                    _say(f"account '{account}' of {args.provider} stored; `router accounts` lists it")
        except NotImplementedError as exc:
            print(f"router: {exc}", file=sys.stderr)
            return 2
        except RouterError as exc:
            print(f"router: {args.command} failed: {exc.message}", file=sys.stderr)
            return 1
        finally:
            await runtime.aclose()
        return 0

    return asyncio.run(run())


def code_command(args: argparse.Namespace) -> int:
    """`router code`: Claude Code against this router, which is started for the session if need be."""
    config, _, _, _ = load(args.config)
    path = args.config if args.config is not None else find_config()
    serve_args = ["serve", *(["--config", str(path)] if path is not None else [])]
    return launch(args.claude_args, config.server, serve_args, state_dir() / LOG_NAME)


def claude_settings_command(args: argparse.Namespace) -> int:
    """`router claude-settings install|uninstall|show`."""
    config, _, _, _ = load(args.config)
    return claude_settings.command(args.action, config.server, yes=args.yes, statusline=args.statusline)
