from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.messages import OutMessage
from schemas import registry
from schemas.integrity import to_micros
from schemas.kafka import HEADER_DLQ_OFFSET, HEADER_DLQ_REASON, HEADER_DLQ_TOPIC
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.processors.helpers import SECOND_US, enricher, raw
from tests.schemas.factories import audit_event
from tests.schemas.oracle import official_decode
from tests.schemas.strategies import for_schema

ENCODE = SingleObjectSerializer("AuditEvent")
DECODE = Deserializer("EnrichedEvent")
NOW = to_micros(audit_event()["event_time"])


def _decoded(messages: list[OutMessage]) -> list[dict[str, Any]]:
    return [DECODE(m.value) for m in messages]


def test_attempt_then_result_gives_attempt_and_complete() -> None:
    attempt = audit_event(phase="ATTEMPT", call_id="c9", outcome=None)
    result = audit_event(seq=2, call_id="c9")
    out = enricher().process([raw(ENCODE(attempt)), raw(ENCODE(result), 1)], NOW)
    first, second = _decoded(out.enriched)
    assert first["call_state"] == "ATTEMPT"
    assert second["call_state"] == "COMPLETE"
    assert second["attempt_event_id"] == attempt["event_id"]
    assert to_micros(second["attempt_time"]) == to_micros(attempt["event_time"])
    assert [m.key for m in out.enriched] == [b"u", b"u"]


def test_unanswered_attempt_becomes_incomplete_and_alerts() -> None:
    worker = enricher(call_timeout_s=5)
    attempt = audit_event(phase="ATTEMPT", call_id="c9", outcome=None)
    assert len(worker.process([raw(ENCODE(attempt))], NOW).enriched) == 1
    out = worker.process([], NOW + 6 * SECOND_US)
    [incomplete] = _decoded(out.enriched)
    assert incomplete["call_state"] == "INCOMPLETE"
    assert incomplete["event"]["event_id"] == attempt["event_id"]
    assert "call:incomplete" in incomplete["risk_reasons"]
    [alert] = [Deserializer("Alert")(m.value) for m in out.alerts]
    assert alert["detector"] == "incomplete_call"


def test_every_good_event_reaches_the_enriched_output_with_its_risk() -> None:
    events = [audit_event(seq=i + 1, phase="EVENT", call_id="") for i in range(50)]
    out = enricher().process([raw(ENCODE(e), i) for i, e in enumerate(events)], NOW)
    decoded = _decoded(out.enriched)
    assert [d["event"]["event_id"] for d in decoded] == [e["event_id"] for e in events]
    assert all(d["call_state"] == "SINGLE" and d["retention_days"] == 2190 for d in decoded)
    assert decoded[0]["compliance_tags"] == ["SOC2"]


def test_bad_input_becomes_dead_letters_with_original_bytes_and_reason() -> None:
    worker = enricher()
    unknown = b"\xc3\x01" + b"\x11" * 8 + b"body"
    negative = audit_event()
    negative["outcome"]["duration_us"] = -1
    future = audit_event(event_time=audit_event()["event_time"].replace(year=2031))
    wraps = audit_event()
    wraps["compliance"]["retention_days"] = 65536  # 0 in the store's UInt16 column
    bad = [
        b"garbage", unknown, None, ENCODE(audit_event())[:40], ENCODE(negative), ENCODE(future),
        ENCODE(wraps),
    ]  # fmt: skip
    out = worker.process([raw(value, offset=i) for i, value in enumerate(bad)], NOW)
    assert out.enriched == []
    reasons = [dict(m.headers or [])[HEADER_DLQ_REASON].decode() for m in out.dead]
    assert reasons == [
        "unknown-framing",
        "unknown-schema",
        "empty",
        "truncated",
        "absurd-value",
        "absurd-time",
        "out-of-range",
    ]
    assert [m.value for m in out.dead] == [v or b"" for v in bad]
    headers = dict(out.dead[1].headers or [])
    assert (headers[HEADER_DLQ_TOPIC], headers[HEADER_DLQ_OFFSET], headers["origin"]) == (
        b"raw",
        b"1",
        b"test",
    )
    assert worker.counters.dead_letters == 7
    good = worker.process([raw(ENCODE(audit_event()))], NOW)
    assert len(good.enriched) == 1


