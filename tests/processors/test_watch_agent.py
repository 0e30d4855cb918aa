from __future__ import annotations

import time
import uuid

import orjson
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from processors.watch_agent import alert_encoder
from schemas.integrity import to_micros
from schemas.wire import SingleObjectSerializer, registry_client
from tests.processors.helpers import enricher, raw
from tests.schemas.factories import alert, audit_event


def test_a_batch_sends_its_stream_facts_for_the_self_watch() -> None:
    encode = SingleObjectSerializer("AuditEvent")
    events = [audit_event(seq=1), audit_event(seq=3)]
    out = enricher().process(
        [raw(encode(e), i) for i, e in enumerate(events)], to_micros(events[0]["event_time"])
    )
    [message] = out.watch
    assert (message.key, orjson.loads(message.value)["seqs"]) == (b"stream-1", [1, 3])


def test_pipeline_alerts_leave_in_confluent_framing_once_the_registry_answers() -> None:
    # mock:// is confluent-kafka's own in-process test double of a Schema Registry (no
    # registry service runs here). The self-watch's alerts (stalls, gaps, sink lag, audit
    # failures) were written single-object even with a registry configured.
    url = f"mock://{uuid.uuid4().hex}"
    encode, record = alert_encoder("alerts-t", url), alert()
    deadline = time.monotonic() + 5
    while (value := encode(record))[0] != 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert value[0] == 0
    theirs = AvroDeserializer(registry_client(url))(
        value, SerializationContext("alerts-t", MessageField.VALUE)
    )
    assert theirs["alert_id"] == record["alert_id"]
    assert alert_encoder("alerts-t", None)(record)[:2] == b"\xc3\x01"  # no registry
