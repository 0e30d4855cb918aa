"""The embedded broker is a real Kafka-protocol broker: produce and consume Avro through it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer

from mcp_audit.embedded.broker import EmbeddedBroker, free_port
from mcp_audit.topics import ensure_topics
from schemas.errors import PlatformError
from schemas.kafka import KafkaSettings
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.schemas.factories import audit_event

pytestmark = pytest.mark.broker


def test_produce_and_consume_avro_events(kafka_settings: KafkaSettings) -> None:
    events = [audit_event(seq=i) for i in range(1, 101)]
    serialize = SingleObjectSerializer("AuditEvent")
    producer = Producer(
        {**kafka_settings.client_config(), "acks": "all", "enable.idempotence": True}
    )
    for event in events:
        producer.produce(kafka_settings.topic_raw, serialize(event), key=b"user-a")
    assert producer.flush(10) == 0

    consumer = Consumer(
        {
            **kafka_settings.client_config(),
            "group.id": "test-consumer",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([kafka_settings.topic_raw])
    deserialize = Deserializer("AuditEvent")
    received: list[Any] = []
    deadline = time.monotonic() + 30
    try:
        while len(received) < len(events) and time.monotonic() < deadline:
            for message in consumer.consume(500, 0.5):
                assert message.error() is None
                received.append(deserialize(message.value()))
    finally:
        consumer.close()

    # One key, so one partition: order is kept.
    assert received == events


def test_topics_are_created_once(kafka_settings: KafkaSettings) -> None:
    assert ensure_topics(kafka_settings) == []


def test_a_taken_port_is_a_clear_error(broker: EmbeddedBroker) -> None:
    with pytest.raises(PlatformError) as caught:
        EmbeddedBroker(port=broker.port).start()
    assert caught.value.fields["port"] == broker.port


def test_stop_leaves_no_process_even_when_paused() -> None:
    broker = EmbeddedBroker(port=free_port()).start()
    pid = broker.pid
    assert pid is not None
    broker.pause()
    broker.stop()
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)


def test_running_tells_a_crashed_broker_from_a_frozen_one_and_it_starts_again() -> None:
    broker = EmbeddedBroker(port=free_port()).start()
    try:
        broker.pause()
        assert broker.running  # frozen is not dead: mcp-audit up leaves it alone
        broker.resume()
        broker.kill()
        assert not broker.running
        assert broker.start().running  # on the same port, as mcp-audit up restarts it
    finally:
        broker.stop()


def test_unreachable_broker_is_a_platform_error() -> None:
    settings = KafkaSettings.load(environ={}, bootstrap_servers=f"127.0.0.1:{free_port()}")
    with pytest.raises(PlatformError):
        ensure_topics(settings, timeout_s=1.0)
