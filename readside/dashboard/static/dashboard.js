// The mcp-audit dashboard: fetch one page load's JSON and draw it; no external libraries.
"use strict";

// The token comes in the link `mcp-audit up` prints (/#token=...); a fragment never reaches a
// server. It is kept for this tab only and sent as a bearer token, never as a cookie.
(function takeToken() {
  const found = new URLSearchParams(location.hash.slice(1)).get("token");
  if (found) {
    sessionStorage.setItem("mcp-audit-token", found);
    history.replaceState(null, "", location.pathname + location.search);
  }
})();
const token = () => sessionStorage.getItem("mcp-audit-token") || "";

const COLORS = { SUCCESS: "#2e7d32", ERROR: "#c62828", DENIED: "#ef6c00", TIMEOUT: "#6a1b9a",
                 CANCELLED: "#607d8b", UNKNOWN: "#9e9e9e",
                 LOW: "#81c784", MEDIUM: "#ffb74d", HIGH: "#e57373", CRITICAL: "#b71c1c" };
const SVG = "http://www.w3.org/2000/svg";
const hours = () => document.getElementById("hours").value;

async function getJSON(path, params = {}) {
  const query = new URLSearchParams({ hours: hours(), ...params });
  const response = await fetch(`${path}?${query}`, { headers: { Authorization: `Bearer ${token()}` } });
  if (response.status === 401) {
    document.getElementById("updated").textContent =
      "not signed in: open the link `mcp-audit up` printed (or run `mcp-audit token`)";
    document.body.dataset.unauthenticated = "true";
  }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function el(tag, attrs = {}, text) {
  const node = document.createElementNS(tag === "svg" || attrs.svg ? SVG : "http://www.w3.org/1999/xhtml", tag);
  for (const [key, value] of Object.entries(attrs)) if (key !== "svg") node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function short(id) { return id && id.length > 16 ? id.slice(0, 12) + "…" : (id || ""); }

function fillTable(id, rows, cells) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows.map(row => {
    const tr = el("tr");
    for (const cell of cells(row)) tr.append(el("td", {}, String(cell)));
    return tr;
  }));
}

function drawBars(svg, bars, height = 160) {
  // bars: [{label, segments: [{key, value}]}]; one stacked bar per label.
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
        fill: COLORS[seg.key] || "#546e7a", "data-label": bar.label, "data-key": seg.key,
        "data-value": seg.value }));
    }
    const edge = i === 0 || i === bars.length - 1;
    if (bars.length <= 12 || edge) {
      const x = i === bars.length - 1 && bars.length > 12 ? width - 40 : i * step + 4;
      svg.append(el("text", { svg: 1, x, y: height + 14, "font-size": 11 }, bar.label));
    }
  });
}

function drawSummary(s) {
  const tiles = [["calls", s.calls], ["failures", s.failures], ["high-risk", s.high_risk],
                 ["users", s.users], ["tools", s.tools]];
  document.getElementById("summary").replaceChildren(...tiles.map(([name, value]) => {
    const tile = el("div", { class: "tile", "data-name": name });
    tile.append(el("b", {}, String(value)), document.createTextNode(name));
    return tile;
  }));
}

const bucket = () => hours() <= 1 ? 1 : hours() <= 24 ? 15 : 360;

function drawCalls(rows) {
  const byBucket = new Map();
  for (const r of rows) {
    if (!byBucket.has(r.bucket)) byBucket.set(r.bucket, new Map());
    const statuses = byBucket.get(r.bucket);
    statuses.set(r.status, (statuses.get(r.status) || 0) + r.calls);
  }
  const bars = [...byBucket].map(([bucket, statuses]) => ({
    label: bucket.slice(11, 16), segments: [...statuses].map(([key, value]) => ({ key, value })) }));
  drawBars(document.getElementById("calls-chart"), bars);
  const seen = [...new Set(rows.map(r => r.status))];
  document.getElementById("calls-legend").replaceChildren(...seen.map(s => {
    const item = el("span"); const swatch = el("i", { style: `background:${COLORS[s]}` });
    item.append(swatch, document.createTextNode(s)); return item;
  }));
}

function drawRisk(rows) {
  drawBars(document.getElementById("risk-chart"),
           rows.map(r => ({ label: r.level, segments: [{ key: r.level, value: r.events }] })));
}

function drawTables(tools, users) {
  fillTable("tools", tools,
            t => [t.tool, t.calls, (100 * t.failure_rate).toFixed(1) + "%", t.p50_ms, t.p95_ms, t.p99_ms]);
  fillTable("users", users, u => [short(u.user), u.high_risk, u.max_risk, u.events]);
}

function drawAlerts(alerts) {
  document.getElementById("alerts").replaceChildren(...alerts.map(a => {
    const li = el("li", { "data-detector": a.detector });
    li.append(el("span", { class: `sev-${a.severity}` }, a.severity), document.createTextNode(
      ` ${a.alert_time.slice(0, 19)} ${a.detector}: ${a.summary}` + (a.count > 1 ? ` (×${a.count})` : "")));
    return li;
  }));
}

async function search(event) {
  if (event) event.preventDefault();
  const form = new FormData(document.getElementById("search"));
  const params = Object.fromEntries([...form].filter(([, v]) => v !== ""));
  fillTable("events", await getJSON("/api/events", params),
            e => [e.event_time.slice(0, 23), short(e.user), e.server, e.tool, e.status, Number(e.duration_ms).toFixed(2),
                  `${e.risk_score} ${e.risk_level}`, (e.risk_reasons || []).join(", ")]);
}

async function refresh() {
  const page = await getJSON("/api/page", { bucket: bucket() });  // one load, one audited access
  drawSummary(page.summary);
  drawCalls(page.calls);
  drawRisk(page.risk);
  drawTables(page.tools, page.users);
  drawAlerts(page.alerts);
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
}

document.getElementById("hours").addEventListener("change", refresh);
document.getElementById("search").addEventListener("submit", search);
refresh().then(() => search()).then(() => { document.body.dataset.loaded = "true"; });
setInterval(refresh, 30000);
