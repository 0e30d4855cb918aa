"""Stream facts as the enricher gathers them and the watch topic carries them."""

from __future__ import annotations

import orjson

from processors.watch.facts import StreamFacts, StreamFactsCollector
from processors.watch.streams import PipelineWatch
from tests.schemas.factories import audit_event

S = 1_000_000


def _heartbeat(seq: int, final: bool = False) -> dict[str, object]:
    beat = {"interval_s": 10, "events_sent": 5, "events_spooled": 2, "events_dropped": 0,
            "redactions": 0, "audit_failures": 0, "spool_bytes": 0, "final": final}  # fmt: skip
    return audit_event(seq=seq, event_type="HEARTBEAT", phase="EVENT", call_id="", heartbeat=beat)


def test_facts_are_grouped_by_stream_and_drained_once() -> None:
    facts = StreamFactsCollector()
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
    facts = StreamFactsCollector()
    # The final beat came first: the older one was replayed from the spool after it.
    for event in (_heartbeat(7, final=True), _heartbeat(3)):
        facts.add(event)
    [message] = facts.drain()
    sent = StreamFacts.from_json(message.value)  # as the watch agent reads it off its topic
    assert sent.beat is not None
    assert (message.key, sent.beat_seq, sent.beat["final"]) == (b"stream-1", 7, True)
    watch = PipelineWatch(3.0, sequence_grace_us=30 * S)
    watch.observe("stream-1", sent, 0)
    assert watch.producers["stream-1"].stopped
    assert "heartbeat_missing" not in {f.detector for f in watch.check(3600 * S)}
