"""Round trips and failure modes of the wire formats, on real encoded bytes."""

from __future__ import annotations

import copy
import io
from typing import Any

import pytest
from fastavro import schemaless_writer

from schemas import registry
from schemas.errors import (
    DeserializationError,
    McpAuditError,
    SerializationError,
    UnknownSchemaError,
)
from schemas.repair import ALTERED_KEY
from schemas.wire import SINGLE_OBJECT_MAGIC, Deserializer, SingleObjectSerializer, serializer
from tests.schemas.factories import alert, audit_event, enriched_event
from tests.schemas.oracle import official_decode

RECORDS = {"AuditEvent": audit_event, "EnrichedEvent": enriched_event, "Alert": alert}


@pytest.mark.parametrize("record", sorted(RECORDS))
def test_single_object_round_trip(record: str) -> None:
    original = RECORDS[record]()
    data = SingleObjectSerializer(record)(original)

    assert data[:2] == SINGLE_OBJECT_MAGIC
    assert data[2:10] == registry.current(record).fingerprint
    assert Deserializer(record)(data) == original
    assert official_decode(data, record) == original


def test_fingerprint_is_the_spec_crc64_of_the_canonical_form() -> None:
    # Known vector: the Avro spec's Rabin fingerprint of "int" is 0x7275d51a3f395c8f,
    # written little-endian.
    assert registry.rabin_fingerprint("int").hex() == "8f5c393f1ad57572"


def test_serializer_defaults_to_single_object() -> None:
    assert isinstance(serializer("AuditEvent"), SingleObjectSerializer)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"\x7fgarbage", "unknown-framing"),
        (SINGLE_OBJECT_MAGIC + b"\x01\x02", "truncated"),
        (SINGLE_OBJECT_MAGIC + bytes(8) + b"body", "unknown-schema"),
    ],
)
def test_bad_bytes_are_a_clear_error(data: bytes, reason: str) -> None:
    with pytest.raises(DeserializationError) as caught:
        Deserializer("AuditEvent")(data)
    assert caught.value.reason == reason
    assert isinstance(caught.value, McpAuditError)


def test_unknown_fingerprint_names_it() -> None:
    fingerprint = bytes.fromhex("0123456789abcdef")
    with pytest.raises(UnknownSchemaError) as caught:
        Deserializer("AuditEvent")(SINGLE_OBJECT_MAGIC + fingerprint + b"\x00")
    assert caught.value.schema_ref == "0123456789abcdef"


def test_truncated_body_is_a_clear_error() -> None:
    data = SingleObjectSerializer("AuditEvent")(audit_event())
    with pytest.raises(DeserializationError) as caught:
        Deserializer("AuditEvent")(data[: len(data) // 2])
    assert caught.value.reason in ("truncated", "invalid")


def test_trailing_bytes_are_rejected() -> None:
    data = SingleObjectSerializer("Alert")(alert())
    with pytest.raises(DeserializationError):
        Deserializer("Alert")(data + b"\x00")


def test_a_message_of_another_record_is_rejected() -> None:
    data = SingleObjectSerializer("Alert")(alert())
    with pytest.raises(DeserializationError) as caught:
        Deserializer("AuditEvent")(data)
    assert caught.value.reason == "wrong-record"


def _with_new_field(schema: dict[str, Any]) -> dict[str, Any]:
    newer = copy.deepcopy(schema)
    newer["fields"].append(
        {"name": "data_residency", "type": "string", "default": "eu-west", "doc": "v2 field"}
    )
    return newer


def _encode(writer: registry.WriterSchema, record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO(SINGLE_OBJECT_MAGIC + writer.fingerprint)
    buffer.seek(0, io.SEEK_END)
    schemaless_writer(buffer, writer.parsed, record)
    return buffer.getvalue()


def test_new_reader_reads_old_events() -> None:
    old = registry.current("AuditEvent")
    new = registry._writer_schema("AuditEvent", _with_new_field(old.schema))
    event = audit_event()

    decoded = Deserializer("AuditEvent", reader=new)(_encode(old, event))

    assert decoded["data_residency"] == "eu-west"
    assert decoded["event_id"] == event["event_id"]


def test_old_reader_reads_new_events() -> None:
    old = registry.current("AuditEvent")
    new = registry._writer_schema("AuditEvent", _with_new_field(old.schema))
    event = {**audit_event(), "data_residency": "us-east"}

    decoded = Deserializer("AuditEvent", writers={new.fingerprint: new})(_encode(new, event))

    assert "data_residency" not in decoded
    assert decoded["integrity"] == event["integrity"]


def test_old_reader_without_the_new_schema_gets_a_clear_error() -> None:
    old = registry.current("AuditEvent")
    new = registry._writer_schema("AuditEvent", _with_new_field(old.schema))
    with pytest.raises(UnknownSchemaError) as caught:
        Deserializer("AuditEvent")(_encode(new, {**audit_event(), "data_residency": "x"}))
    assert caught.value.schema_ref == new.fingerprint_hex


def test_confluent_framing_round_trip_through_confluent_serializers() -> None:
    # No Confluent-compatible registry runs on this machine (none is packaged for
    # PyPI or Debian); confluent-kafka's own in-memory registry ("mock://") stands
    # in for the REST service. The serializers and framing are the real ones.
    url = "mock://mcp-audit-tests"
    event = audit_event()
    ctx = _value_context("raw-events")

    data = serializer("AuditEvent", url)(event, ctx)

    assert data[0] == 0
    assert Deserializer("AuditEvent", url)(data, ctx) == event
    single = SingleObjectSerializer("AuditEvent")(event)
    assert Deserializer("AuditEvent", url)(single, ctx) == event


def test_confluent_framing_without_registry_is_a_clear_error() -> None:
    data = b"\x00\x00\x00\x00\x07" + b"body"
    with pytest.raises(DeserializationError) as caught:
        Deserializer("AuditEvent")(data)
    assert caught.value.reason == "unknown-schema"


def _value_context(topic: str) -> Any:
    from confluent_kafka.serialization import MessageField, SerializationContext

    return SerializationContext(topic, MessageField.VALUE)


def test_the_contract_serializer_repairs_what_no_reader_reads_and_names_it() -> None:
    # An alert count past 32 bits and a summary with a lone surrogate (surrogateescape)
    # were a SerializationError: the alert was lost.
    record = alert()
    record["count"], record["summary"] = 2**31, "x\udc80y"
    data = SingleObjectSerializer("Alert")(record)
    decoded = official_decode(data, "Alert")
    assert decoded["count"] == 2**31 - 1
    assert decoded["summary"] == "x\ufffdy"
    assert decoded["attributes"][ALTERED_KEY] == "summary,count"
    assert record["count"] == 2**31  # the caller's record is not changed


def test_an_enriched_event_marks_the_audit_event_it_holds() -> None:
    record = enriched_event()
    record["risk_score"] = -(2**40)
    decoded = Deserializer("EnrichedEvent")(SingleObjectSerializer("EnrichedEvent")(record))
    assert decoded["risk_score"] == -(2**31)
    assert decoded["event"]["attributes"][ALTERED_KEY] == "risk_score"


def test_a_record_that_does_not_match_its_schema_is_still_refused() -> None:
    record = alert()
    del record["summary"]
    with pytest.raises(SerializationError):
        SingleObjectSerializer("Alert")(record)
