"""The built-in dashboard's questions as the provisioned Grafana dashboards ask them.

One definition of each question lives in :mod:`readside.dashboard.queries`; this
module renders it for the grafana-clickhouse-datasource plugin (v4): the window's
bounds become the ``$__fromTime`` and ``$__toTime`` macros, the server and tool
condition the dashboards' ``$server`` and ``$tool`` variables, and a bucket whole
hours of Grafana's ``$__interval_s`` (the hourly aggregate answers the calls panel
at any range). ``python -m readside.dashboard.grafana`` writes the rendered SQL and
the drill-down links into ``deploy/grafana/dashboards/*.json``;
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
_MACROS = {
    "{since:DateTime64(6)}": "$__fromTime",
    "{until:DateTime64(6)}": "$__toTime",
    "{bucket:UInt32}": "greatest(60, intDiv($__interval_s, 3600) * 60)",
    "{limit:UInt32}": "20",
    queries.SERVER_AND_TOOL: (
        "$__conditionalAll(server_id IN (${server:singlequote}), $server)"
        " AND $__conditionalAll(tool_name IN (${tool:singlequote}), $tool)"
    ),
}
# Panel title -> the question it asks, by dashboard file, and what the panel says of it.
SHARED = {
    "mcp-audit.json": {
        "Calls by tool and status": queries.CALLS_HOURLY,
        "Failure rate and latency per tool": queries.TOOLS,
    },
    "mcp-audit-security.json": {
        "Events by risk level": queries.RISK,
        "Top users by risk": queries.TOP_USERS,
    },
}
_SOURCE = (
    " The built-in dashboard's question (readside/dashboard/queries.py): whole hours from"
    " events_hourly, the range's ends from events_first; each event once, in the version"
    " the store keeps, before merges."
)
DESCRIPTIONS = {
    "Calls by tool and status": "Completed tool calls per hour, by tool and status." + _SOURCE,
    "Failure rate and latency per tool": (
        "Per tool, busiest first: calls, the share that failed (ERROR, DENIED, TIMEOUT,"
        " CANCELLED), and duration percentiles from a DDSketch per day, each within 1% of the"
        " true value." + _SOURCE
    ),
    "Events by risk level": "Every event in the range by its risk level." + _SOURCE,
    "Top users by risk": (
        "Users with the most HIGH or CRITICAL events, then the highest risk score: 20, from"
        " user_activity_daily in whole days and events_first at the range's ends; each event"
        " once, in the version the store keeps. Counted per user, not per tool: the server"
        " and tool variables do not narrow it. A user opens their trail in mcp-audit."
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


def for_grafana(sql: str) -> str:
    """``sql`` with its parameters as the plugin's macros and the dashboards' variables."""
    for parameter, macro in _MACROS.items():
        sql = sql.replace(parameter, macro)
    return textwrap.dedent(sql).strip()


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
        question = SHARED.get(name, {}).get(panel["title"])
        if question is not None:
            panel["targets"][0]["rawSql"] = for_grafana(question)
            panel["description"] = DESCRIPTIONS[panel["title"]]
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
