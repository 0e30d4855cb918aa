"""The whole sink on the real broker and real chDB: stored once, committed after, DLQ on refusal."""

from __future__ import annotations

import uuid

import pytest
from clickhouse_connect.driver.client import Client

from schemas.kafka import HEADER_DLQ_OFFSET, HEADER_DLQ_REASON, KafkaSettings
from sinks.consumer import KafkaSource
from sinks.dead_letter import DeadLetters
from sinks.loop import SinkLoop
from sinks.migrate import apply_migrations
from sinks.service import Sink
from sinks.settings import SinkSettings
from sinks.store import AuditStore
from sinks.writer import AvroWriter
from tests.schemas.factories import alert
from tests.sinks.helpers import ENCODE_ALERT, ENCODE_ENRICHED, varied_event
from tests.sinks.kafka_helpers import committed, produce, read_all, running, wait_until

pytestmark = [pytest.mark.clickhouse, pytest.mark.broker]


def sink_settings(clickhouse_url: str, client: Client) -> SinkSettings:
    return SinkSettings.load(
        environ={},
        clickhouse_url=clickhouse_url,
        database=client.database,
        consumer_group=f"sink-{uuid.uuid4().hex[:8]}",
        batch_rows=400,
        batch_seconds=0.3,
        retry_initial_seconds=0.1,
        retry_max_seconds=0.5,
        session_timeout_ms=6000,
    )


def rows(client: Client, table: str = "audit_events") -> int:
    return int(client.query(f"SELECT count() FROM {table} FINAL").result_rows[0][0])


def header(message: object, name: str) -> bytes:
    return dict(message.headers() or [])[name]  # type: ignore[attr-defined]


def test_events_alerts_and_bad_messages(
    kafka_settings: KafkaSettings, clickhouse: Client, clickhouse_url: str
) -> None:
    settings = sink_settings(clickhouse_url, clickhouse)
    bad_id = varied_event(0)
    bad_id["event"]["event_id"] = "not-a-uuid"
    values = [ENCODE_ENRICHED(varied_event(i)) for i in range(1000)]
    values[500:500] = [b"garbage", ENCODE_ALERT(alert()), ENCODE_ENRICHED(bad_id)]
    produce(kafka_settings, kafka_settings.topic_enriched, values)
    produce(kafka_settings, kafka_settings.topic_alerts, [ENCODE_ALERT(alert()) for _ in range(5)])

    with Sink(settings, kafka_settings) as sink, running(sink.run):
        assert wait_until(lambda: (rows(clickhouse), rows(clickhouse, "audit_alerts")) == (1000, 5))
        letters = read_all(kafka_settings, kafka_settings.topic_dead_letter, 3)

    reasons = sorted(header(m, HEADER_DLQ_REASON) for m in letters)
    assert reasons == [b"rejected-by-clickhouse", b"unknown-framing", b"wrong-record"]
    assert {m.value() for m in letters} == set(values[500:503])
    assert all(header(m, HEADER_DLQ_OFFSET).isdigit() for m in letters)
    offsets = committed(kafka_settings, settings.consumer_group, kafka_settings.topic_enriched)
    assert sum(offsets.values()) == len(values)
    assert rows(clickhouse) == 1000


def test_clickhouse_refusing_holds_offsets_and_loses_nothing(
    kafka_settings: KafkaSettings, clickhouse: Client, clickhouse_url: str
) -> None:
    """ClickHouse refuses for a reason that passes (no tables yet: UNKNOWN_TABLE, a real
    chDB error, not a mock); the loop must retry, commit nothing, then store each row once."""
    settings = sink_settings(clickhouse_url, clickhouse)
    produce(
        kafka_settings,
        kafka_settings.topic_enriched,
        [ENCODE_ENRICHED(varied_event(i)) for i in range(900)],
    )
    writer = AvroWriter(clickhouse, clickhouse_url)
    letters = DeadLetters(kafka_settings)
    store = AuditStore(writer, letters, kafka_settings, settings)
    source = KafkaSource(kafka_settings, settings.consumer_group, store.topics(), 6000)
    loop = SinkLoop(source, store, settings)
    try:
        with running(loop.run):
            assert wait_until(lambda: loop.batch.rows > 0, 30)
            topic = kafka_settings.topic_enriched
            assert wait_until(lambda: store.rows_written == 0 and loop.batches == 0, 1)
            held = committed(kafka_settings, settings.consumer_group, topic)
            assert all(offset < 0 for offset in held.values())
            apply_migrations(clickhouse)  # ClickHouse can take the batch now
            assert wait_until(lambda: rows(clickhouse) == 900, 30)
    finally:
        source.close()
        letters.close()
        writer.close()
    offsets = committed(kafka_settings, settings.consumer_group, kafka_settings.topic_enriched)
    assert sum(offsets.values()) == 900
    assert int(clickhouse.query("SELECT count() FROM audit_events").result_rows[0][0]) == 900
