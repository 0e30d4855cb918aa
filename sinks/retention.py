"""What the store keeps and when it goes: per classification, period, oldest row, next expiry."""

from __future__ import annotations

from typing import Any

from clickhouse_connect.driver.client import Client

REPORT_SQL = """
SELECT
    classification,
    retention_days,
    count() AS rows,
    min(event_time) AS oldest,
    min(event_time) + toIntervalDay(retention_days) AS next_expiry,
    countIf(event_time + toIntervalDay(retention_days) < now() + INTERVAL 30 DAY)
        AS expiring_within_30_days,
    countIf(legal_hold) AS held
FROM audit_events FINAL
GROUP BY classification, retention_days
ORDER BY classification, retention_days
"""
ALERTS_SQL = """
SELECT 'alerts' AS classification, retention_days, count() AS rows, min(alert_time) AS oldest,
    min(alert_time) + toIntervalDay(retention_days) AS next_expiry,
    countIf(alert_time + toIntervalDay(retention_days) < now() + INTERVAL 30 DAY)
        AS expiring_within_30_days,
    countIf(legal_hold) AS held
FROM audit_alerts FINAL
GROUP BY retention_days
"""


def retention_report(client: Client) -> tuple[list[str], list[tuple[Any, ...]]]:
    """One row per (classification, retention period), alerts last."""
    events = client.query(REPORT_SQL)
    alerts = client.query(ALERTS_SQL)
    rows = [tuple(r) for r in events.result_rows] + [tuple(r) for r in alerts.result_rows]
    return list(events.column_names), rows
