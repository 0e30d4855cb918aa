// The mcp-audit dashboard: the overview and the investigation views; no external libraries.
//
// Every view has a URL (hash routing, so a view never reaches a server log):
//   #/?hours=24                    the overview (window: hours=, or from= and to= in UTC)
//   #/search?tool=x&from=..&to=..  the overview with that search run (noise=1: heartbeats too)
//   #/alert/<alert id>             an alert and its evidence events
//   #/user/<pseudonym>?hours=720   one user's trail
//   #/event/<event id>             one event's whole stored record and its checks
// Pasting one into a signed-in tab (or signing in on it) opens that view.
"use strict";

// The token comes in the link `mcp-audit up` prints (/#token=...); a fragment never reaches a
// server. It is kept for this tab only and sent as a bearer token, never as a cookie.
const TOKEN_KEY = "mcp-audit-token";
(function takeToken() {
  const found = new URLSearchParams(location.hash.slice(1)).get("token");
  if (found) {
    sessionStorage.setItem(TOKEN_KEY, found);
    history.replaceState(null, "", location.pathname + location.search + "#/");
  }
})();
const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

const COLORS = { SUCCESS: "#2e7d32", ERROR: "#c62828", DENIED: "#ef6c00", TIMEOUT: "#6a1b9a",
                 CANCELLED: "#607d8b", UNKNOWN: "#9e9e9e",
                 LOW: "#81c784", MEDIUM: "#ffb74d", HIGH: "#e57373", CRITICAL: "#b71c1c" };
const SVG = "http://www.w3.org/2000/svg";
const $ = id => document.getElementById(id);

// ---- the route: view, its argument, and its parameters -------------------------------------
function route() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = raw.split("?", 2);
  const [view, ...rest] = path.split("/");
  return { view: view || "overview", arg: decodeURIComponent(rest.join("/")),
           params: new URLSearchParams(query) };
}

function go(view, arg, params) {
  const query = new URLSearchParams(params).toString();
  const hash = `#/${view === "overview" ? "" : view}${arg ? "/" + encodeURIComponent(arg) : ""}`
    + (query ? `?${query}` : "");
  if (location.hash === hash) show(); else location.hash = hash;
}

// The window of the route (hours= or from=/to=), as the picker shows it and the API takes it.
function rangeParams(params) {
  if (params.get("from") && params.get("to")) return { from: params.get("from"), to: params.get("to") };
  return { hours: params.get("hours") || $("hours").value || "24" };
}

function showRange(range) {
  const custom = !!range.from;
  $("hours").value = custom ? "custom" : range.hours;
  if (!$("hours").value) $("hours").value = "24";
  $("custom-range").hidden = !custom;
  if (custom) { $("range-from").value = range.from.slice(0, 19); $("range-to").value = range.to.slice(0, 19); }
}

const rangeText = r => r.from ? `${r.from.replace("T", " ")} – ${r.to.replace("T", " ")} UTC`
                              : `last ${r.hours} h`;

// ---- fetching -------------------------------------------------------------------------------
async function getJSON(path, params = {}) {
  const query = new URLSearchParams(params);
  const response = await fetch(`${path}?${query}`, { headers: { Authorization: `Bearer ${token()}` } });
  if (response.status === 401) {
    $("updated").textContent = "not signed in";
    $("signin").hidden = false;
    document.body.dataset.unauthenticated = "true";
  }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// ---- drawing helpers ------------------------------------------------------------------------
function el(tag, attrs = {}, text) {
  const node = document.createElementNS(tag === "svg" || attrs.svg ? SVG : "http://www.w3.org/1999/xhtml", tag);
  for (const [key, value] of Object.entries(attrs)) if (key !== "svg") node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function link(text, view, arg, params = {}) {
  const a = el("a", { href: "#" }, text);
  a.addEventListener("click", e => { e.preventDefault(); go(view, arg, params); });
  a.dataset.view = view;
  return a;
}

function short(id) { return id && id.length > 16 ? id.slice(0, 12) + "…" : (id || ""); }

function fillTable(id, rows, cells) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows.map(row => {
    const tr = el("tr");
    for (const cell of cells(row)) {
      const td = el("td");
      if (cell instanceof Node) td.append(cell); else td.textContent = String(cell);
      tr.append(td);
    }
    return tr;
  }));
}