def test_findings_become_anomalies_and_one_folded_alert() -> None:
    worker = enricher()
    events = [audit_event(seq=i + 1) for i in range(4)]
    for event, mark in zip(events, "fefe", strict=True):  # three definition changes
        event["target"]["tool_fingerprint"] = mark * 64
    out = worker.process([raw(ENCODE(e), i) for i, e in enumerate(events)], NOW)
    flagged = [d["anomalies"] for d in _decoded(out.enriched)]
    assert [len(a) for a in flagged] == [0, 1, 1, 1]
    assert flagged[1][0]["detector"] == "tool_definition_changed"
    [alert] = [Deserializer("Alert")(m.value) for m in out.alerts]
    assert alert["attributes"]["old_fingerprint"] == "f" * 64
    assert alert["attributes"]["new_fingerprint"] == "e" * 64
    closing = worker.process([], NOW + 301 * SECOND_US)
    [final] = [Deserializer("Alert")(m.value) for m in closing.alerts]
    assert (final["alert_id"], final["count"]) == (alert["alert_id"], 3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(for_schema(registry.current("AuditEvent").schema), min_size=1, max_size=8))
def test_projected_decode_enriches_exactly_as_a_full_decode(events: list[dict[str, Any]]) -> None:
    """The enricher decodes only EVENT_PROJECTION; any field it reads beyond that would
    make its output differ from an enricher that decodes whole events."""
    whole = enricher()
    whole.decode = Deserializer("AuditEvent", timestamps_as_micros=True)
    projected = enricher()
    messages = []
    for i, event in enumerate(events):
        # Mostly valid values, else nearly all would be dead letters; every kind of event.
        event["event_time"] = audit_event()["event_time"]
        event["integrity"]["seq"] = abs(event["integrity"]["seq"]) % 2**62 + 1
        event["event_type"] = ("HEARTBEAT", "TOOL_CALL", "AUTH_FAILURE", "RESOURCE_READ")[i % 4]
        if event["outcome"] is not None:
            event["outcome"]["duration_us"] = abs(event["outcome"]["duration_us"]) % 2**62
        if i % 2:  # same user and tool as the first, so per-user detectors have history
            event["actor"], event["target"] = events[0]["actor"], events[0]["target"]
        messages.append(raw(ENCODE(event), i))
    outputs = [worker.process(messages, NOW) for worker in (whole, projected)]
    assert outputs[0].enriched == outputs[1].enriched
    assert len(outputs[0].enriched) + len(outputs[0].dead) >= len(events)
    assert outputs[0].dead == outputs[1].dead
    assert outputs[0].watch == outputs[1].watch
    alerts = [[_no_id(m.value) for m in out.alerts] for out in outputs]
    assert alerts[0] == alerts[1]
    for message in outputs[1].enriched:  # what processors write, read by the official library
        official_decode(message.value, "EnrichedEvent")
    for message in outputs[1].alerts:
        official_decode(message.value, "Alert")


def _no_id(alert: bytes) -> dict[str, Any]:
    decoded = Deserializer("Alert")(alert)
    return {k: v for k, v in decoded.items() if k != "alert_id"}


def test_changed_users_are_taken_once_each_change() -> None:
    worker = enricher()
    events = [audit_event(seq=i + 1, phase="EVENT", call_id="") for i in range(3)]
    worker.process([raw(ENCODE(e), i) for i, e in enumerate(events)], NOW)
    assert worker.take_changed_users() == {events[0]["actor"]["user_pseudonym"]}
    assert worker.take_changed_users() == set()  # nothing changed since: nothing due
