"""Every stored row carries a hash of what a reader relies on; a later copy never replaces it.

The attacks of issue 14, run on a real embedded store: change risk, tags, anomalies,
personal values or an alert straight in chDB (verify's row check names the row), and
republish a stored event with different enrichment and a later ``enriched_time``
(the first copy stays, the conflict is recorded and alerted).
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from datetime import timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from readside.holds import new_hold, place, release
from readside.subjects import erase
from schemas import registry
from schemas.kafka import KafkaSettings
from schemas.wire import Deserializer
from sinks.conflicts import DETECTOR, ConflictAlerts
from sinks.enriched import ENRICHED
from sinks.ocf import container_file
from sinks.row_check import check_rows
from sinks.tables import alerts_spec
from sinks.writer import AvroWriter
from tests.schemas.factories import alert, enriched_event
from tests.sinks.helpers import ENCODE_ALERT, ENCODE_ENRICHED, files_of, varied_event

pytestmark = pytest.mark.clickhouse


def store(writer: AvroWriter, records: list[dict[str, Any]], token: str | None = None) -> None:
    values = [ENCODE_ENRICHED(r) for r in records]
    writer.write(ENRICHED, files_of(values, parts=1), token or str(uuid.uuid4()))


def store_alerts(writer: AvroWriter, records: list[dict[str, Any]]) -> None:
    fingerprint = registry.current("Alert").fingerprint
    files = [container_file(fingerprint, [ENCODE_ALERT(r) for r in records])]
    writer.write(alerts_spec(365), files, str(uuid.uuid4()))


def critical(index: int) -> dict[str, Any]:
    record = varied_event(index)
    record["event"]["actor"]["ip"] = "203.0.113.9"
    record["event"]["payload"]["args_json"] = '{"table": "patients"}'
    anomaly = {"detector": "enumeration", "score": 0.9, "detail": "42 ids"}
    record.update(
        risk_score=100, risk_level="CRITICAL", compliance_tags=["HIPAA"], anomalies=[anomaly]
    )
    return record


def test_an_honest_store_hashes_every_row_as_stored(writer: AvroWriter, clickhouse: Client) -> None:
    store(writer, [critical(i) for i in range(20)])
    store_alerts(writer, [alert(), alert()])
    check = check_rows(clickhouse)
    assert check.ok and check.checked == 22 and check.unhashed == 0
    hashes = clickhouse.query("SELECT content_hash FROM audit_events").result_rows
    assert all(len(h) == 128 and int(h, 16) >= 0 for (h,) in hashes)
    assert len({h for (h,) in hashes}) == 20


def test_the_hash_is_sha256_of_rowbinary_as_a_third_party_reads_it(
    writer: AvroWriter, clickhouse: Client
) -> None:
    # Recomputed outside ClickHouse's SHA256: the row's RowBinary from clickhouse-connect's
    # raw stream (its own reader of the format), hashed with hashlib.
    store(writer, [critical(1)])
    personal = ", ".join(ENRICHED.personal or {})
    raw = clickhouse.raw_query(f"SELECT {personal} FROM audit_events", fmt="RowBinary")
    [(stored, content)] = clickhouse.query(
        "SELECT personal_hash, content_hash FROM audit_events"
    ).result_rows
    assert hashlib.sha256(raw).hexdigest() == stored
    # content_hash: the stable half over what every version keeps, then the rest over
    # the varying columns and the stable half (sinks.tables.TableSpec.content_hash_sql).
    kept = ", ".join(ENRICHED.stable_columns())
    stable = hashlib.sha256(
        clickhouse.raw_query(f"SELECT {kept} FROM audit_events", fmt="RowBinary")
    ).hexdigest()
    varying = ", ".join(ENRICHED.varying)
    rest = clickhouse.raw_query(
        f"SELECT {varying}, {{stable:String}} FROM audit_events",
        parameters={"stable": stable}, fmt="RowBinary",
    )  # fmt: skip
    assert content == stable + hashlib.sha256(rest).hexdigest()


@pytest.mark.parametrize(
    ("assignment", "what"),
    [
        ("risk_score = 0, risk_level = 'LOW'", "content"),
        ("compliance_tags = []", "content"),
        ("anomalies = []", "content"),
        ("classification = 'LOW', call_state = 'COMPLETE'", "content"),
        ("status = 'ERROR', tool_name = 'delete_records'", "content"),
        ("content_hash = lower(hex(SHA256('forged')))", "content"),
        ("ip = '198.51.100.1'", "personal"),
        ("args = '{}'", "personal"),
        ("error_message = 'nothing happened'", "personal"),
        ("attributes = map('operator', 'nobody')", "personal"),
        ("legal_hold = true", "legal hold"),  # no hold covers it: retention would be blocked
    ],
)
def test_a_field_altered_in_the_store_names_its_row(
    writer: AvroWriter, clickhouse: Client, assignment: str, what: str
) -> None:
    records = [critical(i) for i in range(5)]
    store(writer, records)
    victim = records[2]["event"]["event_id"]
    clickhouse.command(
        f"ALTER TABLE audit_events UPDATE {assignment} WHERE event_id = toUUID('{victim}')",
        settings={"mutations_sync": 2},
    )
    check = check_rows(clickhouse)
    assert [(a.row_id, a.what) for a in check.altered] == [(victim, what)]
    assert victim in check.altered[0].describe()


def test_an_altered_alert_names_its_row(writer: AvroWriter, clickhouse: Client) -> None:
    alerts = [alert(), alert()]
    alerts[1]["alert_id"] = str(uuid.uuid4())
    store_alerts(writer, alerts)
    clickhouse.command(
        "ALTER TABLE audit_alerts UPDATE severity = 'LOW', count = 1"
        f" WHERE alert_id = toUUID('{alerts[1]['alert_id']}')",
        settings={"mutations_sync": 2},
    )
    [altered] = check_rows(clickhouse).altered
    assert (altered.table, altered.row_id, altered.what) == (
        "audit_alerts",
        alerts[1]["alert_id"],
        "content",
    )


def test_a_legal_hold_cleared_by_hand_is_named_and_holds_placed_are_not(
    writer: AvroWriter, clickhouse: Client
) -> None:
    # Clearing the flag of a held row lets retention delete it: the row check compares
    # every row's flag with the recorded holds.
    records = [critical(i) for i in range(4)]
    store(writer, records)
    alerts = [alert(count=1)]
    store_alerts(writer, alerts)
    victim = records[1]["event"]["event_id"]
    subject = records[1]["event"]["actor"]["user_pseudonym"]
    hold = place(clickhouse, new_hold("subject", subject), "counsel@example.com")
    held_rows = clickhouse.query("SELECT count() FROM audit_events WHERE legal_hold")
    assert held_rows.result_rows[0][0] >= 1 and check_rows(clickhouse).ok
    clickhouse.command(
        f"ALTER TABLE audit_events UPDATE legal_hold = false WHERE event_id = toUUID('{victim}')",
        settings={"mutations_sync": 2},
    )
    check = check_rows(clickhouse)
    assert [(a.row_id, a.what) for a in check.altered] == [(victim, "legal hold")]
    assert "legal_hold says otherwise than the recorded holds" in check.altered[0].describe()
    release(clickhouse, hold.hold_id, "counsel@example.com")  # recomputes every covered row
    assert check_rows(clickhouse).ok
    clickhouse.command(
        "ALTER TABLE audit_alerts UPDATE legal_hold = true"
        f" WHERE alert_id = toUUID('{alerts[0]['alert_id']}')",
        settings={"mutations_sync": 2},
    )
    assert [(a.table, a.what) for a in check_rows(clickhouse).altered] == [
        ("audit_alerts", "legal hold")
    ]


def test_a_recorded_erasure_is_told_from_an_alteration(
    writer: AvroWriter, clickhouse: Client
) -> None:
    records = [critical(i) for i in range(14)]  # users cycle over 7 pseudonyms
    store(writer, records)
    subject = records[0]["event"]["actor"]["user_pseudonym"]
    touched = erase(clickhouse, subject, "dpo@example.com")
    check = check_rows(clickhouse)
    assert check.ok and check.erased == touched == 2
    # ... and a row arriving after the erasure is cleared on insert, and still told apart
    late = critical(7 * 3)
    assert late["event"]["actor"]["user_pseudonym"] == subject
    store(writer, [late])
    check = check_rows(clickhouse)
    assert check.ok and check.erased == 3
    # Putting a value back into an erased row is an alteration, not an erasure.
    clickhouse.command(
        f"ALTER TABLE audit_events UPDATE ip = '203.0.113.9' WHERE user_id = '{subject}'",
        settings={"mutations_sync": 2},
    )
    assert {a.what for a in check_rows(clickhouse).altered} == {"personal"}


def _stored(clickhouse: Client, event_id: str) -> list[tuple[Any, ...]]:
    rows = clickhouse.query(
        "SELECT risk_score, risk_level, ip, call_state FROM audit_events FINAL"
        " WHERE event_id = toUUID({e:String})",
        parameters={"e": event_id},
    ).result_rows
    return [tuple(row) for row in rows]


def test_a_republished_event_with_other_enrichment_keeps_the_first_and_records_it(
    writer: AvroWriter, clickhouse: Client
) -> None:
    first = critical(3)
    store(writer, [first, critical(4)])
    rewritten = copy.deepcopy(first)
    rewritten.update(risk_score=0, risk_level="LOW", compliance_tags=[], anomalies=[],
                     enriched_time=first["enriched_time"] + timedelta(hours=1))  # fmt: skip
    rewritten["event"]["actor"]["ip"] = "198.51.100.1"
    again = copy.deepcopy(first)
    again["enriched_time"] += timedelta(minutes=5)  # a replay that enriched the same way
    store(writer, [rewritten, again, critical(5)])
    clickhouse.command("OPTIMIZE TABLE audit_events FINAL")

    assert _stored(clickhouse, first["event"]["event_id"]) == [
        (100, "CRITICAL", "203.0.113.9", first["call_state"])
    ]
    assert clickhouse.query("SELECT count() FROM audit_events").result_rows == [(3,)]
    conflicts = clickhouse.query(
        "SELECT toString(event_id), kept_risk_level, refused_risk_level FROM audit_conflicts"
    ).result_rows
    assert conflicts == [(first["event"]["event_id"], "CRITICAL", "LOW")]
    assert check_rows(clickhouse).ok


def test_an_attempt_still_becomes_incomplete_once(writer: AvroWriter, clickhouse: Client) -> None:
    attempt = enriched_event(call_state="ATTEMPT")
    attempt["event"]["phase"] = "ATTEMPT"
    store(writer, [attempt])
    incomplete = copy.deepcopy(attempt)
    incomplete.update(call_state="INCOMPLETE", risk_reasons=["call:incomplete"],
                      enriched_time=attempt["enriched_time"] + timedelta(minutes=5))  # fmt: skip
    store(writer, [incomplete])
    later = copy.deepcopy(incomplete)
    later.update(risk_score=0, enriched_time=incomplete["enriched_time"] + timedelta(minutes=5))
    store(writer, [later])
    rows = _stored(clickhouse, attempt["event"]["event_id"])
    assert [(r[0], r[3]) for r in rows] == [(incomplete["risk_score"], "INCOMPLETE")]
    assert clickhouse.query("SELECT count() FROM audit_conflicts").result_rows == [(1,)]


def test_a_retried_batch_is_still_one_row_per_event(writer: AvroWriter, clickhouse: Client) -> None:
    records = [critical(i) for i in range(6)]
    store(writer, records, token="batch-1")
    store(writer, records, token="batch-1")
    store(writer, records, token="batch-2")
    assert clickhouse.query("SELECT count() FROM audit_events").result_rows == [(6,)]
    assert clickhouse.query("SELECT count() FROM audit_conflicts").result_rows == [(0,)]


@pytest.mark.broker
def test_a_refused_copy_is_alerted_on_the_alert_topic(
    writer: AvroWriter, clickhouse: Client, kafka_settings: KafkaSettings
) -> None:
    alerts = ConflictAlerts(clickhouse, kafka_settings)
    first = critical(3)
    store(writer, [first])
    assert alerts.check() == 0
    rewritten = copy.deepcopy(first)
    rewritten.update(risk_score=0, risk_level="LOW")
    store(writer, [rewritten])
    assert alerts.check() == 1 and alerts.check() == 0
    alerts.close()
    assert ConflictAlerts(clickhouse, kafka_settings).check() == 0  # a restart: no repeat

    consumer = Consumer({**kafka_settings.client_config(), "group.id": "t"})
    consumer.assign(
        [TopicPartition(kafka_settings.topic_alerts, p, OFFSET_BEGINNING)
         for p in range(kafka_settings.partitions)]
    )  # fmt: skip
    received = []
    for _ in range(50):
        received += [m for m in consumer.consume(100, 0.2) if m.error() is None]
        if received:
            break
    consumer.close()
    [message] = received
    decoded = Deserializer("Alert")(message.value())
    assert decoded["detector"] == DETECTOR and decoded["severity"] == "CRITICAL"
    assert decoded["evidence_event_ids"] == [first["event"]["event_id"]]
    assert decoded["user_pseudonym"] == first["event"]["actor"]["user_pseudonym"]