// One event per row: its type shown; the time opens its record, the user their trail.
function fillEvents(id, events) {
  fillTable(id, events, e => [
    link(e.event_time.slice(0, 23).replace("T", " "), "event", e.event_id), e.event_type,
    e.user ? link(short(e.user), "user", e.user, { hours: "720" }) : "", e.server, e.tool, e.status,
    Number(e.duration_ms).toFixed(2), `${e.risk_score} ${e.risk_level}`, (e.risk_reasons || []).join(", ")]);
  document.querySelectorAll(`#${id} tbody tr`).forEach((tr, i) => {
    tr.dataset.eventId = events[i].event_id; tr.dataset.type = events[i].event_type;
  });
}

function drawBars(svg, bars, height = 160) {
  // bars: [{label, segments: [{key, value, color?}]}]; one stacked bar per label.
  svg.replaceChildren();
  const width = svg.clientWidth || 600;
  const max = Math.max(1, ...bars.map(b => b.segments.reduce((s, x) => s + x.value, 0)));
  const step = width / Math.max(1, bars.length);
  bars.forEach((bar, i) => {
    let y = height;
    for (const seg of bar.segments) {
      const h = (seg.value / max) * (height - 10);
      y -= h;
      svg.append(el("rect", { svg: 1, x: i * step + 1, y, width: Math.max(1, step - 2), height: h,
        fill: seg.color || COLORS[seg.key] || "#546e7a", "data-label": bar.label, "data-key": seg.key,
        "data-value": seg.value, "data-index": i }));
    }
    const edge = i === 0 || i === bars.length - 1;
    if (bars.length <= 12 || edge) {
      const x = i === bars.length - 1 && bars.length > 12 ? width - 40 : i * step + 4;
      svg.append(el("text", { svg: 1, x, y: height + 14, "font-size": 11 }, bar.label));
    }
  });
  return step;
}

// ---- the overview ---------------------------------------------------------------------------
function drawSummary(s) {
  const tiles = [["calls", s.calls], ["failures", s.failures], ["high-risk", s.high_risk],
                 ["users", s.users], ["tools", s.tools]];
  $("summary").replaceChildren(...tiles.map(([name, value]) => {
    const tile = el("div", { class: "tile", "data-name": name });
    tile.append(el("b", {}, String(value)), document.createTextNode(name));
    return tile;
  }));
}

const bucketOf = hours => hours <= 1 ? 1 : hours <= 24 ? 15 : 360;
let callBuckets = [];  // the calls chart's bucket starts, for the brush
let callBucketMinutes = 15;

function drawCalls(rows, bucketMinutes) {
  const byBucket = new Map();
  for (const r of rows) {
    if (!byBucket.has(r.bucket)) byBucket.set(r.bucket, new Map());
    const statuses = byBucket.get(r.bucket);
    statuses.set(r.status, (statuses.get(r.status) || 0) + r.calls);
  }
  callBuckets = [...byBucket.keys()];
  callBucketMinutes = bucketMinutes;
  const bars = [...byBucket].map(([bucket, statuses]) => ({
    label: bucket.slice(11, 16), segments: [...statuses].map(([key, value]) => ({ key, value })) }));
  drawBars($("calls-chart"), bars);
  const seen = [...new Set(rows.map(r => r.status))];
  $("calls-legend").replaceChildren(...seen.map(s => {
    const item = el("span"); const swatch = el("i", { style: `background:${COLORS[s]}` });
    item.append(swatch, document.createTextNode(s)); return item;
  }));
}

// The brush: drag across the calls chart to search the buckets it covers.
(function brush() {
  const svg = $("calls-chart");
  let start = null, band = null;
  const xOf = e => e.clientX - svg.getBoundingClientRect().left;
  svg.addEventListener("mousedown", e => {
    start = xOf(e);
    band = el("rect", { svg: 1, class: "brush", x: start, y: 0, width: 0, height: 160 });
    svg.append(band);
  });
  svg.addEventListener("mousemove", e => {
    if (start === null) return;
    const x = xOf(e);
    band.setAttribute("x", Math.min(start, x)); band.setAttribute("width", Math.abs(x - start));
  });
  window.addEventListener("mouseup", e => {
    if (start === null) return;
    const end = xOf(e), from = Math.min(start, end), to = Math.max(start, end);
    start = null;
    if (!callBuckets.length || to - from < 3) { band.remove(); return; }
    const step = (svg.clientWidth || 600) / callBuckets.length;
    const first = Math.max(0, Math.floor(from / step));
    const last = Math.min(callBuckets.length - 1, Math.floor(to / step));
    const until = new Date(Date.parse(callBuckets[last] + (callBuckets[last].endsWith("Z") ? "" : "Z"))
                           + callBucketMinutes * 60000);
    go("search", "", { ...formFilters(), from: utc(callBuckets[first]), to: utc(until.toISOString()) });
  });
})();

