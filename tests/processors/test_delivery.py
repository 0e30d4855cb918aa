"""Output is retried until the broker takes it, never skipped: a frozen broker stalls delivery,
and once it thaws every message is there."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from mcp_audit.embedded.broker import EmbeddedBroker, free_port
from mcp_audit.topics import ensure_topics
from processors.delivery import Delivery, OutputTopics
from processors.messages import BatchOutput, OutMessage
from processors.settings import ProcessorSettings
from processors.wiring import build_enricher, frame_with_registry
from schemas import registry
from schemas.framing import confluent_header, register
from schemas.integrity import to_micros
from schemas.kafka import KafkaSettings
from schemas.wire import Deserializer, SingleObjectSerializer, registry_client
from tests.processors.helpers import raw as raw_message
from tests.processors.worker import read_until
from tests.schemas.factories import audit_event
from tests.schemas.oracle import official_decode

pytestmark = [pytest.mark.broker, pytest.mark.slow]


def _delivery(kafka: KafkaSettings, timeout_ms: int) -> Delivery:
    """A Delivery to the test's topics whose attempts time out after ``timeout_ms``."""
    return Delivery(
        {**kafka.client_config(), "message.timeout.ms": timeout_ms},
        OutputTopics(
            enriched=kafka.topic_enriched,
            alerts=kafka.topic_alerts,
            dead_letter=kafka.topic_dead_letter,
            watch="watch",
        ),
        retry_max_s=0.5,
    )


async def test_refused_output_is_retried_until_accepted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A broker of its own: the test freezes it, which would disturb the session's.
    with EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log") as broker:
        kafka = KafkaSettings.load(environ={}, bootstrap_servers=broker.bootstrap_servers)
        ensure_topics(kafka)
        delivery = _delivery(kafka, timeout_ms=1000)
        out = BatchOutput(
            enriched=[OutMessage(b"k", f"e{i}".encode()) for i in range(50)],
            dead=[OutMessage(None, b"bad", [("mcp-audit.dlq.reason", b"empty")])],
        )
        caplog.set_level(logging.WARNING, logger="processors.delivery")
        broker.pause()
        try:
            sending = asyncio.create_task(delivery.deliver(out))
            await asyncio.sleep(3.0)  # several delivery timeouts and retries
            assert not sending.done(), "delivery returned while the broker accepted nothing"
            assert "broker refused" in caplog.text  # the timed-out messages were produced again
        finally:
            broker.resume()
        await asyncio.wait_for(sending, 30)
        delivery.close()
        enriched = read_until(kafka, kafka.topic_enriched, 50, timeout_s=20)
        assert {m.value() for m in enriched} == {f"e{i}".encode() for i in range(50)}
        [dead] = read_until(kafka, kafka.topic_dead_letter, 1, timeout_s=20)
        assert dead.headers() == [("mcp-audit.dlq.reason", b"empty")]


async def test_output_reaches_a_fresh_broker_that_replaced_a_dead_one(tmp_path: Path) -> None:
    """A killed broker replaced by an empty one on the same port forgets the idempotent
    producer's id and sequence numbers; librdkafka then fails that producer for good.
    Delivery must start a new one instead of retrying into it for ever."""
    port = free_port()
    first = EmbeddedBroker(port=port, log_path=tmp_path / "broker-0.log").start()
    kafka = KafkaSettings.load(environ={}, bootstrap_servers=first.bootstrap_servers)
    ensure_topics(kafka)
    delivery = _delivery(kafka, timeout_ms=2000)

    def batch(name: str) -> BatchOutput:
        return BatchOutput(enriched=[OutMessage(b"k", f"{name}{i}".encode()) for i in range(50)])

    second = None
    try:
        await asyncio.wait_for(delivery.deliver(batch("before")), 30)
        first.kill()
        second = EmbeddedBroker(port=port, log_path=tmp_path / "broker-1.log").start()
        ensure_topics(kafka)
        await asyncio.wait_for(delivery.deliver(batch("after")), 60)
        delivery.close()
        enriched = read_until(kafka, kafka.topic_enriched, 50, timeout_s=20)
        assert {m.value() for m in enriched} == {f"after{i}".encode() for i in range(50)}
    finally:
        first.kill()
        if second is not None:
            second.kill()


async def test_with_a_registry_output_leaves_in_confluent_framing(
    kafka_settings: KafkaSettings,
) -> None:
    # mock:// is confluent-kafka's own in-process test double of a Schema Registry (no
    # registry service runs here); writer and reader share its client, as a registry.
    url = f"mock://{uuid.uuid4().hex}"
    kafka = kafka_settings.model_copy(update={"schema_registry_url": url})
    worker = build_enricher(ProcessorSettings.load(environ={}), None, url)
    delivery = _delivery(kafka, timeout_ms=10_000)
    frame_with_registry(kafka, url, worker, delivery)
    deadline = time.monotonic() + 5
    framers = delivery._framers.values()
    while not (len(framers) == 2 and all(f.ready for f in framers)) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    event = audit_event()
    raw_id = register("AuditEvent", url, kafka.topic_raw)  # as the producers register it
    framed = confluent_header(raw_id) + SingleObjectSerializer("AuditEvent")(event)[10:]
    out = worker.process([raw_message(framed)], to_micros(event["event_time"]))
    assert len(out.enriched) == 1 and not out.dead
    await asyncio.wait_for(delivery.deliver(out), 30)
    delivery.close()
    [message] = read_until(kafka, kafka.topic_enriched, 1, timeout_s=20)
    value = message.value()
    assert value is not None
    assert value[0] == 0
    theirs = AvroDeserializer(registry_client(url))(
        value, SerializationContext(kafka.topic_enriched, MessageField.VALUE)
    )
    assert theirs["event"]["event_id"] == event["event_id"]
    assert theirs == Deserializer("EnrichedEvent", url)(value)
    ids = {int.from_bytes(value[1:5], "big"): registry.current("EnrichedEvent").fingerprint}
    official_decode(value, "EnrichedEvent", ids)
