"""Container files built from single-object messages are valid Avro, byte for byte."""

from __future__ import annotations

import io

import fastavro
import pytest

from schemas import registry
from schemas.wire import Deserializer
from sinks.ocf import (
    FRAMING_FIELD_NAME,
    HEADER_SIZE,
    container_buffers,
    container_file,
    fingerprint_of,
    zigzag_varint,
)
from tests.sinks.helpers import messages


def test_container_file_reads_back_as_the_original_records() -> None:
    batch = messages(5)
    fingerprint = registry.current("EnrichedEvent").fingerprint
    data = container_file(fingerprint, [m.value() for m in batch])

    read = list(fastavro.reader(io.BytesIO(data)))

    decode = Deserializer("EnrichedEvent")
    headers = [record.pop(FRAMING_FIELD_NAME) for record in read]
    assert read == [decode(m.value()) for m in batch]
    assert headers == [m.value()[:HEADER_SIZE] for m in batch]


def test_buffers_are_the_file_unjoined_and_hold_the_messages_as_they_are() -> None:
    values = [m.value() for m in messages(3)]
    fingerprint = registry.current("EnrichedEvent").fingerprint

    buffers = container_buffers(fingerprint, values)

    assert b"".join(buffers) == container_file(fingerprint, values)
    assert buffers[1:-1] == values


def test_fingerprint_only_for_single_object_framing() -> None:
    single = messages(1)[0].value()
    assert fingerprint_of(single) == registry.current("EnrichedEvent").fingerprint
    assert fingerprint_of(b"\x00\x00\x00\x00\x01payload") is None
    assert fingerprint_of(b"\xc3\x01short") is None


@pytest.mark.parametrize(
    ("value", "encoded"), [(0, b"\x00"), (-1, b"\x01"), (1, b"\x02"), (64, b"\x80\x01")]
)
def test_zigzag_matches_the_avro_spec(value: int, encoded: bytes) -> None:
    assert zigzag_varint(value) == encoded
