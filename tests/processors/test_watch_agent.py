from __future__ import annotations

import orjson

from processors.watch_agent import StreamFacts
from schemas.integrity import to_micros
from schemas.wire import SingleObjectSerializer
from tests.processors.helpers import enricher, raw
from tests.schemas.factories import audit_event


def _heartbeat(seq: int) -> dict[str, object]:
    beat = {"interval_s": 10, "events_sent": 5, "events_spooled": 2, "events_dropped": 0,
            "redactions": 0, "audit_failures": 0, "spool_bytes": 0}  # fmt: skip
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
    assert drained[b"stream-2"] == {"seqs": [9], "beat": None, "host": "h"}
    assert facts.drain() == []


def test_a_batch_sends_its_stream_facts_for_the_self_watch() -> None:
    encode = SingleObjectSerializer("AuditEvent")
    events = [audit_event(seq=1), audit_event(seq=3)]
    out = enricher().process(
        [raw(encode(e), i) for i, e in enumerate(events)], to_micros(events[0]["event_time"])
    )
    [message] = out.watch
    assert (message.key, orjson.loads(message.value)["seqs"]) == (b"stream-1", [1, 3])
