"""Producer fixtures: a real Auditor on the session broker, and a consumer to read events back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from producers import runtime
from producers.auditor import Auditor
from producers.settings import ProducerSettings
from schemas.kafka import KafkaSettings
from schemas.wire import Deserializer

CANARY = "sk-live-CANARY0123456789abcdefXYZ"


def producer_settings(tmp_path: Path, **overrides: Any) -> ProducerSettings:
    values: dict[str, Any] = {
        "server_id": "test-server",
        "spool_dir": tmp_path / "spool",
        "heartbeat_interval_s": 3600.0,
        "linger_ms": 1,
        "delivery_timeout_ms": 3000,
        "replay_interval_s": 0.5,
    }
    return ProducerSettings.load(environ={}, **{**values, **overrides})


@pytest.fixture
def auditor(kafka_settings: KafkaSettings, tmp_path: Path) -> Iterator[Auditor]:
    """The process-wide Auditor, publishing to this test's fresh raw topic."""
    built = runtime.configure(producer_settings(tmp_path), kafka_settings)
    assert built is not None
    try:
        yield built
    finally:
        runtime.shutdown()


def consume(
    kafka: KafkaSettings,
    count: int,
    *,
    timeout_s: float = 30.0,
    raw: bool = False,
    heartbeats: bool = False,
) -> list[Any]:
    """Up to ``count`` messages from the raw topic, decoded unless ``raw``, by partition
    assignment (no group join). Heartbeats are skipped unless asked for."""
    consumer = Consumer(
        {
            **kafka.client_config(),
            "group.id": f"test-{uuid.uuid4().hex}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    decode = Deserializer("AuditEvent")
    out: list[Any] = []
    try:
        consumer.assign(
            [TopicPartition(kafka.topic_raw, p, OFFSET_BEGINNING) for p in range(kafka.partitions)]
        )
        deadline = time.monotonic() + timeout_s
        while len(out) < count and time.monotonic() < deadline:
            for msg in consumer.consume(500, timeout=0.5):
                if msg.error() is not None:
                    continue
                event = decode(msg.value())
                if heartbeats or event["event_type"] != "HEARTBEAT":
                    out.append(msg if raw else event)
    finally:
        consumer.close()
    return out
