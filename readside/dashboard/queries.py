"""The dashboard's questions as SQL, one function each, all parameterised and read-only.

Each takes a clickhouse-connect client (a read side's guarded, read-only one)
and returns JSON-ready rows; :func:`page` answers a whole page load at once.

Panels read the aggregates the sink's views keep (migration 170:
``events_hourly``, ``user_activity_daily``), fed from ``events_first``, which
holds each event once however often it was stored, so they are exact before
merges without reading whole rows. A window starts anywhere: its whole hours (or
days) come from the aggregate and the part of its first hour (or day) from
``events_first``, each row of it taken as a one-row aggregate (:func:`_window`).
Duration percentiles are the one approximate figure: a DDSketch per day (migration
190), within :data:`RELATIVE_ACCURACY` of the true value. Measured on 10 M events
over 30 days, unmerged: docs/benchmarks.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from readside.dashboard.reading import json_value, newest_rows, plain
from sinks.tables import (
    CALL,
    FAILURE,
    FIRST,
    HIGH_RISK,
    LATEST_ALERTS,
    TOOL_CALL,
    listing_filter,
)

_SINCE = "{since:DateTime64(6)}"
# A window ends at ``until`` (excluded): Grafana's time range has an end; the built-in
# dashboard's windows run to now, so its end is past any event (NO_END).
_UNTIL = "{until:DateTime64(6)}"
NO_END = datetime(2106, 1, 1, tzinfo=UTC)
# A window from before any event: the built-in dashboard's alerts are every alert's.
NO_START = datetime(1970, 1, 1, tzinfo=UTC)
# Where a question's source has server_id and tool_name: the condition that narrows it
# to the servers and tools chosen. Every one here; Grafana puts its variables in
# (readside/dashboard/grafana.py), so both ask the same question.
SERVER_AND_TOOL = "1 /* every server and tool */"
# events_hourly's and user_activity_daily's columns as one event's values (their
# views count the same conditions), for the part of the window's first hour or day.
_EVENT_COLUMNS = (
    ("hour", "toStartOfHour(event_time)"),
    *((name, name) for name in ("event_type", "phase", "server_id", "tool_name", "status")),
    ("risk_level", "risk_level"),
    ("events", "toInt64(sign)"),
)
_USER_COLUMNS = (
    ("user_id", "user_id"),
    ("events", "toInt64(sign)"),
    ("high_risk", f"sign * ({HIGH_RISK})"),
    ("high_risk_calls", f"sign * ({CALL} AND {HIGH_RISK})"),
    ("tool_calls", f"sign * ({TOOL_CALL})"),
    ("max_risk", "if(sign = 1, risk_score, 0)"),
)


def _bounds(unit: str) -> tuple[str, str]:
    """The window's first and last whole ``unit`` (hour or day): ``table`` holds what
    lies between them, and events_first the parts before and after."""
    return (
        f"toStartOf{unit.title()}({_SINCE}) + INTERVAL 1 {unit.upper()}",
        f"toStartOf{unit.title()}({_UNTIL})",
    )


def _window(table: str, unit: str, columns: tuple[tuple[str, str], ...]) -> str:
    """``table``'s rows from ``since`` to ``until``: whole hours or days stored, the parts
    at either end computed.

    ``unit`` (hour or day) names ``table``'s time column."""
    first_whole, last_whole = _bounds(unit)
    names = ", ".join(name for name, _ in columns)
    values = ", ".join(f"{value} AS {name}" for name, value in columns)
    return f"""(
        SELECT {names} FROM {table} WHERE {unit} >= {first_whole} AND {unit} < {last_whole}
        UNION ALL
        SELECT {values} FROM events_first
        WHERE event_time >= {_SINCE} AND event_time < {_UNTIL}
          AND (event_time < {first_whole} OR event_time >= {last_whole}))"""


# Users by day: 2,000 users over 30 days are 60,000 rows, and 1.4 M by hour.
EVENTS_HOURLY = _window("events_hourly", "hour", _EVENT_COLUMNS)
USERS_DAILY = _window("user_activity_daily", "day", _USER_COLUMNS)

