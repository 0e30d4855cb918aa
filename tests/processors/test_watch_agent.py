from __future__ import annotations

import time
import uuid

import orjson
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from processors.watch import PipelineWatch
from processors.watch_agent import S, StreamFacts, alert_encoder
from schemas.integrity import to_micros
from schemas.wire import SingleObjectSerializer, registry_client
from tests.processors.helpers import enricher, raw
from tests.schemas.factories import alert, audit_event


def _heartbeat(seq: int, final: bool = False) -> dict[str, object]:
    beat = {"interval_s": 10, "events_sent": 5, "events_spooled": 2, "events_dropped": 0,
            "redactions": 0, "audit_failures": 0, "spool_bytes": 0, "final": final}  # fmt: skip
    return audit_event(seq=seq, event_type="HEARTBEAT", phase="EVENT", call_id="", heartbeat=beat)


def test_facts_are_grouped_by_stream_and_drained_once() -> None:
    facts = StreamFacts()
    other = audit_event(seq=9)
    other["integrity"]["stream_id"] = "stream-2"
    for event in (audit_event(seq=1), other, _heartbeat(2)):
        facts.add(event)
    drained = {m.key: orjson.loads(m.value) for m in facts.drain()}
    assert drained[b"stream-1"]["seqs"] == [1, 2]
    assert drained[b"stream-1"]["beat"]["events_spooled"] == 2
    assert drained[b"stream-1"]["host"] == "h"
    assert drained[b"stream-2"] == {"seqs": [9], "beat": None, "beat_seq": None, "host": "h"}
    assert facts.drain() == []


def test_the_latest_beat_by_seq_reaches_the_watch_and_a_final_one_stops_it() -> None:
    facts = StreamFacts()
    # The final beat came first: the older one was replayed from the spool after it.
    for event in (_heartbeat(7, final=True), _heartbeat(3)):
        facts.add(event)
    [message] = facts.drain()
    sent = orjson.loads(message.value)  # as the watch agent reads it off its topic
    assert (message.key, sent["beat_seq"], sent["beat"]["final"]) == (b"stream-1", 7, True)
    watch = PipelineWatch(3.0, sequence_grace_us=30 * S)
    watch.observe("stream-1", sent, 0)
    assert watch.producers["stream-1"].stopped
    assert "heartbeat_missing" not in {f.detector for f in watch.check(3600 * S)}


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
