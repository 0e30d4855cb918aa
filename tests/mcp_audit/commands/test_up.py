"""The store counts behind ``mcp-audit up``'s status line, on the real tables in chDB."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from mcp_audit.commands.up import _counts
from mcp_audit.status import Counts
from tests.readside.dashboard.store import create_tables, insert_alert, insert_event

pytestmark = pytest.mark.clickhouse


class _Store:
    """The one method of Pipeline that _counts uses, on a test database: a whole
    pipeline (broker, workers, sink) would add nothing to what this checks, the SQL."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def run_query(self, query: Callable[[Client], Any]) -> Any:
        return query(self.client)


def _beat(client: Client, when: datetime, stream: str, seq: int, spool: int) -> None:
    insert_event(
        client, when, event_type="HEARTBEAT", phase="EVENT", user="", tool="", duration_ms=0,
        stream_id=stream, seq=seq, heartbeat={"spool_bytes": spool},
    )  # fmt: skip


def test_counts_events_alerts_and_each_streams_latest_spool(clickhouse: Client) -> None:
    create_tables(clickhouse)
    now = datetime.now(UTC)
    for _ in range(3):
        insert_event(clickhouse, now, user="alice", tool="read_file", duration_ms=1.0)
    _beat(clickhouse, now - timedelta(seconds=20), "a", 1, 5000)
    _beat(clickhouse, now - timedelta(seconds=10), "a", 2, 1000)  # a's latest: 1000
    _beat(clickhouse, now - timedelta(seconds=10), "b", 7, 24)
    _beat(clickhouse, now - timedelta(hours=2), "c", 1, 10**6)  # too old to count
    alert_id = uuid.uuid4()
    insert_alert(clickhouse, now, alert_id=alert_id, count=1)
    insert_alert(clickhouse, now, alert_id=alert_id, count=2)

    assert _counts(_Store(clickhouse)) == Counts(stored=7, alerts=1, spool_bytes=1024)  # type: ignore[arg-type]