# Duration quantiles: a DDSketch per day (migration 190), each figure within 1% of the
# true percentile. The part of the window's first day is sketched from events_first's
# calls in one aggregation (a state per row, as _window makes, would be a dense array
# per row). Calls only, each event's first version, as the view takes them.
QUANTILES = "(0.01, 0.5, 0.95, 0.99)"
RELATIVE_ACCURACY = 0.01
_FIRST_DAY, _LAST_DAY = _bounds("day")
DURATIONS_DAILY = f"""(
        SELECT event_type, server_id, tool_name, duration_us FROM durations_daily
        WHERE day >= {_FIRST_DAY} AND day < {_LAST_DAY}
        UNION ALL
        SELECT event_type, server_id, tool_name,
               quantilesDDState{QUANTILES}(duration_us) AS duration_us
        FROM events_first
        WHERE event_time >= {_SINCE} AND event_time < {_UNTIL}
          AND (event_time < {_FIRST_DAY} OR event_time >= {_LAST_DAY}) AND {CALL} AND {FIRST}
        GROUP BY event_type, server_id, tool_name)"""


def _rows(client: Client, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    result = client.query(sql, parameters={"until": NO_END, **parameters})
    return [dict(zip(result.column_names, _plain(row), strict=True)) for row in result.result_rows]


def _plain(row: Sequence[Any]) -> list[Any]:
    return [json_value(value) for value in row]


# The window's completed tool calls on the servers and tools chosen, hour by hour, and
# how they are counted: the summary, the calls chart, the tools table and Grafana's
# stat panels all count them so, so their numbers agree.
_TOOL_CALLS = f"{EVENTS_HOURLY} WHERE {TOOL_CALL} AND {SERVER_AND_TOOL}"
_CALLS = "sum(events)"
_FAILURES = f"sumIf(events, {FAILURE})"
# The window's calls' durations, sketched (DURATIONS_DAILY), and their merged quantiles:
# [1] p50, [2] p95, [3] p99 in microseconds (quantilesDD's first argument is the accuracy).
_CALL_DURATIONS = f"{DURATIONS_DAILY} WHERE event_type = 'TOOL_CALL' AND {SERVER_AND_TOOL}"
_DURATION_QUANTILES = f"quantilesDDMerge{QUANTILES}(duration_us)"

# The questions Grafana asks too (readside/dashboard/grafana.py renders them for it).
# Users who made a tool call in the window. Counted per user by day, which holds no
# server or tool: the server and tool chosen do not narrow it.
ACTIVE_USERS = f"""
        SELECT uniqExact(user_id) AS users FROM {USERS_DAILY} WHERE tool_calls > 0"""
SUMMARY = f"""
        SELECT {_CALLS} AS calls, {_FAILURES} AS failures,
               sumIf(events, {HIGH_RISK}) AS high_risk, ({ACTIVE_USERS}) AS users,
               uniqExact(tool_name) AS tools
        FROM {_TOOL_CALLS}"""
# The summary's figures one at a time, as Grafana's stat panels show them; the failure
# rate and the p95 (the tools table's sketch, over every tool) are Grafana's alone.
# No row when there are no calls: a stat panel shows "No data", not 0 % or 0 ms.
TOOL_CALL_COUNT = f"""
        SELECT {_CALLS} AS calls FROM {_TOOL_CALLS}"""
FAILURE_RATE = f"""
        SELECT {_FAILURES} / {_CALLS} AS failure_rate FROM {_TOOL_CALLS}
        HAVING {_CALLS} > 0"""
P95_LATENCY = f"""
        SELECT round({_DURATION_QUANTILES}[2] / 1000, 3) AS p95_ms FROM {_CALL_DURATIONS}
        HAVING count() > 0"""


def summary(client: Client, since: datetime) -> dict[str, Any]:
    return _rows(client, SUMMARY, {"since": since})[0]


CALLS_HOURLY = f"""
        SELECT toDateTime64(toStartOfInterval(hour, toIntervalMinute({{bucket:UInt32}})), 6)
                   AS bucket, tool_name AS tool, status, {_CALLS} AS calls
        FROM {_TOOL_CALLS}
        GROUP BY bucket, tool, status ORDER BY bucket, tool, status"""
# Shorter buckets (the page asks for them up to a 24 h window) count events_first's rows.
CALLS_RECENT = f"""
        SELECT toDateTime64(toStartOfInterval(event_time, toIntervalMinute({{bucket:UInt32}})), 6)
                   AS bucket, tool_name AS tool, status, sum(sign) AS calls
        FROM events_first WHERE event_time >= {_SINCE} AND event_time < {_UNTIL} AND {TOOL_CALL}
        GROUP BY bucket, tool, status ORDER BY bucket, tool, status"""
TOOLS = f"""
        SELECT tool, calls, round(failures / calls, 4) AS failure_rate,
               round(q[1] / 1000, 3) AS p50_ms, round(q[2] / 1000, 3) AS p95_ms,
               round(q[3] / 1000, 3) AS p99_ms
        FROM (
            SELECT tool_name AS tool, {_CALLS} AS calls, {_FAILURES} AS failures
            FROM {_TOOL_CALLS}
            GROUP BY tool) AS counted
        LEFT JOIN (
            SELECT tool_name AS tool, {_DURATION_QUANTILES} AS q
            FROM {_CALL_DURATIONS}
            GROUP BY tool) AS timed
        USING tool
        ORDER BY calls DESC, tool"""
RISK = f"""
        SELECT toString(risk_level) AS level, sum(events) AS events
        FROM {EVENTS_HOURLY} WHERE {SERVER_AND_TOOL} GROUP BY level
        ORDER BY indexOf(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'], level)"""


def calls_over_time(client: Client, since: datetime, bucket_minutes: int) -> list[dict[str, Any]]:
    sql = CALLS_HOURLY if bucket_minutes % 60 == 0 else CALLS_RECENT
    return _rows(client, sql, {"since": since, "bucket": bucket_minutes})


def tools(client: Client, since: datetime) -> list[dict[str, Any]]:
    return _rows(client, TOOLS, {"since": since})


def risk_distribution(client: Client, since: datetime) -> list[dict[str, Any]]:
    return _rows(client, RISK, {"since": since})


# Per user by day: no server or tool column, so the dashboards' server and tool
# variables do not narrow it.
TOP_USERS = f"""
        SELECT user_id AS user, sum(events) AS events,
               sum(high_risk) AS high_risk, max(max_risk) AS max_risk
        FROM {USERS_DAILY} WHERE user_id != ''
        GROUP BY user ORDER BY high_risk DESC, max_risk DESC, events DESC, user
        LIMIT {{limit:UInt32}}"""


def top_users(client: Client, since: datetime, limit: int) -> list[dict[str, Any]]:
    return _rows(client, TOP_USERS, {"since": since, "limit": limit})


# The newest alerts, each once in its kept version (a folded alert's final count), kept
# in the window and on the servers and tools chosen.
ALERTS = f"""
        SELECT toString(alert_id) AS alert_id, alert_time, toString(severity) AS severity,
               detector, summary,
               user_id AS user, server_id, tool_name, count
        FROM {LATEST_ALERTS}
        WHERE alert_time >= {_SINCE} AND alert_time < {_UNTIL} AND {SERVER_AND_TOOL}
        ORDER BY alert_time DESC LIMIT {{limit:UInt32}}"""
# Alerts raised per ``interval`` seconds by severity, each alert once at the time first
# raised (a folded alert is stored again later with its final count). Grafana's alone.
ALERTS_RAISED = f"""
        SELECT toStartOfInterval(raised, toIntervalSecond({{interval:UInt32}})) AS time,
               severity, count() AS alerts
        FROM (
            SELECT alert_id, min(alert_time) AS raised, any(toString(severity)) AS severity
            FROM audit_alerts
            WHERE alert_time >= {_SINCE} AND alert_time < {_UNTIL} AND {SERVER_AND_TOOL}
            GROUP BY alert_id)
        GROUP BY time, severity ORDER BY time, severity"""


def alerts(client: Client, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` alerts of any time (the built-in dashboard's window is all)."""
    return _rows(client, ALERTS, {"since": NO_START, "limit": limit})


_LATEST_COLUMNS = ("event_type", "user_id", "server_id", "tool_name", "status", "duration_us",
                   "risk_score", "risk_level", "risk_reasons", "session_id")  # fmt: skip
# One user's events from ``since``, each in its latest version, through events_first's
# projection by user. Grouped, not sorted: on 10 M events ORDER BY event_time made
# ClickHouse read the whole table in its time order (624 ms), not the projection (82 ms).
_PICKED = ", ".join(f"v.{i} AS {name}" for i, name in enumerate(_LATEST_COLUMNS, 1))
_LATEST_OF_USER = f"""(
    SELECT event_time, event_id, {_PICKED}
    FROM (SELECT event_time, event_id, argMax(({", ".join(_LATEST_COLUMNS)}), enriched_time) AS v
          FROM events_first
          WHERE user_id = {{user:String}} AND event_time >= {_SINCE} AND sign = 1
          GROUP BY event_time, event_id))"""


SEARCH_FILTERS = {
    "user": "user_id = {user:String}",
    "tool": "tool_name = {tool:String}",
    "server": "server_id = {server:String}",
    "min_risk": "risk_score >= {min_risk:UInt8}",
    "until": "event_time < {until:DateTime64(6)}",
}


def _found(source: str, where: str) -> str:
    """The SQL listing ``source``'s events where ``where`` (a WHERE, or PREWHERE and
    WHERE) holds as :func:`search` does: newest first, ``limit`` of them."""
    return f"""
        SELECT event_time, event_id, toString(event_type) AS event_type, user_id AS user,
               server_id AS server, tool_name AS tool, toString(status) AS status,
               duration_us / 1000 AS duration_ms, risk_score,
               toString(risk_level) AS risk_level, risk_reasons
        FROM {source} {where}
        ORDER BY event_time DESC, event_id DESC LIMIT {{limit:UInt32}}"""


def _current(conditions: Sequence[str]) -> str:
    """A listing of the events from ``since`` as FINAL shows them, each once, where
    ``conditions`` hold (events_first, in time order: the newest are read first)."""
    return _found("events_first", listing_filter([f"event_time >= {_SINCE}", *conditions]))


# A search for high risk (sinks.tables.HIGH_RISK, by level) in the window, on the servers
# and tools chosen. The built-in searches by risk score (min_risk); Grafana asks this.
HIGH_RISK_EVENTS = _current([SEARCH_FILTERS["until"], HIGH_RISK, SERVER_AND_TOOL])


def search(
    client: Client, since: datetime, filters: dict[str, Any], limit: int
) -> list[dict[str, Any]]:
    """Events matching every given filter, newest first; unknown filters are ignored.

    events_first is in time order: the newest rows are read first, from the window's
    newest slice (:func:`~readside.dashboard.reading.newest_rows`), and the read stops
    at ``limit``; the few versions replaced later are left out. One user's events come
    from its projection by user."""
    conditions = [SEARCH_FILTERS[k] for k in filters if k in SEARCH_FILTERS]
    known = {k: v for k, v in filters.items() if k in SEARCH_FILTERS}
    if "user" in filters:
        sql = _found(_LATEST_OF_USER, f"WHERE {' AND '.join(['1', *conditions])}")
        return _rows(client, sql, {"since": since, "limit": limit, **known})
    return plain(newest_rows(client, _current(conditions), {"since": since, **known}, limit))


def event_record(client: Client, event_id: str) -> dict[str, Any] | None:
    """One event's whole stored record, found by its id alone (an alert's evidence).

    audit_events is sorted by user first; the bloom filter on event_id (migration
    170) skips the granules that cannot hold it. Of the stored versions (the first
    copy, and an INCOMPLETE attempt or copies inside one insert, migration 120) the
    last enriched wins, as in FINAL."""
    sql = """
        SELECT * FROM audit_events WHERE event_id = {event_id:UUID}
        ORDER BY enriched_time DESC LIMIT 1"""
    found = _rows(client, sql, {"event_id": event_id})
    return found[0] if found else None


def user_trail(client: Client, user: str, since: datetime, limit: int) -> list[dict[str, Any]]:
    """One user's events from ``since``, oldest first, each in its latest version."""
    sql = f"""
        SELECT event_time, event_id, toString(event_type) AS event_type, server_id AS server,
               tool_name AS tool, toString(status) AS status, duration_us / 1000 AS duration_ms,
               risk_score, toString(risk_level) AS risk_level, session_id
        FROM {_LATEST_OF_USER}
        ORDER BY event_time, event_id LIMIT {{limit:UInt32}}"""
    return _rows(client, sql, {"user": user, "since": since, "limit": limit})


def page(client: Client, since: datetime, bucket_minutes: int) -> dict[str, Any]:
    """Every panel of one page load, so that the load is one recorded access."""
    return {
        "summary": summary(client, since),
        "calls": calls_over_time(client, since, bucket_minutes),
        "tools": tools(client, since),
        "risk": risk_distribution(client, since),
        "users": top_users(client, since, 10),
        "alerts": alerts(client, 50),
    }
