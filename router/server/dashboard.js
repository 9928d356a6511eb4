// The dashboard's live parts: the request tail over SSE (/dashboard/events), and the state
// sections (usage, providers, accounts, routes) re-read from the server-rendered page every
// `data-refresh` seconds (15).
// Values from the server are set as text, never as markup.
"use strict";
(() => {
  const MAX_ROWS = 200;
  const REFRESHED = ["usage", "providers", "accounts", "routes"];
  const status = document.getElementById("live-status");
  const rows = document.getElementById("request-rows");

  const text = (value) => (value === null || value === undefined || value === "" ? "-" : String(value));
  const count = (value) => (value === null || value === undefined ? "-" : Number(value).toLocaleString("en-US"));
  const millis = (value) =>
    (value === null || value === undefined ? "-" : `${Math.round(value).toLocaleString("en-US")} ms`);
  const when = (at) => new Date(at * 1000).toISOString().slice(5, 19).replace("T", " ");
  const kind = (row) => (row.path.endsWith("count_tokens") ? "count" : row.stream ? "stream" : "json");
  const cost = (value) => (value === null || value === undefined ? "-" : String(Number(Number(value).toPrecision(4))));
  const outcome = (row) => (row.error_type ? `${row.status} ${row.error_type}` : String(row.status));
  const where = (row) => (row.provider ? (row.account ? `${row.provider}/${row.account}` : row.provider) : "-");

  function cell(tr, value, className) {
    const td = document.createElement("td");
    td.textContent = value;
    if (className) td.className = className;
    tr.appendChild(td);
  }

  function addRow(row) {
    if (!rows) return;
    document.getElementById("requests-empty")?.remove();
    const tr = document.createElement("tr");
    tr.className = row.status >= 400 ? "new failed" : "new";
    cell(tr, when(row.at), "num");
    cell(tr, text(row.client_model), "code");
    cell(tr, text(row.rule));
    cell(tr, where(row));
    cell(tr, text(row.upstream_model), "code");
    cell(tr, kind(row));
    cell(tr, count(row.input_tokens), "num");
    cell(tr, count(row.cached_tokens), "num");
    cell(tr, count(row.output_tokens), "num");
    cell(tr, cost(row.cost), "num");
    cell(tr, millis(row.ttfb_ms), "num");
    cell(tr, millis(row.total_ms), "num");
    cell(tr, outcome(row), "status");
    rows.prepend(tr);
    while (rows.rows.length > MAX_ROWS) rows.deleteRow(-1);
  }

  function setStatus(label, on) {
    if (!status) return;
    status.textContent = label;
    status.className = on ? "pill on" : "pill off";
  }

  if (document.body.dataset.ledger === "on") {
    const source = new EventSource("/dashboard/events");
    source.addEventListener("request", (event) => addRow(JSON.parse(event.data)));
    source.addEventListener("open", () => setStatus("live", true));
    source.addEventListener("error", () =>
      setStatus(source.readyState === EventSource.CLOSED ? "offline" : "reconnecting", false));
  }

  async function refresh() {
    try {
      const response = await fetch("/dashboard", { credentials: "same-origin", cache: "no-store" });
      if (!response.ok) return;
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      for (const id of REFRESHED) {
        const fresh = page.getElementById(id);
        const shown = document.getElementById(id);
        if (fresh && shown) shown.replaceWith(document.importNode(fresh, true));
      }
    } catch (error) {
      // the router is restarting or unreachable: keep what is shown, try again next time
    }
  }
  setInterval(refresh, (Number(document.body.dataset.refresh) || 15) * 1000);
})();
