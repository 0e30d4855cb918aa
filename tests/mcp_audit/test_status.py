"""The live status line of ``mcp-audit up``: its text, and offsets read from the real broker."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from mcp_audit.status import Snapshot, StatusProbe
from schemas.kafka import KafkaSettings
from sinks.progress import Counts


def test_line_shows_rates_lag_store_alerts_and_spool() -> None:
    counts = Counts(stored=90, alerts=3, spool_bytes=4096)
    before = Snapshot(at=10.0, arrived=100, processed=80, counts=counts)
    after = Snapshot(at=12.0, arrived=300, processed=200, counts=counts)
    assert after.line(before) == (
        "in 100/s | processed 200 (60/s) | lag 100 | stored 90 | alerts 3 | spool 4 KiB"
    )
    assert before.line(None).startswith("in 0/s | processed 80 (0/s) | lag 20 |")


@pytest.mark.broker
def test_probe_reads_arrived_and_committed_offsets(kafka_settings: KafkaSettings) -> None:
    producer = Producer(kafka_settings.client_config())
    for i in range(5):  # one batch each: Tansu's high watermark is exact for single batches
        producer.produce(kafka_settings.topic_raw, f"m{i}".encode(), partition=0)
        assert producer.flush(10) == 0
    group = f"status-{uuid.uuid4().hex[:8]}"
    committer = Consumer({**kafka_settings.client_config(), "group.id": group})
    committer.commit(offsets=[TopicPartition(kafka_settings.topic_raw, 0, 3)], asynchronous=False)
    committer.close()

    probe = StatusProbe(kafka_settings, group, lambda: Counts(0, 0, 0))
    try:
        assert probe.offsets() == (5, 3)
        snapshot = probe.snapshot()
    finally:
        probe.close()
    assert (snapshot.arrived, snapshot.processed) == (5, 3)
