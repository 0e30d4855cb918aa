"""Known rows for dashboard tests, written into the sink's real tables (its migrations)."""

from __future__ import annotations

import uuid
from datetime import datetime

from clickhouse_connect.driver.client import Client

from sinks.migrate import apply_migrations


def create_tables(client: Client) -> None:
    apply_migrations(client)


def insert_event(client: Client, when: datetime, **values: object) -> None:
    """One stored event, written as the sink writes it: into ``audit_events_incoming``,
    whose keep-first views (migration 120) store it and feed the aggregates (170).
    Columns not given take the table's defaults."""
    row: dict[str, object] = {
        "event_id": uuid.uuid4(),
        "call_id": str(uuid.uuid4()),
        "event_time": when,
        "enriched_time": when,
        "event_type": "TOOL_CALL",
        "phase": "RESULT",
        "server_id": "files",
        "retention_days": 365,
        "risk_reasons": [f"risk:{values.get('risk_level')}"],
        **values,
    }
    row["user_id"] = row.pop("user")
    row["tool_name"] = row.pop("tool")
    row["duration_us"] = int(float(str(row.pop("duration_ms"))) * 1000)
    client.insert("audit_events_incoming", [list(row.values())], column_names=list(row))


def insert_alert(client: Client, when: datetime, **values: object) -> None:
    row: dict[str, object] = {
        "alert_id": uuid.uuid4(),
        "alert_time": when,
        "severity": "HIGH",
        "user_id": "mallory",
        "server_id": "files",
        "tool_name": "delete_records",
        "count": 3,
        "window_start": when,
        "window_end": when,
        "retention_days": 2555,
        **values,
    }
    client.insert("audit_alerts", [list(row.values())], column_names=list(row))
