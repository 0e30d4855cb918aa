"""Retention by TTL per row, and legal holds keeping rows past it until released."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver.client import Client

from readside import holds
from readside.holds import active, new_hold, place, release
from sinks.enriched import ENRICHED
from sinks.migrate import apply_migrations
from sinks.writer import AvroWriter
from tests.sinks.helpers import ENCODE_ENRICHED, files_of, varied_event

pytestmark = pytest.mark.clickhouse
OLD = datetime(2020, 1, 6, 12, tzinfo=UTC)  # far past any retention below
# Rows "expiring soon" must outlive their insert and the hold's placement (a merge drops
# rows already past TTL), which took over 2 s on a loaded machine; tests then wait only
# for what is left of this, so slack costs nothing on a quiet one.
SOON_S = 10.0


def wait_until_expired(written_at: float) -> None:
    """Sleep until rows written ``expiring_soon`` at ``written_at`` are past retention."""
    time.sleep(max(0.0, written_at + SOON_S + 1 - time.monotonic()))


def old_events(
    count: int, retention_days: int, server: str = "files", expiring_soon: bool = False
) -> list[bytes]:
    """Events already past ``retention_days``, or (``expiring_soon``) a moment before it."""
    soon = datetime.now(UTC) - timedelta(days=retention_days, seconds=-SOON_S)
    values = []
    for index in range(count):
        record = varied_event(index)
        when = soon if expiring_soon else OLD.replace(minute=index % 60)
        record["event"]["event_time"] = when
        record["event"]["target"]["server_id"] = server
        record["retention_days"] = retention_days
        values.append(ENCODE_ENRICHED(record))
    return values


def expire(client: Client) -> dict[str, int]:
    """Run TTL now (a merge does it), then count what is left per user: the same in
    audit_events and in events_first, which the dashboard's search and trails read."""
    left = []
    for table in ("audit_events", "events_first"):
        client.command(f"OPTIMIZE TABLE {table} FINAL", settings={"mutations_sync": 2})
        rows = "sum(sign)" if table == "events_first" else "count()"  # its versions' signs
        result = client.query(f"SELECT user_id, {rows} FROM {table} GROUP BY user_id")
        left.append({user: int(count) for user, count in result.result_rows if count})
    assert left[0] == left[1], "events_first keeps other rows than audit_events"
    return left[0]


def test_ttl_drops_expired_rows_and_keeps_recent(writer: AvroWriter, clickhouse: Client) -> None:
    recent = [ENCODE_ENRICHED(varied_event(i)) for i in range(5)]  # 2026, 2190 days
    writer.write(ENRICHED, files_of(old_events(14, 90) + recent), "t")

    left = expire(clickhouse)

    assert sum(left.values()) == 5


def test_subject_hold_keeps_rows_past_ttl_until_released(
    writer: AvroWriter, clickhouse: Client
) -> None:
    written_at = time.monotonic()
    writer.write(ENRICHED, files_of(old_events(14, 1, expiring_soon=True)), "t")
    subject = f"{3:064x}"  # varied_event: users are index % 7
    hold = place(clickhouse, new_hold("subject", subject), operator="legal")
    wait_until_expired(written_at)  # now every row is past its retention

    assert expire(clickhouse) == {subject: 2}
    assert [h.hold_id for h in active(clickhouse)] == [hold.hold_id]

    release(clickhouse, hold.hold_id, operator="legal")
    assert expire(clickhouse) == {}
    assert active(clickhouse) == []


def test_rows_inserted_under_a_hold_are_marked(writer: AvroWriter, clickhouse: Client) -> None:
    place(clickhouse, new_hold("server", "payments"), operator="legal")
    writer.write(ENRICHED, files_of(old_events(4, 90, "payments") + old_events(3, 90)), "t")

    assert sum(expire(clickhouse).values()) == 4


def test_overlapping_holds_release_one_keeps_the_other(
    writer: AvroWriter, clickhouse: Client
) -> None:
    written_at = time.monotonic()
    writer.write(ENRICHED, files_of(old_events(7, 1, expiring_soon=True)), "t")
    start = datetime.now(UTC) - timedelta(days=2)
    by_time = place(clickhouse, new_hold("time", time_from=start, time_to=datetime.now(UTC)), "x")
    by_subject = place(clickhouse, new_hold("subject", f"{1:064x}"), "x")
    wait_until_expired(written_at)

    release(clickhouse, by_subject.hold_id, "x")
    assert sum(expire(clickhouse).values()) == 7  # the time hold still covers all of them

    release(clickhouse, by_time.hold_id, "x")
    assert expire(clickhouse) == {}


def test_a_period_past_2106_keeps_the_row_instead_of_wrapping(
    writer: AvroWriter, clickhouse: Client
) -> None:
    """retention_days is added to a 32-bit DateTime: 30,000 days from 2026 wrapped to 1972."""
    long_kept = []
    for index in range(3):
        record = varied_event(index)
        record["retention_days"] = 30_000 + index * 3_250  # up to the range's 36,500
        long_kept.append(ENCODE_ENRICHED(record))
    writer.write(ENRICHED, files_of(long_kept + old_events(4, 90)), "t")

    assert sum(expire(clickhouse).values()) == 3
    clickhouse.command(
        "INSERT INTO audit_alerts (alert_id, alert_time, retention_days) VALUES"
        " (generateUUIDv4(), now64(6), 36500), (generateUUIDv4(), '2020-01-01', 30)"
    )
    clickhouse.command("OPTIMIZE TABLE audit_alerts FINAL", settings={"mutations_sync": 2})
    assert clickhouse.query("SELECT retention_days FROM audit_alerts").result_rows == [(36500,)]


def test_holds_placed_before_events_first_kept_them_reach_it_on_upgrade(
    clickhouse: Client, clickhouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store from before migration 200: its holds marked the audit tables only."""
    apply_migrations(clickhouse, until=190)
    monkeypatch.setattr(holds, "HOLD_TABLES", {"audit_events": "event_time"})
    writer = AvroWriter(clickhouse, clickhouse_url, parse_threads=2)
    try:
        written_at = time.monotonic()
        writer.write(ENRICHED, files_of(old_events(14, 1, expiring_soon=True)), "t")
        subject = f"{3:064x}"
        place(clickhouse, new_hold("subject", subject), operator="legal")
        monkeypatch.undo()
        apply_migrations(clickhouse)
        wait_until_expired(written_at)
        deadline = time.monotonic() + 60  # the migration's backfill is a background mutation
        while clickhouse.query(
            "SELECT count() FROM system.mutations WHERE database = currentDatabase()"
            " AND table = 'events_first' AND NOT is_done"
        ).result_rows != [(0,)]:
            assert time.monotonic() < deadline, "the backfill mutation did not finish"
            time.sleep(0.1)

        assert expire(clickhouse) == {subject: 2}
    finally:
        writer.close()
