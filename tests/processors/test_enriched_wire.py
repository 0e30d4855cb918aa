from __future__ import annotations

from typing import Any

from processors.enriched_wire import EnrichedWriter
from schemas import registry
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.schemas.factories import audit_event


def _fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "call_state": "COMPLETE",
        "attempt_event_id": "a-1",
        "attempt_time": 1_795_000_000_000_001,
        "risk_score": 77,
        "risk_level": "CRITICAL",
        "risk_reasons": ["tool:destructive", "anomaly:rate_spike"],
        "compliance_tags": ["HIPAA", "SOC2"],
        "anomalies": [{"detector": "rate_spike", "score": -2.5e-3, "detail": "ünïcode"}],
        "retention_days": 2190,
        "enriched_time": 1_795_000_000_123_456,
        "processor_version": "0.1.0",
    }
    fields.update(overrides)
    return fields


def test_reused_raw_body_gives_the_same_bytes_as_a_full_encode() -> None:
    event = audit_event()
    raw = SingleObjectSerializer("AuditEvent")(event)
    full = SingleObjectSerializer("EnrichedEvent")
    for fields in (
        _fields(),
        _fields(attempt_event_id=None, attempt_time=None, risk_reasons=[], anomalies=[]),
    ):
        assert EnrichedWriter().write(raw, event, fields) == full({"event": event, **fields})


def test_other_writer_schema_falls_back_to_full_encode() -> None:
    event = audit_event()
    raw = SingleObjectSerializer("AuditEvent")(event)
    foreign = b"\x00\x00\x00\x00\x07" + raw[10:]  # Confluent framing, schema id 7
    data = EnrichedWriter().write(foreign, event, _fields())
    assert data[2:10] == registry.current("EnrichedEvent").fingerprint
    decoded = Deserializer("EnrichedEvent")(data)
    assert decoded["event"]["event_id"] == event["event_id"]
    assert decoded["risk_score"] == 77


def test_one_writer_reused_across_events_gives_each_its_full_encode() -> None:
    writer = EnrichedWriter()  # its caches carry over from one event to the next
    full = SingleObjectSerializer("EnrichedEvent")
    variants = [
        _fields(),
        _fields(attempt_event_id=None, attempt_time=None, anomalies=[]),
        _fields(call_state="SINGLE", attempt_event_id=None, attempt_time=None),
        _fields(attempt_time=None),
        _fields(retention_days=30),
        _fields(enriched_time=1_795_000_000_999_999, processor_version="0.2.0"),
        _fields(risk_score=3, risk_level="LOW", risk_reasons=[], compliance_tags=[]),
    ]
    for i, fields in enumerate(variants * 2):
        event = audit_event(seq=i + 1)
        raw = SingleObjectSerializer("AuditEvent")(event)
        assert writer.write(raw, event, fields) == full({"event": event, **fields})


def test_a_raw_body_in_confluent_framing_of_the_current_schema_is_reused() -> None:
    event = audit_event()
    header = b"\x00\x00\x00\x00\x09"  # the id the registry gave the current AuditEvent
    raw = header + SingleObjectSerializer("AuditEvent")(event)[10:]
    writer = EnrichedWriter()
    writer.accept_raw_header(header)
    full = SingleObjectSerializer("EnrichedEvent")({"event": event, **_fields()})
    assert writer.write(raw, event, _fields()) == full
    poisoned = dict(event, event_id="not the raw one")  # reused: the dict is not encoded
    assert writer.write(raw, poisoned, _fields()) == full