// A time as the API and the URL take it: ISO 8601 in UTC, to the second, no zone suffix.
function utc(text) { return text.replace("Z", "").replace(/\+00:00$/, "").slice(0, 19); }

function drawRisk(rows) {
  drawBars($("risk-chart"), rows.map(r => ({ label: r.level, segments: [{ key: r.level, value: r.events }] })));
}

function drawTables(tools, users, range) {
  fillTable("tools", tools, t => [t.tool, t.calls, (100 * t.failure_rate).toFixed(1) + "%", t.p50_ms, t.p95_ms, t.p99_ms]);
  fillTable("users", users, u => [link(short(u.user), "user", u.user, range), u.high_risk, u.max_risk, u.events]);
}

function drawAlerts(alerts) {
  $("alerts").replaceChildren(...alerts.map(a => {
    const li = el("li", { "data-detector": a.detector, "data-alert-id": a.alert_id });
    li.append(el("span", { class: `sev-${a.severity}` }, a.severity), document.createTextNode(" "),
      link(`${a.alert_time.slice(0, 19)} ${a.detector}: ${a.summary}` + (a.count > 1 ? ` (×${a.count})` : ""),
           "alert", a.alert_id));
    return li;
  }));
}

function formFilters() {
  const form = new FormData($("search"));
  return Object.fromEntries([...form].filter(([k, v]) => v !== "" && k !== "noise"));
}

function fillForm(params) {
  for (const input of $("search").elements) {
    if (!input.name) continue;
    if (input.type === "checkbox") input.checked = params.get(input.name) === "1";
    else input.value = params.get(input.name) || "";
  }
}

async function runSearch(params, range) {
  const query = { ...Object.fromEntries([...params].filter(([k]) => !["hours", "from", "to"].includes(k))), ...range };
  $("search-range").textContent = `events of the ${rangeText(range)}` + (params.get("noise") === "1" ? "" :
    " (heartbeats and session events hidden)");
  fillEvents("events", await getJSON("/api/search", query));
}

let lastOverview = "";
async function overview(r, range) {
  const hours = range.from ? (Date.parse(range.to + "Z") - Date.parse(range.from + "Z")) / 3600000 : Number(range.hours);
  const key = JSON.stringify(range);
  if (key !== lastOverview || r.view === "overview") {
    // The panels read a window ending now (hours=); a custom range shows its length's window.
    const bucket = bucketOf(hours);
    const page = await getJSON("/api/page", { hours: Math.max(1, Math.ceil(range.from ?
      (Date.now() - Date.parse(range.from + "Z")) / 3600000 : hours)), bucket });  // one load, one access
    drawSummary(page.summary);
    drawCalls(page.calls, bucket);
    drawRisk(page.risk);
    drawTables(page.tools, page.users, range.from ? range : { hours: "720" });
    drawAlerts(page.alerts);
    lastOverview = key;
  }
  fillForm(r.params);
  await runSearch(r.view === "search" ? r.params : new URLSearchParams(), range);
}

// ---- an alert and its evidence --------------------------------------------------------------
async function alertView(r) {
  const found = await getJSON("/api/alert", { id: r.arg });
  if (!found) { $("alert-title").textContent = "not found"; fillEvents("alert-events", []); return; }
  const a = found.alert;
  $("alert-title").textContent = `${a.severity} ${a.detector}`;
  const facts = [["summary", a.summary], ["raised", a.alert_time], ["user", a.user], ["server", a.server_id],
                 ["tool", a.tool_name], ["count", a.count], ["window", `${a.window_start} – ${a.window_end}`]];
  $("alert-facts").replaceChildren(...facts.flatMap(([k, v]) => {
    const dd = el("dd");
    if (k === "user" && v) dd.append(link(v, "user", v, { hours: "720" })); else dd.textContent = String(v);
    return [el("dt", {}, k), dd];
  }));
  $("alert-evidence-kind").textContent = found.evidence === "named" ? `(${found.events.length} events the detector named)`
    : "(the detector named none: the user's events of the alert's window)";
  fillEvents("alert-events", found.events);
}

