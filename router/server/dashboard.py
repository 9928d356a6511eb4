"""`GET /dashboard`: one page on the router's own server about its accounts, routes and usage.

Everything is served by the router (no CDN, no build step, no external fonts): the page is
rendered here from the runtime and the usage ledger, every value escaped with `html.escape`,
with the tokens-per-provider-per-day chart as inline SVG; `dashboard.js` adds the live tail
(`/dashboard/events`, SSE fed by `Ledger.subscribe()`) and re-reads the state sections in place.
`/dashboard/api/state` is the same snapshot as JSON.

Auth follows the API's when `server.auth_token` is set: `x-api-key` or `Bearer`, or, since a
browser cannot send headers on navigation, `/dashboard?token=...` once, which sets an HttpOnly
SameSite=Strict cookie holding a value derived from the token (so the cookie alone cannot call
the API) and redirects the token out of the address bar.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import html
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import resources
from string import Template
from typing import Any

import orjson
from starlette.requests import Request as HTTPRequest
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route as HTTPRoute

from router import __version__
from router.anthropic.errors import error_body
from router.provider import CredentialStatus
from router.quota import QuotaWindow
from router.server.config import is_loopback
from router.server.ledger import Ledger, LedgerRow
from router.server.runtime import AccountState, Runtime
from router.toolkit.failures import describe_wait

log = logging.getLogger("router")

COOKIE = "switchyard_dashboard"
DAYS = 14
"""How many UTC days the usage chart covers, today included."""
RECENT = 50
REFRESH_SECONDS = 15
"""How often the page re-reads its state sections (usage, providers, accounts, routes)."""
KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 1.0
"""How often an open live tail looks whether the server is shutting down (it then ends at once)."""
DENIED_MESSAGE = (
    "this dashboard needs the token set in server.auth_token: open /dashboard?token=<token> once "
    "(it sets a cookie), or send it as x-api-key or Authorization: Bearer"
)
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")
STATIC = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
           "cache-control": "no-store", "x-frame-options": "DENY"}
JSON = "application/json"
COUNTS = ("requests", "input_tokens", "output_tokens", "cached_tokens", "errors")


# -- what the page shows ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayUsage:
    """One provider's usage on one UTC day (`day` is `YYYY-MM-DD`)."""

    day: str
    provider: str
    requests: int
    input_tokens: int
    cached_tokens: int
    output_tokens: int
    cost: float | None
    """What the backend reported (OpenRouter: USD); None when it reported nothing that day."""
    errors: int

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.cached_tokens + self.output_tokens

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the page shows, read once per request; rendering it is pure."""

    now: float
    auth: bool
    exposed: bool
    """Served on an address other machines may reach (`server.host` not loopback)."""
    ledger: bool
    providers: Mapping[str, CredentialStatus]
    pools: Mapping[str, tuple[tuple[str, ...], str]]
    """Per provider: its account names and the pool's strategy."""
    accounts: Sequence[AccountState]
    routes: Sequence[tuple[str, str]]
    recent: Sequence[LedgerRow]
    days: Sequence[str]
    usage: Sequence[DayUsage]

    def as_json(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "auth": self.auth,
            "ledger": {"enabled": self.ledger},
            "providers": {name: self._provider_json(name, status) for name, status in self.providers.items()},
            "accounts": [state.as_json(self.now) for state in self.accounts],
            "routes": [{"when": label, "use": target} for label, target in self.routes],
            "recent": [row.as_json() for row in self.recent],
            "usage": {"days": list(self.days), "by_provider": [entry.as_json() for entry in self.usage]},
        }

    def _provider_json(self, name: str, status: CredentialStatus) -> dict[str, Any]:
        names, strategy = self.pools.get(name, ((), None))
        return {"ok": status.ok, "detail": status.detail, "accounts": list(names), "strategy": strategy}


