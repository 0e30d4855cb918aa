"""A writer asks the registry for its schema's id in the background and never waits for it."""

from __future__ import annotations

import threading
import uuid

import pytest
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from schemas import registry
from schemas.framing import RegistryFraming, confluent_header, register, value_subject
from schemas.wire import Deserializer, SingleObjectSerializer, registry_client
from tests.schemas.factories import audit_event
from tests.schemas.oracle import official_decode


def test_a_registry_that_fails_is_asked_again_until_it_gives_the_id() -> None:
    answers: list[OSError | int] = [OSError("down"), OSError("still down"), 42]
    got: list[bytes] = []
    done = threading.Event()

    def lookup(record: str, url: str, topic: str) -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def use(header: bytes) -> None:
        got.append(header)
        done.set()

    framing = RegistryFraming(
        "Alert", "http://registry", "alerts", use, lookup=lookup, pause_s=(0.01, 0.02)
    ).start()
    assert done.wait(5)
    framing.stop()
    assert got == [b"\x00\x00\x00\x00\x2a"] and framing.schema_id == 42 and not answers


def test_the_id_registered_is_the_one_confluents_reader_resolves() -> None:
    # mock:// is confluent-kafka's own in-process test double of a Schema Registry (no
    # registry service runs here); its store lives in the client, so writer and reader
    # share the one client schemas.wire keeps per URL, as they would share a registry.
    url, topic = f"mock://{uuid.uuid4().hex}", "mcp-audit.events.raw"
    schema_id = register("AuditEvent", url, topic)
    assert registry_client(url).get_latest_version(value_subject(topic)).schema_id == schema_id
    assert register("AuditEvent", url, topic) == schema_id  # looked up, not registered twice
    event = audit_event()
    body = SingleObjectSerializer("AuditEvent")(event)[10:]
    data = confluent_header(schema_id) + body
    theirs = AvroDeserializer(registry_client(url))(
        data, SerializationContext(topic, MessageField.VALUE)
    )
    assert theirs == Deserializer("AuditEvent", url)(data) == event
    fingerprint = registry.current("AuditEvent").fingerprint
    assert official_decode(data, "AuditEvent", {schema_id: fingerprint}) == event


def test_a_reader_told_the_id_reads_it_like_single_object() -> None:
    url, topic = f"mock://{uuid.uuid4().hex}", "raw"
    header = confluent_header(register("AuditEvent", url, topic))
    event = audit_event()
    data = header + SingleObjectSerializer("AuditEvent")(event)[10:]
    reader = Deserializer("AuditEvent", url, timestamps_as_micros=True)
    slow = reader(data)  # through confluent's deserializer: timestamps still micros
    reader.accept_schema_id(header)
    assert reader(data) == slow
    assert isinstance(slow["event_time"], int)


def test_without_a_registry_url_a_confluent_message_is_a_clear_error() -> None:
    from schemas.errors import DeserializationError

    with pytest.raises(DeserializationError) as caught:
        Deserializer("AuditEvent")(confluent_header(3) + b"\x00")
    assert caught.value.reason == "unknown-schema"
