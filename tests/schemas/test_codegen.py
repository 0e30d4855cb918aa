"""The generated codec writes and reads exactly what fastavro does, for any valid record."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import registry
from schemas.codegen import long_bytes, read_long
from schemas.errors import DeserializationError
from schemas.integrity import to_micros
from schemas.wire import SINGLE_OBJECT_MAGIC, Deserializer, SingleObjectSerializer
from tests.schemas.strategies import for_schema

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _fastavro_bytes(writer: registry.WriterSchema, record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    schemaless_writer(buffer, writer.parsed, record)
    return buffer.getvalue()


@pytest.mark.parametrize("record", registry.RECORD_NAMES)
def test_same_bytes_and_values_as_fastavro(record: str) -> None:
    writer = registry.current(record)
    decode, encode = writer.codec

    @_SETTINGS
    @given(for_schema(writer.schema))
    def check(value: dict[str, Any]) -> None:
        expected = _fastavro_bytes(writer, value)
        parts: list[bytes] = []
        encode(value, parts.append)
        assert b"".join(parts) == expected
        decoded, end = decode(expected, 0)
        assert end == len(expected)
        assert decoded == schemaless_reader(io.BytesIO(expected), writer.parsed, None)

    check()


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_varint_round_trip(value: int) -> None:
    data = long_bytes(value)
    assert read_long(data, 0) == (value, len(data))


@pytest.mark.parametrize("record", registry.RECORD_NAMES)
def test_hostile_bodies_only_raise_deserialization_errors(record: str) -> None:
    header = SINGLE_OBJECT_MAGIC + registry.current(record).fingerprint
    deserialize = Deserializer(record)

    @_SETTINGS
    @given(st.binary(max_size=600))
    def check(body: bytes) -> None:
        with contextlib.suppress(DeserializationError):
            deserialize(header + body)

    check()


def test_micros_mode_keeps_timestamps_as_ints() -> None:
    from tests.schemas.factories import audit_event

    event = audit_event()
    decoded = Deserializer("AuditEvent", timestamps_as_micros=True)(
        SingleObjectSerializer("AuditEvent")(event)
    )
    assert decoded["event_time"] == to_micros(event["event_time"])
    assert isinstance(decoded["event_time"], int)


def test_missing_fields_take_their_defaults_as_in_fastavro() -> None:
    from tests.schemas.factories import alert

    record = alert()
    for optional in ("user_pseudonym", "count", "attributes", "evidence_event_ids"):
        del record[optional]
    writer = registry.current("Alert")
    data = SingleObjectSerializer("Alert")(record)
    assert data[10:] == _fastavro_bytes(writer, record)
    decoded = Deserializer("Alert")(data)
    assert (decoded["user_pseudonym"], decoded["count"], decoded["attributes"]) == (None, 1, {})


def test_a_missing_required_field_is_a_serialization_error() -> None:
    from schemas.errors import SerializationError
    from tests.schemas.factories import alert

    record = alert()
    del record["summary"]
    with pytest.raises(SerializationError):
        SingleObjectSerializer("Alert")(record)