def utc_days(now: float, count: int = DAYS) -> list[tuple[str, float]]:
    """The last `count` UTC days, oldest first, as (`YYYY-MM-DD`, start in epoch s)."""
    today = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    starts = [today - 86400.0 * back for back in range(count - 1, -1, -1)]
    return [(datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d"), start) for start in starts]


def daily_usage(ledger: Ledger, days: Sequence[tuple[str, float]]) -> list[DayUsage]:
    """Usage per provider per day, from the ledger's totals since each day's start.

    `Ledger.totals` sums everything since a moment, so one day's figures are the totals since
    its start minus those since the next day's (the last day runs until now).
    """
    since = [_by_key(ledger.totals(start, "provider")) for _, start in days]
    usage = []
    for index, (day, _) in enumerate(days):
        later = since[index + 1] if index + 1 < len(since) else {}
        for provider, totals in since[index].items():
            minus = later.get(provider, {})
            figures = {name: int(totals.get(name) or 0) - int(minus.get(name) or 0) for name in COUNTS}
            cost = totals.get("cost")  # None: no backend reported one
            if cost is not None:
                cost = round(float(cost) - float(minus.get("cost") or 0.0), 9)
            if figures["requests"] > 0:
                usage.append(DayUsage(day, provider, figures["requests"], figures["input_tokens"],
                                      figures["cached_tokens"], figures["output_tokens"], cost, figures["errors"]))
    return usage


def _read_ledger(ledger: Ledger, days: Sequence[tuple[str, float]]) -> tuple[list[LedgerRow], list[DayUsage]]:
    return ledger.recent(RECENT), daily_usage(ledger, days)


def _by_key(rows: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """Totals keyed by provider; rows without one (refused before routing) carry no tokens."""
    return {str(row["key"]): row for row in rows if row.get("key")}


async def snapshot(runtime: Runtime) -> Snapshot:
    """Read what the page shows from the runtime and its ledger (whose queries run off the loop)."""
    now = runtime.clock()
    ledger = runtime.ledger
    days = utc_days(now)
    recent: list[LedgerRow] = []
    usage: list[DayUsage] = []
    if ledger is not None:
        recent, usage = await asyncio.to_thread(_read_ledger, ledger, days)
    return Snapshot(
        now=now,
        auth=bool(runtime.config.server.auth_token),
        exposed=not is_loopback(runtime.config.server.host),
        ledger=ledger is not None,
        providers=runtime.credential_statuses(),
        pools={name: (tuple(pool.names), pool.strategy) for name, pool in runtime.pools.items()},
        accounts=runtime.account_states(),
        routes=runtime.rules.table(),
        recent=recent,
        days=[day for day, _ in days],
        usage=usage,
    )


# -- rendering ----------------------------------------------------------------------------


def e(value: object) -> str:
    """Any value as HTML text (quotes too, so it is safe in attributes)."""
    return html.escape("-" if value is None or value == "" else str(value), quote=True)


def render_page(snap: Snapshot) -> str:
    """The whole page: the packaged template with each section rendered and escaped."""
    pills = [
        _pill("ledger on" if snap.ledger else "ledger off", snap.ledger),
        _pill("auth token required", True) if snap.auth else
        _pill("no auth token: reachable from the network", False) if snap.exposed else
        _pill("no auth token (this machine only)", True),
    ]
    return _template().substitute(
        version=e(__version__),
        ledger_flag="on" if snap.ledger else "off",
        refresh=str(REFRESH_SECONDS),
        pills=" ".join(pills),
        days=str(len(snap.days)),
        usage=render_usage(snap),
        live_text="connecting" if snap.ledger else "ledger off",
        requests=render_requests(snap),
        providers=render_providers(snap),
        accounts=render_accounts(snap),
        routes=render_routes(snap),
        rendered=e(_utc(snap.now, "%Y-%m-%d %H:%M:%S UTC")),
    )


@functools.cache
def _template() -> Template:
    return Template(resources.files("router.server").joinpath("dashboard.html").read_text(encoding="utf-8"))


def _pill(text: str, on: bool) -> str:
    return f'<span class="pill {"on" if on else "off"}">{e(text)}</span>'


LEDGER_OFF = ('<p class="note">The usage ledger is off (<code>ledger: {enabled: false}</code> in the config), '
              "so requests are not recorded and there is nothing to show here.</p>")


def _table(headers: Sequence[str], rows: Sequence[str], *, body_id: str = "", numeric: Iterable[int] = ()) -> str:
    numbers = set(numeric)
    head = "".join(f'<th class="num">{e(h)}</th>' if i in numbers else f"<th>{e(h)}</th>"
                   for i, h in enumerate(headers))
    tbody = f'<tbody id="{body_id}">' if body_id else "<tbody>"
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead>{tbody}{"".join(rows)}</tbody></table></div>'


def _row(cells: Sequence[tuple[object, str]], row_class: str = "") -> str:
    """A table row from (value, css class) cells; every value escaped."""
    tds = "".join(f'<td class="{cls}">{e(value)}</td>' if cls else f"<td>{e(value)}</td>" for value, cls in cells)
    return f'<tr class="{row_class}">{tds}</tr>' if row_class else f"<tr>{tds}</tr>"


REQUEST_HEADERS = ("time (UTC)", "model", "rule", "provider/account", "upstream model", "kind",
                   "in", "cached", "out", "cost", "first byte", "total", "status")


def render_requests(snap: Snapshot) -> str:
    """The last requests the ledger holds, newest first; `dashboard.js` prepends live ones."""
    if not snap.ledger:
        return LEDGER_OFF
    rows = [_row(request_cells(row), "failed" if row.status >= 400 else "") for row in snap.recent]
    table = _table(REQUEST_HEADERS, rows, body_id="request-rows", numeric=(0, 6, 7, 8, 9, 10, 11))
    empty = "" if rows else '<p class="note" id="requests-empty">No requests recorded yet.</p>'
    return table + empty


def request_cells(row: LedgerRow) -> list[tuple[object, str]]:
    """One ledger row as the page's cells (`dashboard.js` builds live rows the same way)."""
    kind = "count" if row.path.endswith("count_tokens") else "stream" if row.stream else "json"
    where = f"{row.provider}/{row.account}" if row.provider and row.account else row.provider
    status = f"{row.status} {row.error_type}" if row.error_type else str(row.status)
    return [
        (_utc(row.at, "%m-%d %H:%M:%S"), "num"),
        (row.client_model, "code"),
        (row.rule, ""),
        (where, ""),
        (row.upstream_model, "code"),
        (kind, ""),
        (f"{row.input_tokens:,}", "num"),
        (f"{row.cached_tokens:,}", "num"),
        (f"{row.output_tokens:,}", "num"),
        (_cost(row.cost), "num"),
        (_ms(row.ttfb_ms), "num"),
        (_ms(row.total_ms), "num"),
        (status, "status"),
    ]


def render_providers(snap: Snapshot) -> str:
    rows = []
    for name, status in snap.providers.items():
        names, strategy = snap.pools.get(name, ((), None))
        rows.append(_row([
            (name, "code"),
            ("ok" if status.ok else "missing", "ok" if status.ok else "bad"),
            (status.detail, ""),
            (", ".join(names) if names else "not installed", ""),
            (strategy, ""),
        ]))
    return _table(("provider", "credentials", "detail", "accounts", "strategy"), rows)


def render_accounts(snap: Snapshot) -> str:
    rows = []
    for state in snap.accounts:
        if not state.credentials.ok:
            word, cls = "no credentials", "bad"
        elif any(c.model is None for c in state.cooling):
            word, cls = "cooling", "warn"
        else:
            word, cls = ("ok, some models cooling", "warn") if state.cooling else ("ok", "ok")
        rows.append(
            f"<tr><td class=\"code\">{e(state.provider + '/' + state.account)}</td>"
            f'<td class="{cls}">{e(word)}</td><td>{e(state.credentials.detail)}</td>'
            f"<td>{_list(cooldown_text(c.model, c.until, c.reason, snap.now) for c in state.cooling)}</td>"
            f"<td>{_list(quota_text(w, snap.now) for w in state.quotas)}"
            f"{_seen(state.quotas_seen, snap.now)}</td></tr>"
        )
    return _table(("account", "state", "credentials", "cooldowns", "quota windows"), rows)


def cooldown_text(model: str | None, until: float, reason: str, now: float) -> str:
    """`gpt-5.5: 12 min (until 14:05 UTC): usage limit reached`; model None means the whole account."""
    left = describe_wait(max(0.0, until - now))
    return f"{model or 'all models'}: {left} (until {_utc(until, '%m-%d %H:%M UTC')}): {reason}"


def quota_text(window: QuotaWindow, now: float) -> str:
    """`5 h: 42% used, resets in 2 h 5 min`, like `router accounts` says it."""
    parts = [f"{window.used_percent:g}% used"] if window.used_percent is not None else []
    if window.detail:
        parts.append(window.detail)
    if window.resets_at:
        parts.append(f"resets in {describe_wait(max(0.0, window.resets_at - now))}")
    return f"{window.name}: {', '.join(parts) or 'no figures'}"


def _seen(seen: float | None, now: float) -> str:
    if seen is None:
        return ""
    return f'<div class="muted">seen {e(describe_wait(max(0.0, now - seen)))} ago</div>'


def _list(items: Iterable[str]) -> str:
    texts = list(items)
    return '<ul class="plain">' + "".join(f"<li>{e(t)}</li>" for t in texts) + "</ul>" if texts else "-"


def render_routes(snap: Snapshot) -> str:
    rows = [_row([(str(index), "num"), (label, "code"), (target, "code")])
            for index, (label, target) in enumerate(snap.routes, 1)]
    return _table(("#", "when", "routes to (fallbacks after ->)"), rows, numeric=(0,))


def render_usage(snap: Snapshot) -> str:
    """The chart, its legend and the period's totals per provider."""
    if not snap.ledger:
        return LEDGER_OFF
    if not snap.usage:
        return '<p class="note">No tokens recorded in this period yet.</p>'
    providers = list(dict.fromkeys(entry.provider for entry in snap.usage))
    colors = {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(providers)}
    legend = " ".join(
        f'<span><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="{colors[name]}"/>'
        f"</svg>{e(name)}</span>" for name in providers
    )
    totals = []
    for name in providers:
        mine = [entry for entry in snap.usage if entry.provider == name]
        totals.append(_row([
            (name, "code"),
            (f"{sum(m.requests for m in mine):,}", "num"),
            (f"{sum(m.input_tokens for m in mine):,}", "num"),
            (f"{sum(m.cached_tokens for m in mine):,}", "num"),
            (f"{sum(m.output_tokens for m in mine):,}", "num"),
            (_cost(_sum_costs(m.cost for m in mine)), "num"),
            (f"{sum(m.errors for m in mine):,}", "num"),
        ]))
    table = _table(("provider", "requests", "in", "cached", "out", "cost", "errors"), totals,
                   body_id="usage-totals", numeric=range(1, 7))
    return chart_svg(snap.days, snap.usage, colors) + f'<p class="legend">{legend}</p>' + table


def chart_svg(days: Sequence[str], usage: Sequence[DayUsage], colors: Mapping[str, str]) -> str:
    """Stacked bars, one per day, one segment per provider (input + cached + output tokens)."""
    width, height, left, bottom, top = 720, 180, 56, 20, 10
    plot = height - bottom - top
    step = (width - left) / max(1, len(days))
    per_day: dict[str, list[DayUsage]] = {}
    for entry in usage:
        per_day.setdefault(entry.day, []).append(entry)
    peak = max((sum(entry.tokens for entry in entries) for entries in per_day.values()), default=0) or 1
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
             f'aria-label="tokens per provider per day">',
             f'<line x1="{left}" y1="{top + plot}" x2="{width}" y2="{top + plot}"/>',
             f'<line x1="{left}" y1="{top}" x2="{width}" y2="{top}"/>',
             f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{e(_short(peak))}</text>',
             f'<text x="{left - 6}" y="{top + plot}" text-anchor="end">0</text>']
    for index, day in enumerate(days):
        x = left + index * step
        base = float(top + plot)
        for entry in per_day.get(day, []):
            tall = plot * entry.tokens / peak
            base -= tall
            tip = (f"{entry.provider} {day}: {entry.input_tokens:,} in, {entry.cached_tokens:,} cached, "
                   f"{entry.output_tokens:,} out, {entry.requests:,} requests")
            parts.append(f'<rect x="{x + step * 0.15:.1f}" y="{base:.1f}" width="{step * 0.7:.1f}" '
                         f'height="{tall:.1f}" fill="{colors[entry.provider]}"><title>{e(tip)}</title></rect>')
        if index % 2 == (len(days) - 1) % 2:  # every other day, today always
            parts.append(f'<text x="{x + step / 2:.1f}" y="{height - 5}" text-anchor="middle">{e(day[5:])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _short(tokens: int) -> str:
    for size, unit in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if tokens >= size:
            return f"{tokens / size:.3g}{unit}"
    return str(tokens)


def _utc(epoch: float, pattern: str) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(pattern)


def _sum_costs(costs: Iterable[float | None]) -> float | None:
    reported = [cost for cost in costs if cost is not None]
    return sum(reported) if reported else None


def _cost(value: float | None) -> str | None:
    """A cost as the backend reported it (OpenRouter: USD), to four significant digits."""
    return None if value is None else f"{value:.4g}"


def _ms(value: float | None) -> str | None:
    return None if value is None else f"{value:,.0f} ms"


DENIED_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>switchyard router: token needed</title></head>
<body><h1>Token needed</h1><p>{message}</p></body></html>
"""


# -- HTTP ---------------------------------------------------------------------------------


def cookie_value(token: str) -> str:
    """What the dashboard cookie holds: derived from the token, so the cookie alone cannot call the API."""
    return hmac.new(token.encode(), b"switchyard-router dashboard cookie", hashlib.sha256).hexdigest()


class Dashboard:
    """The dashboard's handlers, bound to one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.token = runtime.config.server.auth_token

    def routes(self) -> list[HTTPRoute]:
        return [
            HTTPRoute("/dashboard", self.page, methods=["GET"]),
            HTTPRoute("/dashboard/api/state", self.state, methods=["GET"]),
            HTTPRoute("/dashboard/events", self.events, methods=["GET"]),
            HTTPRoute("/dashboard/static/{name}", self.static, methods=["GET"]),
        ]

    async def page(self, http: HTTPRequest) -> Response:
        """The page; `?token=` checks the token once, sets the cookie and redirects it out of the URL."""
        given = http.query_params.get("token")
        if given is not None:
            if self.token and not hmac.compare_digest(given.encode(), self.token.encode()):
                return self._denied(page=True)
            response = RedirectResponse("/dashboard", status_code=303, headers=HEADERS)
            if self.token:
                response.set_cookie(COOKIE, cookie_value(self.token), path="/dashboard", httponly=True,
                                    samesite="strict")
            return response
        if not self.allowed(http):
            return self._denied(page=True)
        body = render_page(await snapshot(self.runtime))
        return Response(body, media_type="text/html; charset=utf-8", headers=HEADERS)

    async def state(self, http: HTTPRequest) -> Response:
        """`/dashboard/api/state`: what the page shows, as JSON."""
        if not self.allowed(http):
            return self._denied()
        return Response(orjson.dumps((await snapshot(self.runtime)).as_json()), media_type=JSON, headers=HEADERS)

    async def events(self, http: HTTPRequest) -> Response:
        """`/dashboard/events`: every request the ledger records from now on, as SSE `request` events."""
        if not self.allowed(http):
            return self._denied()
        ledger = self.runtime.ledger
        if ledger is None:
            return Response(error_body("not_found_error", "the usage ledger is off, so there is no live tail"),
                            status_code=404, media_type=JSON)
        headers = {**HEADERS, "x-accel-buffering": "no"}
        return StreamingResponse(self._tail(ledger), media_type="text/event-stream", headers=headers)

    async def static(self, http: HTTPRequest) -> Response:
        """The page's script and style sheet, packaged beside this module."""
        name = http.path_params["name"]
        if name not in STATIC:
            return Response(error_body("not_found_error", f"no dashboard file '{name}'"), status_code=404,
                            media_type=JSON)
        text = resources.files("router.server").joinpath(name).read_bytes()
        return Response(text, media_type=STATIC[name], headers={**HEADERS, "cache-control": "no-cache"})

    def allowed(self, http: HTTPRequest) -> bool:
        """No token configured, or the API's headers, or the dashboard cookie; compared in constant time."""
        token = self.token
        if not token:
            return True
        given = http.headers.get("x-api-key") or http.headers.get("authorization", "").removeprefix("Bearer ")
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return True
        cookie = http.cookies.get(COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), cookie_value(token).encode())

    def _denied(self, *, page: bool = False) -> Response:
        if page:
            body = DENIED_PAGE.format(message=e(DENIED_MESSAGE))
            return Response(body, status_code=401, media_type="text/html; charset=utf-8", headers=HEADERS)
        return Response(error_body("authentication_error", DENIED_MESSAGE), status_code=401, media_type=JSON)

    async def _tail(self, ledger: Ledger) -> AsyncIterator[bytes]:
        """SSE of the ledger's live rows; keep-alive comments while quiet; ends when the server drains."""
        rows = ledger.subscribe()
        lifecycle = self.runtime.lifecycle
        pending: asyncio.Future[LedgerRow] | None = None
        quiet = 0.0
        try:
            yield b"retry: 2000\n: live tail of /v1/messages requests\n\n"
            while not lifecycle.draining and not lifecycle.closing.is_set():
                if pending is None:
                    pending = asyncio.ensure_future(anext(rows))
                done, _ = await asyncio.wait({pending}, timeout=POLL_SECONDS)
                if not done:
                    quiet += POLL_SECONDS
                    if quiet >= KEEPALIVE_SECONDS:
                        quiet = 0.0
                        yield b": keep-alive\n\n"
                    continue
                try:
                    row = pending.result()
                except StopAsyncIteration:
                    return
                finally:
                    pending = None
                quiet = 0.0
                yield b"event: request\ndata: " + orjson.dumps(row.as_json()) + b"\n\n"
        finally:
            if pending is not None:  # an async generator cannot be closed while a next() of it runs
                pending.cancel()
                await asyncio.wait({pending})
            closer = getattr(rows, "aclose", None)
            if closer is not None:
                with suppress(Exception):
                    await closer()
