"""The dashboard's alert query against the real alerts table: a folded alert shows once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from clickhouse_connect.driver.client import Client

from readside.dashboard import queries
from tests.readside.dashboard.store import create_tables, insert_alert

pytestmark = [pytest.mark.clickhouse]


def test_a_folded_alert_is_one_row_with_its_final_count(clickhouse: Client) -> None:
    create_tables(clickhouse)
    raised, alert_id = datetime.now(UTC), uuid.uuid4()
    # The processors send an alert at once, then again with its final count when its
    # window closes: same id and alert_time (processors.alerts.AlertFolder).
    insert_alert(clickhouse, raised, alert_id=alert_id, count=1)
    insert_alert(clickhouse, raised, alert_id=alert_id, count=4)
    insert_alert(clickhouse, raised, count=1)

    shown = queries.alerts(clickhouse, limit=10)
    assert sorted(a["count"] for a in shown) == [1, 4]
    assert clickhouse.command("SELECT count() FROM audit_alerts FINAL") == 2
