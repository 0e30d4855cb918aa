"""The dashboard's questions as SQL, one function each, all parameterised and read-only.

Each takes a clickhouse-connect client (a read side's guarded, read-only one)
and returns JSON-ready rows; :func:`page` answers a whole page load at once. Queries
read ``audit_events`` with ``FINAL``-free deduplication (``LIMIT 1 BY
event_id``) so they are right before background merges remove duplicates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from clickhouse_connect.driver.client import Client

from sinks.tables import LATEST_ALERTS

EVENTS = (
    "(SELECT * FROM audit_events WHERE event_time >= {since:DateTime64(6)} LIMIT 1 BY event_id)"
)


def _rows(client: Client, sql: str, parameters: dict[str, Any]) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=parameters)
    return [dict(zip(result.column_names, _plain(row), strict=True)) for row in result.result_rows]


def _plain(row: Sequence[Any]) -> list[Any]:
    return [_json_value(value) for value in row]


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def summary(client: Client, since: datetime) -> dict[str, Any]:
    sql = f"""
        SELECT count() AS calls, countIf(status != 'SUCCESS') AS failures,
               countIf(risk_level IN ('HIGH', 'CRITICAL')) AS high_risk,
               uniqExact(user_id) AS users, uniqExact(tool_name) AS tools
        FROM {EVENTS} WHERE event_type = 'TOOL_CALL' AND phase = 'RESULT'"""
    return _rows(client, sql, {"since": since})[0]


def calls_over_time(client: Client, since: datetime, bucket_minutes: int) -> list[dict[str, Any]]:
    sql = f"""
        SELECT toStartOfInterval(event_time, toIntervalMinute({{bucket:UInt32}})) AS bucket,
               tool_name AS tool, status, count() AS calls
        FROM {EVENTS} WHERE event_type = 'TOOL_CALL' AND phase = 'RESULT'
        GROUP BY bucket, tool, status ORDER BY bucket, tool, status"""
    return _rows(client, sql, {"since": since, "bucket": bucket_minutes})


def tools(client: Client, since: datetime) -> list[dict[str, Any]]:
    sql = f"""
        SELECT tool_name AS tool, count() AS calls,
               round(countIf(status != 'SUCCESS') / count(), 4) AS failure_rate,
               round(quantile(0.5)(duration_us / 1000), 3) AS p50_ms,
               round(quantile(0.95)(duration_us / 1000), 3) AS p95_ms,
               round(quantile(0.99)(duration_us / 1000), 3) AS p99_ms
        FROM {EVENTS} WHERE event_type = 'TOOL_CALL' AND phase = 'RESULT'
        GROUP BY tool ORDER BY calls DESC, tool"""
    return _rows(client, sql, {"since": since})


def risk_distribution(client: Client, since: datetime) -> list[dict[str, Any]]:
    sql = f"""
        SELECT toString(risk_level) AS level, count() AS events
        FROM {EVENTS} GROUP BY level
        ORDER BY indexOf(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'], level)"""
    return _rows(client, sql, {"since": since})


def top_users(client: Client, since: datetime, limit: int) -> list[dict[str, Any]]:
    sql = f"""
        SELECT user_id AS user, count() AS events,
               countIf(risk_level IN ('HIGH', 'CRITICAL')) AS high_risk, max(risk_score) AS max_risk
        FROM {EVENTS} WHERE user_id != ''
        GROUP BY user ORDER BY high_risk DESC, max_risk DESC, events DESC, user
        LIMIT {{limit:UInt32}}"""
    return _rows(client, sql, {"since": since, "limit": limit})


def alerts(client: Client, limit: int) -> list[dict[str, Any]]:
    sql = f"""
        SELECT alert_time, toString(severity) AS severity, detector, summary,
               user_id AS user, server_id, tool_name, count
        FROM {LATEST_ALERTS}
        ORDER BY alert_time DESC LIMIT {{limit:UInt32}}"""
    return _rows(client, sql, {"limit": limit})


SEARCH_FILTERS = {
    "user": "user_id = {user:String}",
    "tool": "tool_name = {tool:String}",
    "server": "server_id = {server:String}",
    "min_risk": "risk_score >= {min_risk:UInt8}",
    "until": "event_time < {until:DateTime64(6)}",
}


def search(
    client: Client, since: datetime, filters: dict[str, Any], limit: int
) -> list[dict[str, Any]]:
    """Events matching every given filter, newest first; unknown filters are ignored."""
    where = " AND ".join(["1", *(SEARCH_FILTERS[k] for k in filters if k in SEARCH_FILTERS)])
    sql = f"""
        SELECT event_time, event_id, toString(event_type) AS event_type, user_id AS user,
               server_id AS server, tool_name AS tool, toString(status) AS status,
               duration_us / 1000 AS duration_ms, risk_score,
               toString(risk_level) AS risk_level, risk_reasons
        FROM {EVENTS} WHERE {where}
        ORDER BY event_time DESC LIMIT {{limit:UInt32}}"""
    known = {k: v for k, v in filters.items() if k in SEARCH_FILTERS}
    return _rows(client, sql, {"since": since, "limit": limit, **known})


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
