"""Producer fixtures: a real Auditor on the session broker, and a consumer to read events back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from mcp_audit.embedded.broker import EmbeddedBroker, free_port
from mcp_audit.topics import ensure_topics
from producers import runtime
from producers.auditor import Auditor
from producers.event.sealer import NATIVE
from producers.settings import ProducerSettings
from schemas.kafka import KafkaSettings
from schemas.wire import Deserializer

CANARY = "sk-live-CANARY0123456789abcdefXYZ"
# The install builds the compiled sealer only where a C compiler and OpenSSL's headers
# are; test_sealer.py fails if it is missing where they are.
COMPILED_ONLY = pytest.mark.skipif(
    not NATIVE, reason="the compiled sealer was not built (no C compiler or OpenSSL headers)"
)


@pytest.fixture(
    scope="module",  # module scope: hypothesis refuses function-scoped fixtures in @given
    params=[
        pytest.param(True, id="compiled", marks=COMPILED_ONLY),
        pytest.param(False, id="python"),
    ],
)
def native(request: pytest.FixtureRequest) -> bool:
    """Each test runs against the compiled sealer and the Python one it must match."""
    return bool(request.param)


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


class OwnBroker:
    """A broker of the test's own on a fixed port: the test may kill it and start a fresh,
    empty one in its place (the embedded broker keeps data in memory only)."""

    def __init__(self, tmp_path: Path, kafka: KafkaSettings) -> None:
        self.tmp_path = tmp_path
        self.port = free_port()
        self.kafka = kafka.model_copy(update={"bootstrap_servers": f"127.0.0.1:{self.port}"})
        self.started: list[EmbeddedBroker] = []

    def start(self) -> EmbeddedBroker:
        """A fresh broker on the port, with the test's topics."""
        log = self.tmp_path / f"broker-{len(self.started)}.log"
        broker = EmbeddedBroker(port=self.port, log_path=log)
        self.started.append(broker)
        broker.start()
        ensure_topics(self.kafka)
        return broker

    def stop(self) -> None:
        # Its data dies with the test anyway; stop() would wait 5 s for clients to hang up.
        for broker in self.started:
            broker.kill()


@pytest.fixture
def own_broker(tmp_path: Path, kafka_settings: KafkaSettings) -> Iterator[OwnBroker]:
    """Its first broker started; every broker it started is stopped after the test."""
    brokers = OwnBroker(tmp_path, kafka_settings)
    try:
        brokers.start()
        yield brokers
    finally:
        runtime.shutdown()  # before the brokers go: a producer left open would wait for them
        brokers.stop()


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
    decode = Deserializer("AuditEvent", kafka.schema_registry_url)
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
