"""Replaying a spool segment through a producer whose local queue fills part-way."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from producers.transport.counters import Counters
from producers.transport.replay import Replay
from producers.transport.spool import Spool
from schemas.kafka import KafkaSettings
from schemas.wire import SingleObjectSerializer
from tests.producers.conftest import consume
from tests.schemas.factories import audit_event

pytestmark = pytest.mark.broker

RECORDS = 40


def test_a_full_queue_resumes_the_segment_instead_of_resending_its_head(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=2**20)
    encode = SingleObjectSerializer("AuditEvent")
    events = [
        audit_event(seq=i + 1, event_id=f"00000000-0000-7000-8000-{i:012d}") for i in range(RECORDS)
    ]
    for event in events:
        assert spool.append(b"k", encode(event))
    spool.rotate()
    # A queue of 8 is the real local-queue bound of a real client, just small enough
    # that one segment cannot be queued at once, as under live load.
    producer = Producer({**kafka_settings.client_config(), "queue.buffering.max.messages": 8})
    counters = Counters()
    replay = Replay(producer, kafka_settings.topic_raw, spool, counters)
    deadline = time.monotonic() + 30
    while spool.segments() and time.monotonic() < deadline:
        replay.step(time.monotonic(), 0.0)
        producer.poll(0.05)
    assert not spool.segments(), "the segment was never fully replayed"
    arrived = [e["event_id"] for e in consume(kafka_settings, RECORDS + 1, timeout_s=5)]
    assert sorted(arrived) == [e["event_id"] for e in events]  # each once, none twice
    assert counters.sent == RECORDS