// ---- a user's trail -------------------------------------------------------------------------
async function userView(r, range) {
  const trail = await getJSON("/api/user", { user: r.arg, ...range });
  $("user-name").textContent = trail.user;
  $("user-range").textContent = `(${rangeText(range)}, ${trail.total} events)`;
  const sum = k => trail.timeline.reduce((s, b) => s + b[k], 0);
  const tiles = [["events", trail.total], ["calls", sum("calls")], ["failures", sum("failures")],
                 ["high-risk", sum("high_risk")], ["sessions", trail.sessions.length], ["tools", trail.tools.length]];
  $("user-summary").replaceChildren(...tiles.map(([name, value]) => {
    const tile = el("div", { class: "tile", "data-name": name });
    tile.append(el("b", {}, String(value)), document.createTextNode(name));
    return tile;
  }));
  drawBars($("user-chart"), trail.timeline.map(b => ({
    label: trail.unit === "hour" ? b.bucket.slice(11, 16) : b.bucket.slice(5, 10),
    segments: [{ key: "calls", value: b.calls - b.failures, color: COLORS.SUCCESS },
               { key: "failures", value: b.failures, color: COLORS.ERROR }] })));
  fillTable("user-sessions", trail.sessions, s => [
    link(short(s.session_id) || "(none)", "search", "", { user: trail.user, session: s.session_id, ...range }),
    s.first.slice(0, 19).replace("T", " "), s.last.slice(0, 19).replace("T", " "), s.calls, s.failures, s.max_risk]);
  fillTable("user-tools", trail.tools, t => [
    link(t.tool, "search", "", { user: trail.user, tool: t.tool, ...range }), t.calls, t.failures, t.high_risk, t.max_risk]);
  const noise = $("user-noise").checked;
  const shown = trail.events.filter(e => noise || !["HEARTBEAT", "SESSION_START", "SESSION_END"].includes(e.event_type));
  fillEvents("user-events", shown.map(e => ({ ...e, user: trail.user })));
}

// ---- one event's record ---------------------------------------------------------------------
const RECORD_ORDER = [
  ["what", ["event_id", "event_type", "phase", "event_time", "call_id", "call_state", "attempt_event_id",
            "attempt_time", "method", "server_id", "server_version", "tool_name", "resource_uri", "prompt_name"]],
  ["who", ["user_id", "session_id", "client_id", "client_name", "client_version", "tenant_id", "agent_id",
           "agent_name", "auth_method", "scopes", "ip", "user_agent"]],
  ["outcome", ["status", "duration_us", "error_type", "error_message", "result_size", "truncated", "redactions"]],
  ["arguments and result (as stored, redacted)", ["arg_keys", "args", "args_digest", "result", "result_digest"]],
  ["classification", ["classification", "tool_read_only", "tool_destructive", "tool_idempotent",
                      "tool_open_world", "data_categories", "policy_version"]],
  ["risk", ["risk_score", "risk_level", "risk_reasons", "compliance_tags", "anomalies"]],
  ["tracing", ["request_id", "trace_id", "span_id", "transport", "protocol_version"]],
  ["integrity", ["stream_id", "seq", "prev_hash", "hash", "content_hash", "enriched_time", "processor_version",
                 "retention_days", "legal_hold"]],
];

function showValue(v) {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v) || typeof v === "object") return JSON.stringify(v, null, 1);
  return String(v);
}

