"""ClickHouse decodes and flattens the Avro; a retried batch never doubles rows."""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import fastavro
import pytest
from clickhouse_connect.driver.client import Client

from schemas import registry
from schemas.wire import SINGLE_OBJECT_MAGIC, Deserializer
from sinks.clickhouse import embedded_path
from sinks.enriched import ENRICHED
from sinks.errors import BatchRejectedError
from sinks.migrate import apply_migrations
from sinks.ocf import container_file
from sinks.prepare import prepare
from sinks.store import reencoder
from sinks.tables import alerts_spec
from sinks.writer import SCRATCH, AvroWriter, write_file
from tests.schemas.factories import alert, enriched_event
from tests.sinks.helpers import (
    ENCODE_ALERT,
    ENCODE_ENRICHED,
    FakeMessage,
    files_of,
    messages,
    varied_event,
)

pytestmark = pytest.mark.clickhouse


def count(client: Client, table: str = "audit_events", final: bool = False) -> int:
    query = f"SELECT count() FROM {table}{' FINAL' if final else ''}"
    return int(client.query(query).result_rows[0][0])


def test_nested_record_lands_flattened(writer: AvroWriter, clickhouse: Client) -> None:
    record = enriched_event()
    writer.write(ENRICHED, files_of([ENCODE_ENRICHED(record)], 1), "t1")

    result = clickhouse.query("SELECT * FROM audit_events")
    row = dict(zip(result.column_names, result.result_rows[0], strict=True))
    event = record["event"]
    assert str(row["event_id"]) == event["event_id"]
    assert row["event_time"].replace(tzinfo=None) == event["event_time"].replace(tzinfo=None)
    assert row["user_id"] == event["actor"]["user_pseudonym"]
    assert (row["server_id"], row["tool_name"]) == ("files", "read_file")
    assert (row["status"], row["duration_us"], row["result_size"]) == ("SUCCESS", 1234, 42)
    assert row["classification"] == "HIGH" and row["risk_level"] == "MEDIUM"
    assert row["agent_id"] == "agent-7" and row["agent_name"] == ""  # null -> ''
    assert row["tool_read_only"] is True and row["tool_destructive"] is False
    assert row["anomalies"] == [
        {"detector": "first_seen_tool", "score": 1.0, "detail": "read_file"}
    ]
    assert row["args"] == "" and row["arg_keys"] == ["path"]
    integrity = event["integrity"]
    assert (row["stream_id"], row["seq"], row["hash"]) == ("stream-1", 1, integrity["hash"])
    assert row["retention_days"] == 2190 and row["legal_hold"] is False
    assert row["heartbeat"] == {}


def test_heartbeat_and_missing_outcome(writer: AvroWriter, clickhouse: Client) -> None:
    record = enriched_event()
    record["event"]["outcome"] = None
    record["event"]["heartbeat"] = {
        "interval_s": 30, "events_sent": 9, "events_spooled": 0, "events_dropped": 1,
        "redactions": 2, "audit_failures": 0, "spool_bytes": 0, "final": True,
    }  # fmt: skip
    writer.write(ENRICHED, files_of([ENCODE_ENRICHED(record)], 1), "t1")

    result = clickhouse.query("SELECT status, heartbeat FROM audit_events")
    status, heartbeat = result.result_rows[0]
    assert status == ""  # no outcome: nothing to hash, nothing to count as a failure
    assert heartbeat["events_sent"] == 9 and heartbeat["interval_s"] == 30
    assert heartbeat["final"] == 1


_OLDER = [
    w for w in registry.released().values()
    if w.record == "EnrichedEvent" and w != registry.current("EnrichedEvent")
]  # fmt: skip


@pytest.mark.parametrize("older", _OLDER, ids=lambda w: w.fingerprint_hex)
def test_events_of_an_older_schema_version_are_stored(
    older: registry.WriterSchema, writer: AvroWriter, clickhouse: Client
) -> None:
    """What a processor not yet upgraded writes: the heartbeat tuple has fewer leaves."""
    record = enriched_event()
    record["event"]["heartbeat"] = {"interval_s": 30, "events_sent": 9}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, older.parsed, record)
    old = FakeMessage(SINGLE_OBJECT_MAGIC + older.fingerprint + body.getvalue(), 0)
    new = FakeMessage(ENCODE_ENRICHED(varied_event(1)), 1)

    prepared = prepare("EnrichedEvent", [old, new], 1, reencoder("EnrichedEvent", None))
    assert prepared.rejected == []
    writer.write(ENRICHED, prepared.files, "t-old")

    assert count(clickhouse) == 2
    [(heartbeat,)] = clickhouse.query(
        "SELECT heartbeat FROM audit_events WHERE notEmpty(heartbeat)"
    ).result_rows
    assert heartbeat["events_sent"] == 9
    assert heartbeat["final"] == 0  # the default: an old producer never says it stopped


def test_retried_batch_is_stored_once(writer: AvroWriter, clickhouse: Client) -> None:
    """Guard: fails if insert deduplication is off (count without FINAL, before merges)."""
    files = files_of([m.value() for m in messages(500)])

    writer.write(ENRICHED, files, "enriched/0:0-499")
    writer.write(ENRICHED, files, "enriched/0:0-499")

    assert count(clickhouse) == 500
    hourly = clickhouse.query("SELECT sum(calls) FROM calls_hourly").result_rows[0][0]
    assert hourly == 500  # the aggregates were deduplicated too


def test_duplicates_from_other_batches_vanish_with_final(
    writer: AvroWriter, clickhouse: Client
) -> None:
    values = [m.value() for m in messages(50)]
    writer.write(ENRICHED, files_of(values), "batch-a")
    writer.write(ENRICHED, files_of(values[10:]), "batch-b")  # re-read after a restart

    assert count(clickhouse, final=True) == 50
    clickhouse.command("OPTIMIZE TABLE audit_events FINAL")
    assert count(clickhouse) == 50


