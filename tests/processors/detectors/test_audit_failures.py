"""The audit-failure detector: any increase of a producer stream's heartbeat count alerts."""

from __future__ import annotations

from typing import Any

from processors.detectors.suite import DetectorSuite
from processors.features import features
from schemas.integrity import to_micros
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.processors.helpers import SECOND_US, enricher, raw
from tests.schemas.factories import audit_event

ENCODE = SingleObjectSerializer("AuditEvent")
NOW_US = to_micros(audit_event()["event_time"])


def beat(
    failures: int, seq: int, *, stream: str = "stream-a", final: bool = False
) -> dict[str, Any]:
    """A producer's heartbeat as it is on the raw topic: no user, its stream's counters."""
    event = audit_event(seq=seq, event_type="HEARTBEAT", phase="EVENT", call_id="", outcome=None)
    event["actor"] = {k: None for k in event["actor"]} | {"scopes": []}
    event["target"] = {k: None for k in event["target"]} | {
        "server_id": "files", "arg_keys": [], "classification": "MEDIUM",
    }  # fmt: skip
    event["integrity"]["stream_id"] = stream
    event["heartbeat"] = {
        "interval_s": 30, "events_sent": 10 * seq, "events_spooled": 0, "events_dropped": 0,
        "redactions": 0, "audit_failures": failures, "spool_bytes": 0, "final": final,
    }  # fmt: skip
    return event


def findings(suite: DetectorSuite, *events: dict[str, Any]) -> list[str]:
    return [f.attributes["new"] for e in events for f in suite.observe(features(e), e)]


def test_each_increase_fires_with_how_many_are_new() -> None:
    suite = DetectorSuite({}, {})
    assert findings(suite, beat(0, 1), beat(0, 2), beat(2, 3), beat(2, 4), beat(5, 5)) == ["2", "3"]


def test_an_older_beat_replayed_late_is_quiet_also_after_the_final_one() -> None:
    suite = DetectorSuite({}, {})
    assert findings(suite, beat(4, 9), beat(4, 10, final=True), beat(1, 3)) == ["4"]


def test_streams_are_counted_apart() -> None:
    suite = DetectorSuite({}, {})
    first = findings(suite, beat(3, 1, stream="a"), beat(1, 1, stream="b"))
    assert first == ["3", "1"]
    assert findings(suite, beat(3, 2, stream="a"), beat(2, 2, stream="b")) == ["1"]


def test_a_heartbeat_without_the_event_and_calls_never_fire() -> None:
    suite = DetectorSuite({}, {})
    event = beat(7, 1)
    assert suite.observe(features(event)) == []  # callers that pass no event: nothing read
    call = audit_event()
    assert suite.observe(features(call), call) == []
    assert suite.streams == {}


def test_through_the_enricher_one_alert_folds_the_repeats() -> None:
    """The real path: raw bytes decoded with the enrichment projection, the finding in the
    heartbeat's anomalies, and one alert per stream and window, counted on close."""
    worker = enricher()
    events = [beat(0, 1), beat(1, 2), beat(3, 3)]
    out = worker.process([raw(ENCODE(e), i, key=b"stream") for i, e in enumerate(events)], NOW_US)
    assert out.dead == []
    enriched = [Deserializer("EnrichedEvent")(m.value) for m in out.enriched]
    assert [[a["detector"] for a in e["anomalies"]] for e in enriched] == [
        [], ["producer_audit_failures"], ["producer_audit_failures"],
    ]  # fmt: skip
    [alert] = [Deserializer("Alert")(m.value) for m in out.alerts]
    assert (alert["detector"], alert["severity"], alert["server_id"]) == (
        "producer_audit_failures", "HIGH", "files",
    )  # fmt: skip
    assert alert["attributes"]["stream_id"] == "stream-a"
    later = worker.process([], NOW_US + 3600 * SECOND_US)
    [closed] = [Deserializer("Alert")(m.value) for m in later.alerts]
    assert (closed["alert_id"], closed["count"]) == (alert["alert_id"], 2)
