"""Known rows for dashboard tests, in the audit tables' shape."""

from __future__ import annotations

import uuid
from datetime import datetime

from clickhouse_connect.driver.client import Client

EVENTS_DDL = """
CREATE TABLE audit_events (
    event_id UUID, call_id String, event_time DateTime64(6, 'UTC'),
    event_type LowCardinality(String), phase LowCardinality(String),
    server_id LowCardinality(String), tool_name LowCardinality(String), user_id String,
    status LowCardinality(String), duration_ms Float64, risk_score UInt8,
    risk_level LowCardinality(String), risk_reasons Array(String)
) ENGINE = ReplacingMergeTree ORDER BY (event_time, event_id)"""
ALERTS_DDL = """
CREATE TABLE audit_alerts (
    alert_id UUID, alert_time DateTime64(6, 'UTC'), severity LowCardinality(String),
    detector LowCardinality(String), summary String, user_id String,
    server_id String, tool_name String, count UInt32
) ENGINE = ReplacingMergeTree ORDER BY (alert_time, alert_id)"""


def create_tables(client: Client) -> None:
    client.command(EVENTS_DDL)
    client.command(ALERTS_DDL)


def insert_event(client: Client, when: datetime, **values: object) -> None:
    row = {
        "event_id": str(uuid.uuid4()),
        "call_id": str(uuid.uuid4()),
        "event_time": when,
        "event_type": "TOOL_CALL",
        "phase": "RESULT",
        "server_id": "files",
        "risk_reasons": [f"risk:{values.get('risk_level')}"],
        **values,
    }
    row["user_id"] = row.pop("user")
    row["tool_name"] = row.pop("tool")
    client.insert("audit_events", [list(row.values())], column_names=list(row))


def insert_alert(client: Client, when: datetime, **values: object) -> None:
    row = {
        "alert_id": str(uuid.uuid4()),
        "alert_time": when,
        "severity": "HIGH",
        "user_id": "mallory",
        "server_id": "files",
        "tool_name": "delete_records",
        "count": 3,
        **values,
    }
    client.insert("audit_alerts", [list(row.values())], column_names=list(row))