def test_deduplication_window_is_configured(clickhouse: Client) -> None:
    apply_migrations(clickhouse)
    ddl = clickhouse.command("SHOW CREATE TABLE audit_events")
    assert "ReplacingMergeTree" in str(ddl)
    assert "non_replicated_deduplication_window = 10000" in str(ddl)


def test_content_clickhouse_refuses_is_a_rejection(writer: AvroWriter) -> None:
    bad = enriched_event()
    bad["event"]["event_id"] = "not-a-uuid"

    with pytest.raises(BatchRejectedError) as caught:
        writer.write(ENRICHED, files_of([ENCODE_ENRICHED(bad)], 1), "t-bad")
    assert caught.value.fields["table"] == "audit_events"


def test_alerts_land_with_their_retention(writer: AvroWriter, clickhouse: Client) -> None:
    record = alert()
    spec = alerts_spec(3000)
    fingerprint = registry.current("Alert").fingerprint
    writer.write(spec, [container_file(fingerprint, [ENCODE_ALERT(record)])], "a1")

    row = clickhouse.query("SELECT alert_id, severity, user_id, retention_days FROM audit_alerts")
    assert row.result_rows == [(uuid.UUID(record["alert_id"]), "HIGH", "a" * 64, 3000)]


def test_rows_of_an_erased_subject_arrive_cleared(writer: AvroWriter, clickhouse: Client) -> None:
    erased = f"{2:064x}"  # varied_event: users are index % 7
    clickhouse.insert("erased_subjects", [[erased, "dpo"]], column_names=["user_id", "erased_by"])
    writer.write(ENRICHED, files_of([m.value() for m in messages(14)]), "late")

    result = clickhouse.query("SELECT user_id, ip, hash != '' FROM audit_events")
    cleared = {(user == erased, ip == "", hashed) for user, ip, hashed in result.result_rows}
    assert cleared == {(True, True, True), (False, False, True)}


def test_aggregates_follow_the_events(writer: AvroWriter, clickhouse: Client) -> None:
    values = [m.value() for m in messages(70)]  # 7 users, 10 events each, all MEDIUM risk
    writer.write(ENRICHED, files_of(values), "agg")

    hourly = clickhouse.query(
        "SELECT sum(calls), sum(errors), quantilesMerge(0.5, 0.95, 0.99)(duration_us)"
        " FROM calls_hourly"
    ).result_rows
    assert hourly == [(70, 0, [1234.0, 1234.0, 1234.0])]
    users = clickhouse.query(
        "SELECT user_id, sum(events), uniqMerge(sessions) FROM user_activity_daily"
        " GROUP BY user_id ORDER BY user_id"
    ).result_rows
    assert [(events, sessions) for _, events, sessions in users] == [(10, 10)] * 7
    risk = clickhouse.query(
        "SELECT risk_level, sum(events), sum(risk_score_sum) FROM risk_daily GROUP BY risk_level"
    ).result_rows
    assert risk == [("MEDIUM", 70, 70 * 40)]


def test_scratch_left_by_a_killed_sink_is_removed_at_the_next_start(
    writer: AvroWriter, clickhouse: Client, clickhouse_url: str
) -> None:
    """A SIGKILL mid-insert leaves the batch's files (whole audit rows) in the scratch
    directory; the next writer on the data directory removes them, not a live writer's."""
    left = Path(embedded_path(clickhouse_url)) / SCRATCH / "killed"
    left.mkdir(parents=True)
    (left / "3_0.avro").write_bytes(b"rows of a batch in flight")

    AvroWriter(clickhouse, clickhouse_url).close()

    assert not left.exists()
    writer.write(ENRICHED, files_of([m.value() for m in messages(10)]), "still-mine")
    assert count(clickhouse) == 10


def test_a_file_of_more_buffers_than_one_writev_takes_is_written_whole(tmp_path: Path) -> None:
    buffers = [f"{index},".encode() for index in range(3 * os.sysconf("SC_IOV_MAX") + 7)]

    write_file(str(tmp_path / "f"), buffers)

    assert (tmp_path / "f").read_bytes() == b"".join(buffers)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o600


def test_a_batch_given_as_buffers_lands_every_row(writer: AvroWriter, clickhouse: Client) -> None:
    """The sink's own path: prepare() hands the writer buffers, not joined files."""
    batch = messages(2 * os.sysconf("SC_IOV_MAX") + 5)
    prepared = prepare("EnrichedEvent", batch, 2, reencoder("EnrichedEvent", None))

    writer.write(ENRICHED, prepared.files, "buffers-1")

    assert all(isinstance(part, list) for part in prepared.files)
    assert count(clickhouse) == len(batch)
    stored = {
        str(row[0]) for row in clickhouse.query("SELECT event_id FROM audit_events").result_rows
    }
    assert stored == {Deserializer("EnrichedEvent")(m.value())["event"]["event_id"] for m in batch}


def test_a_batch_past_the_default_wide_threshold_lands_compact(
    writer: AvroWriter, clickhouse: Client
) -> None:
    """Guard for migration 003: one file per part, not two per column, for a sink batch."""
    writer.write(ENRICHED, files_of([m.value() for m in messages(30_000)], parts=1), "big-1")

    [(part_type, uncompressed)] = clickhouse.query(
        "SELECT part_type, data_uncompressed_bytes FROM system.parts"
        " WHERE database = currentDatabase() AND table = 'audit_events' AND active"
    ).result_rows
    assert uncompressed > 10 * 1024 * 1024  # the default threshold would have made it wide
    assert part_type == "Compact"
