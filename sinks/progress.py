"""What the store holds, for the pipeline's own status line: events, alerts, spooled bytes.

The pipeline's monitoring, read on the store owner's connection; it is not a
person's access to the trail, so it does not pass the read side's door.
"""

from __future__ import annotations

from dataclasses import dataclass

from clickhouse_connect.driver.client import Client

from sinks.tables import latest_heartbeat


@dataclass(frozen=True)
class Counts:
    """What the store knows: events, alerts, and bytes in producers' spools."""

    stored: int
    alerts: int
    spool_bytes: int


# The spool is what each producer stream's latest heartbeat of the last ten minutes reports.
COUNTS = (
    "SELECT (SELECT count() FROM (SELECT event_id FROM audit_events LIMIT 1 BY event_id)),"
    " (SELECT count() FROM (SELECT alert_id FROM audit_alerts LIMIT 1 BY alert_id)),"
    f" (SELECT sum(value) FROM {latest_heartbeat('spool_bytes', 'now64() - INTERVAL 10 MINUTE')})"
)


def store_counts(client: Client) -> Counts:
    rows = client.query(COUNTS).result_rows
    return Counts(int(rows[0][0]), int(rows[0][1]), int(rows[0][2] or 0))
