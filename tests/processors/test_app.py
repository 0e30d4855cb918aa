"""Real workers (``mcp-audit processors``) against the real broker: enrichment, dead letters,
alerts, and detector state that survives a restart through the table changelog."""

from __future__ import annotations

import gc
import time

import pytest

from schemas.kafka import HEADER_DLQ_OFFSET, HEADER_DLQ_REASON, HEADER_DLQ_TOPIC, KafkaSettings
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.processors.worker import Workers, keyed, produce, read_until, user_event

pytestmark = [pytest.mark.broker, pytest.mark.slow]
ENCODE = SingleObjectSerializer("AuditEvent")
ENRICHED = Deserializer("EnrichedEvent")
ALERT = Deserializer("Alert")


def test_worker_enriches_every_event_and_dead_letters_bad_input(
    kafka_settings: KafkaSettings, workers: Workers
) -> None:
    worker = workers.start(call_timeout_s="2")
    worker.wait_ready()
    attempt = user_event(1, phase="ATTEMPT", call_id="call-7", outcome=None)
    result = user_event(2, call_id="call-7")
    unanswered = user_event(54, phase="ATTEMPT", call_id="call-8", outcome=None)
    singles = [
        user_event(seq, user=f"{seq:064d}", phase="EVENT", call_id="") for seq in range(3, 53)
    ]
    negative = user_event(53)
    negative["outcome"]["duration_us"] = -3
    produce(kafka_settings, [keyed(e) for e in [attempt, result, unanswered, *singles]])
    produce(kafka_settings, [(b"k", b"not avro"), keyed(negative)])

    messages = read_until(kafka_settings, kafka_settings.topic_enriched, 54)
    enriched = [ENRICHED(m.value()) for m in messages]
    [incomplete] = [e for e in enriched if e["call_state"] == "INCOMPLETE"]
    assert incomplete["event"]["event_id"] == unanswered["event_id"]
    assert "call:incomplete" in incomplete["risk_reasons"]
    by_id = {e["event"]["event_id"]: e for e in enriched if e["call_state"] != "INCOMPLETE"}
    assert len(enriched) == 54 and len(by_id) == 53
    assert by_id[unanswered["event_id"]]["call_state"] == "ATTEMPT"
    assert by_id[attempt["event_id"]]["call_state"] == "ATTEMPT"
    assert by_id[result["event_id"]]["call_state"] == "COMPLETE"
    assert by_id[result["event_id"]]["attempt_event_id"] == attempt["event_id"]
    assert all(by_id[e["event_id"]]["retention_days"] == 2190 for e in singles)

    dead = read_until(kafka_settings, kafka_settings.topic_dead_letter, 2)
    assert sorted(m.value() for m in dead) == sorted([b"not avro", ENCODE(negative)])
    reasons = {dict(m.headers())[HEADER_DLQ_REASON] for m in dead}
    assert reasons == {b"unknown-framing", b"absurd-value"}
    assert all(
        dict(m.headers())[HEADER_DLQ_TOPIC] == kafka_settings.topic_raw.encode() for m in dead
    )
    assert all(HEADER_DLQ_OFFSET in dict(m.headers()) for m in dead)
    assert worker.process.poll() is None, "a bad message must not stop the worker"


def test_tool_change_alerts_and_state_survives_a_restart(
    kafka_settings: KafkaSettings, workers: Workers
) -> None:
    first = workers.start()
    first.wait_ready()
    produce(kafka_settings, [keyed(user_event(1))])
    assert len(read_until(kafka_settings, kafka_settings.topic_enriched, 1)) == 1
    time.sleep(1.0)  # the state write follows the enriched output within the batch
    first.stop()

    second = workers.start()
    second.wait_ready()
    changed = user_event(2)
    changed["target"]["tool_fingerprint"] = "e" * 64
    produce(kafka_settings, [keyed(changed)])
    [alert] = [ALERT(m.value()) for m in read_until(kafka_settings, kafka_settings.topic_alerts, 1)]
    assert alert["detector"] == "tool_definition_changed"
    assert alert["attributes"]["old_fingerprint"] == "f" * 64
    assert alert["attributes"]["new_fingerprint"] == "e" * 64
    assert alert["evidence_event_ids"] == [changed["event_id"]]


def test_sequence_gap_and_spooling_reach_the_alerts_topic(
    kafka_settings: KafkaSettings, workers: Workers
) -> None:
    worker = workers.start(sequence_grace_s="1")
    worker.wait_ready()
    beat = {"interval_s": 60, "events_sent": 3, "events_spooled": 4, "events_dropped": 0,
            "redactions": 0, "audit_failures": 0, "spool_bytes": 100}  # fmt: skip
    heartbeat = user_event(4, user="b" * 64, event_type="HEARTBEAT", phase="EVENT", call_id="")
    heartbeat["heartbeat"] = beat
    # Two users, so the stream spreads over partitions; seq 3 never comes.
    events = [user_event(1, user="a" * 64), user_event(2, user="c" * 64), heartbeat]
    events += [user_event(5, user="a" * 64)]
    produce(kafka_settings, [keyed(e) for e in events])
    alerts = [ALERT(m.value()) for m in read_until(kafka_settings, kafka_settings.topic_alerts, 2)]
    by_detector = {a["detector"]: a for a in alerts}
    assert set(by_detector) == {"sequence_gap", "producer_spooling"}
    assert by_detector["sequence_gap"]["attributes"]["first_missing"] == "3"
    assert by_detector["producer_spooling"]["attributes"]["total"] == "4"


def test_a_sink_that_stores_nothing_is_alerted_once(
    kafka_settings: KafkaSettings, workers: Workers
) -> None:
    worker = workers.start(sink_group="a-sink-that-never-runs", sink_lag_max_s="1",
                           sink_lag_check_s="0.5")  # fmt: skip
    worker.wait_ready()
    produce(kafka_settings, [keyed(user_event(1)), keyed(user_event(2, user="b" * 64))])
    [message] = read_until(kafka_settings, kafka_settings.topic_alerts, 1)
    alert = ALERT(message.value())
    assert (alert["detector"], alert["severity"]) == ("sink_lag", "HIGH")
    assert alert["attributes"]["group"] == "a-sink-that-never-runs"
    assert alert["attributes"]["messages_behind"] == "2"
    # Several more checks while the sink still lags (the wait for a second alert): no repeat.
    assert len(read_until(kafka_settings, kafka_settings.topic_alerts, 2, timeout_s=5)) == 1


def test_the_worker_collects_young_garbage_less_often_and_keeps_the_rest() -> None:
    from processors.app import YOUNG_GC_THRESHOLD, collect_less_often

    before = gc.get_threshold()
    try:
        collect_less_often()
        assert gc.get_threshold() == (YOUNG_GC_THRESHOLD, *before[1:])
        assert gc.isenabled()  # cycles are still collected, only later
    finally:
        gc.set_threshold(*before)