function drawRecord(target, row) {
  if (!row) { $(target).replaceChildren(el("p", { class: "muted" }, "no other side stored")); return; }
  const shown = new Set();
  const parts = RECORD_ORDER.map(([title, keys]) => {
    const dl = el("dl", { class: "facts" });
    for (const k of keys) {
      if (!(k in row)) continue;
      shown.add(k);
      const dd = el("dd", { "data-field": k });
      const text = showValue(row[k]);
      if (k === "user_id" && row[k]) dd.append(link(row[k], "user", row[k], { hours: "720" }));
      else if ((k === "args" || k === "result") && text) dd.append(el("pre", {}, text));
      else dd.textContent = text;
      dl.append(el("dt", {}, k), dd);
    }
    const box = el("div"); box.append(el("h3", {}, title), dl); return box;
  });
  const rest = el("dl", { class: "facts" });
  for (const [k, v] of Object.entries(row)) if (!shown.has(k)) rest.append(el("dt", {}, k), el("dd", { "data-field": k }, showValue(v)));
  const other = el("div"); other.append(el("h3", {}, "everything else"), rest);
  $(target).replaceChildren(...parts, other);
}

async function eventView(r) {
  const found = await getJSON("/api/event", { id: r.arg });
  $("event-id").textContent = r.arg;
  if (!found) { $("event-checks").replaceChildren(el("li", {}, "no stored event has this id")); return; }
  const names = { hash: "chain hash", previous: "link to the previous event", next: "link to the next event",
                  row: "stored row", sealed: "sealed log" };
  $("event-checks").replaceChildren(...Object.entries(found.checks).map(([k, c]) => {
    const mark = c.ok === true ? "✔ verifies" : c.ok === false ? "✘ FAILS" : "– unknown";
    const li = el("li", { class: c.ok === true ? "ok" : c.ok === false ? "bad" : "unknown", "data-check": k });
    li.append(el("b", {}, `${names[k] || k}: ${mark}`), document.createTextNode(` — ${c.detail}`));
    return li;
  }));
  if (found.versions > 1) $("event-checks").append(el("li", {}, `${found.versions} stored versions; the latest shown`));
  const ev = found.event, other = found.other_side;
  const attempt = ev.phase === "ATTEMPT" ? ev : other, result = ev.phase === "ATTEMPT" ? other : ev;
  $("side-a-title").textContent = ev.phase === "RESULT" || ev.phase === "ATTEMPT" ? "ATTEMPT" : ev.phase;
  $("side-b-title").textContent = ev.phase === "RESULT" || ev.phase === "ATTEMPT" ? "RESULT" : "";
  if (ev.phase === "RESULT" || ev.phase === "ATTEMPT") { drawRecord("side-a", attempt); drawRecord("side-b", result); }
  else { drawRecord("side-a", ev); $("side-b").replaceChildren(); }
}

// ---- the router -----------------------------------------------------------------------------
const VIEWS = { overview, search: overview, alert: alertView, user: userView, event: eventView };

async function show() {
  const r = route();
  const view = VIEWS[r.view] ? r.view : "overview";
  const range = rangeParams(r.params);
  showRange(range);
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== `view-${view === "search" ? "overview" : view}`;
  document.body.dataset.view = view;
  document.body.dataset.loaded = "false";
  try {
    await VIEWS[view](r, range);
    $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    if (document.body.dataset.unauthenticated !== "true") $("updated").textContent = String(e.message);
  }
  document.body.dataset.loaded = "true";
}

function withRange(range) {
  const r = route();
  const params = Object.fromEntries([...r.params].filter(([k]) => !["hours", "from", "to"].includes(k)));
  go(r.view, r.arg, { ...params, ...range });
}

$("hours").addEventListener("change", () => {
  if ($("hours").value === "custom") { $("custom-range").hidden = false; return; }
  withRange({ hours: $("hours").value });
});
$("range-apply").addEventListener("click", () => {
  if ($("range-from").value && $("range-to").value)
    withRange({ from: utc($("range-from").value), to: utc($("range-to").value) });
});
$("search").addEventListener("submit", e => {
  e.preventDefault();
  const noise = $("noise").checked ? { noise: "1" } : {};
  go("search", "", { ...formFilters(), ...noise, ...rangeParams(route().params) });
});
$("noise").addEventListener("change", () => $("search").requestSubmit());
$("user-noise").addEventListener("change", () => show());
$("signin-form").addEventListener("submit", e => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("signin-token").value.trim());
  $("signin").hidden = true; delete document.body.dataset.unauthenticated;
  show();
});
window.addEventListener("hashchange", show);
show();
setInterval(() => { if (route().view === "overview" && !document.hidden) { lastOverview = ""; show(); } }, 30000);
