"""The dashboard's questions as the provisioned Grafana dashboards ask them.

One definition of each question lives in :mod:`readside.dashboard.queries`, and
every Grafana panel with SQL asks one (:data:`SHARED`); this module renders it
for the grafana-clickhouse-datasource plugin (v4): the window's bounds become the
``$__fromTime`` and ``$__toTime`` macros, the server and tool condition the
dashboards' ``$server`` and ``$tool`` variables, a bucket whole hours of
Grafana's ``$__interval_s`` (the hourly aggregate answers the calls panel at any
range), an interval in seconds ``$__interval_s`` itself, and a limit the
panel's (:data:`LIMITS`). ``python -m readside.dashboard.grafana`` writes the
rendered SQL and the drill-down links into ``deploy/grafana/dashboards/*.json``;
tests/test_grafana_dashboards.py fails when a dashboard differs from what this
module writes, so the two cannot drift.

Drill-down links open the built-in dashboard (``$dashboard``, a dashboard
variable: its address, ``mcp-audit up`` prints it) at ``#/user/<pseudonym>`` and
``#/event/<event id>``.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from readside.dashboard import queries

DASHBOARDS = Path(__file__).parents[2] / "deploy" / "grafana" / "dashboards"
# Rows a table panel lists unless LIMITS says otherwise.
DEFAULT_LIMIT = 20
_MACROS = {
    "{since:DateTime64(6)}": "$__fromTime",
    "{until:DateTime64(6)}": "$__toTime",
    "{bucket:UInt32}": "greatest(60, intDiv($__interval_s, 3600) * 60)",
    "{interval:UInt32}": "$__interval_s",
    queries.SERVER_AND_TOOL: (
        "$__conditionalAll(server_id IN (${server:singlequote}), $server)"
        " AND $__conditionalAll(tool_name IN (${tool:singlequote}), $tool)"
    ),
}
# Panel title -> the name of the question it asks in readside/dashboard/queries.py, by
# dashboard file. Every panel with SQL is here (tests/test_grafana_dashboards.py).
SHARED = {
    "mcp-audit.json": {
        "Tool calls": "TOOL_CALL_COUNT",
        "Failure rate": "FAILURE_RATE",
        "p95 latency": "P95_LATENCY",
        "Active users": "ACTIVE_USERS",
        "Calls by tool and status": "CALLS_HOURLY",
        "Failure rate and latency per tool": "TOOLS",
    },
    "mcp-audit-security.json": {
        "Events by risk level": "RISK",
        "Top users by risk": "TOP_USERS",
        "Alerts by severity": "ALERTS_RAISED",
        "Latest alerts": "ALERTS",
        "High-risk events": "HIGH_RISK_EVENTS",
    },
}
LIMITS = {"Latest alerts": 100, "High-risk events": 200}
_HOURLY = (
    " Whole hours from events_hourly, the range's ends from events_first; each event once,"
    " in the version the store keeps, before merges."
)
_SKETCHED = (
    " Durations from a DDSketch per day, each within 1% of the true value, the range's"
    " ends sketched from events_first; each call once."
)
# What each panel shows; rendered() adds the question it reads.
DESCRIPTIONS = {
    "Tool calls": "Completed tool calls in the range: the built-in dashboard's summary." + _HOURLY,
    "Failure rate": (
        "The share of completed tool calls that failed (ERROR, DENIED, TIMEOUT, CANCELLED),"
        " counted as the built-in dashboard's summary counts calls and failures." + _HOURLY
    ),
    "p95 latency": (
        "95th percentile of tool call duration over the tools chosen, as the per-tool table"
        " reads it." + _SKETCHED
    ),
    "Active users": (
        "Users who made a tool call in the range, as the built-in dashboard's summary counts"
        " them: from user_activity_daily in whole days and events_first at the range's ends;"
        " each event once. Counted per user, not per tool: the server and tool variables do"
        " not narrow it."
    ),
    "Calls by tool and status": "Completed tool calls per hour, by tool and status." + _HOURLY,
    "Failure rate and latency per tool": (
        "Per tool, busiest first: calls, the share that failed (ERROR, DENIED, TIMEOUT,"
        " CANCELLED), and duration percentiles." + _HOURLY + _SKETCHED
    ),
    "Events by risk level": "Every event in the range by its risk level." + _HOURLY,
    "Top users by risk": (
        "Users with the most HIGH or CRITICAL events, then the highest risk score: 20, from"
        " user_activity_daily in whole days and events_first at the range's ends; each event"
        " once, in the version the store keeps. Counted per user, not per tool: the server"
        " and tool variables do not narrow it. A user opens their trail in mcp-audit."
    ),
    "Alerts by severity": (
        "Alerts raised by the detectors per interval, by severity, each alert once at the time"
        " first raised: a folded alert is stored again when its window closes, with its final"
        " count, under the same alert_id."
    ),
    "Latest alerts": (
        "The newest 100 alerts in the range, each once with its final count (a folded alert is"
        " stored again when its window closes), as the built-in dashboard lists alerts."
    ),
    "High-risk events": (
        "The newest 200 HIGH or CRITICAL events in the range, listed as the built-in"
        " dashboard's search lists events: from events_first, newest read first, each event"
        " once in the version FINAL shows (an unanswered attempt as INCOMPLETE, with its"
        " raised risk). An event opens its record in mcp-audit."
    ),
}
# Column -> the built-in view it opens (its deep link).
VIEWS = {"user": "user", "event_id": "event"}
DASHBOARD_VARIABLE = {
    "name": "dashboard",
    "label": "mcp-audit dashboard",
    "type": "textbox",
    "query": "http://127.0.0.1:8321",
    "current": {"text": "http://127.0.0.1:8321", "value": "http://127.0.0.1:8321"},
    "description": "The built-in dashboard's address, where drill-down links open.",
}


def question(name: str) -> str:
    """The SQL of the question ``name`` in readside/dashboard/queries.py."""
    sql = getattr(queries, name)
    assert isinstance(sql, str), name
    return sql


def for_grafana(sql: str, limit: int = DEFAULT_LIMIT) -> str:
    """``sql`` with its parameters as the plugin's macros and the dashboards' variables,
    listing at most ``limit`` rows."""
    for parameter, macro in {**_MACROS, "{limit:UInt32}": str(limit)}.items():
        sql = sql.replace(parameter, macro)
    return textwrap.dedent(sql).strip()


def panel_sql(title: str, name: str) -> str:
    """The SQL of the panel ``title``, which asks the question ``name``."""
    return for_grafana(question(name), LIMITS.get(title, DEFAULT_LIMIT))


def link(view: str) -> dict[str, Any]:
    """A data link from a cell to the built-in dashboard's view of its value."""
    return {
        "title": f"Open the {view} in mcp-audit",
        "url": f"${{dashboard}}/#/{view}/${{__value.raw}}",
        "targetBlank": True,
    }


