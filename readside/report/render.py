"""Render a :class:`Report` as one self-contained HTML page (inline CSS and SVG, no network)."""

from __future__ import annotations

from html import escape

from readside.report.build import Report
from readside.report.checks import FRAMEWORKS, NOT_MEASURED

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;color:#1d232b}
h1{margin-bottom:0}.muted{color:#5f6b7a}table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #e3e6ea}
.tiles{display:flex;gap:1rem;flex-wrap:wrap}
.tile{background:#f3f5f8;border-radius:6px;padding:.5rem 1rem}
.tile b{display:block;font-size:1.4rem}.pass{color:#2e7d32}.fail{color:#b3261e;font-weight:600}
.score{font-size:1.6rem;font-weight:700}
"""


def _tiles(report: Report) -> str:
    labels = {"events": "events", "calls": "tool calls", "failures": "failed calls",
              "high_risk": "high-risk events", "users": "users", "servers": "servers"}  # fmt: skip
    return "".join(
        f'<div class="tile" data-name="{k}"><b>{report.totals[k]:,}</b>{v}</div>'
        for k, v in labels.items()
    )


def _trend_svg(report: Report) -> str:
    if not report.daily:
        return "<p class='muted'>No events in the period.</p>"
    width, height = 720, 160
    peak = max(calls for _, calls, _ in report.daily) or 1
    step = width / len(report.daily)
    bars = []
    for i, (day, calls, high) in enumerate(report.daily):
        h, hh = calls / peak * (height - 20), high / peak * (height - 20)
        x = i * step + 1
        bars.append(
            f'<rect x="{x:.1f}" y="{height - h:.1f}" width="{max(step - 2, 1):.1f}"'
            f' height="{h:.1f}"'
            f' fill="#90a4ae" data-day="{day}" data-calls="{calls}"><title>{day}: {calls} calls'
            f"</title></rect>"
            f'<rect x="{x:.1f}" y="{height - hh:.1f}" width="{max(step - 2, 1):.1f}"'
            f' height="{hh:.1f}" fill="#c62828" data-high="{high}"></rect>'
        )
    return f'<svg id="trend" viewBox="0 0 {width} {height}" width="100%">{"".join(bars)}</svg>'


def _rows(pairs: list[tuple[str, int]], empty: str) -> str:
    if not pairs:
        return f"<tr><td class='muted' colspan=2>{empty}</td></tr>"
    return "".join(f"<tr><td>{escape(k)}</td><td>{n:,}</td></tr>" for k, n in pairs)


def _frameworks(report: Report) -> str:
    parts = []
    for name, keys in FRAMEWORKS.items():
        rows = "".join(
            f"<tr><td class='{'pass' if c.passed else 'fail'}'>{'PASS' if c.passed else 'FAIL'}"
            f"</td><td>{escape(c.title)}</td><td>{escape(c.detail)}</td></tr>"
            for c in (report.checks[k] for k in keys)
        )
        parts.append(
            f"<section class='framework' data-framework='{name}'><h3>{name} "
            f"<span class='score'>{report.scores[name]}%</span></h3><table>{rows}</table></section>"
        )
    return "".join(parts)


def render(report: Report) -> str:
    failed = [c for c in report.checks.values() if not c.passed]
    advice = "".join(
        f"<li><b>{escape(c.title)}</b>: {escape(c.recommendation)}</li>" for c in failed
    )
    period = f"{report.since:%Y-%m-%d %H:%M} UTC to {report.generated:%Y-%m-%d %H:%M} UTC"
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>mcp-audit compliance report</title><style>{STYLE}</style></head><body>
<h1>MCP audit compliance report</h1><p class="muted">{period}</p>
<h2>Executive summary</h2><div class="tiles">{_tiles(report)}</div>
<p>{len(report.checks) - len(failed)} of {len(report.checks)} measured checks pass.</p>
<h2>Trend</h2><p class="muted">Calls per day (grey), high-risk events (red).</p>{_trend_svg(report)}
<h2>Top issues</h2><table><tr><th>alert detector</th><th>alerts</th></tr>
{_rows(report.top_detectors, "no alerts in the period")}</table>
<table><tr><th>high-risk reason</th><th>events</th></tr>
{_rows(report.top_reasons, "no high-risk events")}</table>
<h2>Frameworks</h2><p class="muted">Scores count only checks measured on the stored events.</p>
{_frameworks(report)}
<h2>Recommendations</h2>
<ul id="recommendations">{advice or "<li>None: every check passes.</li>"}</ul>
<h2>Not measured</h2><ul>{"".join(f"<li>{escape(n)}</li>" for n in NOT_MEASURED)}</ul>
</body></html>
"""