def _links(panel: dict[str, Any]) -> None:
    """Each column a built-in view opens, linked (Grafana skips a name a table lacks)."""
    overrides = [
        {
            "matcher": {"id": "byName", "options": column},
            "properties": [{"id": "links", "value": [link(view)]}],
        }
        for column, view in VIEWS.items()
    ]
    panel.setdefault("fieldConfig", {"defaults": {}, "overrides": []})["overrides"] = overrides


def rendered(name: str, board: dict[str, Any]) -> dict[str, Any]:
    """``board`` (the file ``name``) with each shared panel's SQL rendered from its
    question, table panels linked to the built-in views, and the ``$dashboard`` variable."""
    board = json.loads(json.dumps(board))
    for panel in board["panels"]:
        title = panel["title"]
        asked = SHARED.get(name, {}).get(title)
        if asked is not None:
            panel["targets"][0]["rawSql"] = panel_sql(title, asked)
            panel["description"] = (
                f"{DESCRIPTIONS[title]} Reads the shared question {asked}"
                " (readside/dashboard/queries.py)."
            )
        if panel["type"] == "table":
            _links(panel)
    variables = [v for v in board["templating"]["list"] if v["name"] != "dashboard"]
    board["templating"]["list"] = [*variables, DASHBOARD_VARIABLE]
    return board


def main() -> None:
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = rendered(path.name, json.loads(path.read_text()))
        path.write_text(json.dumps(board, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
