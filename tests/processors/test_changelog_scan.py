"""What the processors' state changelog topic holds, read from the real broker as anyone
allowed to read the broker would: no personal value of the events in clear.

A real worker enriches events carrying a person's resource URIs (one with a password
in it), session id, prompt name, IP and client; its detectors remember them. The
changelog topic is then read back and searched two ways: for every planted value and
its distinctive parts (the oracle knows what was planted), and by detect-secrets, a
scanner the project did not write.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from readside.report.outside_scanner import count as outside_findings
from schemas.kafka import KafkaSettings
from tests.processors.worker import Workers, keyed, produce, read_until, user_event

pytestmark = [pytest.mark.broker, pytest.mark.slow]
USER = "c7" * 32
SECRET_URI = "postgres://admin:Zq8vR2mT9xLp4Wn7@db.internal:5432/patients?sslmode=require"
SESSION = "sess-alice-laptop-7f3e"
PROMPT = "alice-medical-summary"
IP = "198.51.100.77"
CLIENT = "claude-desktop/alice-laptop"
# Parts of the planted values a partial copy would still show (none can occur in hex).
NEEDLES = (b"patients", b"Zq8vR2mT9xLp4Wn7", b"alice", b"198.51.100", b"db.internal", b"078-05")


def _events(count: int) -> list[dict[str, Any]]:
    events = []
    for seq in range(1, count + 1):
        event = user_event(seq, user=USER, event_type="RESOURCE_READ", phase="EVENT", call_id="")
        uri = SECRET_URI if seq == 1 else f"db://patients/{4700 + seq}?ssn=078-05-{1100 + seq}"
        event["actor"].update(session_id=SESSION, ip=IP, client_id=CLIENT)
        event["target"].update(
            resource_uri=uri, prompt_name=PROMPT, tool_name=None, resource_uri_digest=None
        )
        events.append(event)
    return events


def _changelog(kafka: KafkaSettings, topic: str, timeout_s: float = 30.0) -> list[bytes]:
    """Every message of the (one-partition) changelog topic, keys and values, once one
    for ``USER`` arrived."""
    consumer = Consumer({**kafka.client_config(), "group.id": "scan", "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    found: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not any(USER.encode() in m for m in found):
            for message in consumer.consume(1000, 0.5):
                if message.error() is None:
                    found.append((message.key() or b"") + b" " + (message.value() or b""))
    finally:
        consumer.close()
    return found


def test_the_changelog_topic_holds_no_personal_value_in_clear(
    kafka_settings: KafkaSettings, workers: Workers
) -> None:
    worker = workers.start()
    worker.wait_ready()
    # Fewer distinct URIs than enumeration's threshold: past it, the detector fires and
    # forgets the window's targets, and the state would hold none to search for.
    events = _events(20)
    produce(kafka_settings, [keyed(e) for e in events])
    assert len(read_until(kafka_settings, kafka_settings.topic_enriched, len(events))) == 20

    messages = _changelog(kafka_settings, f"{workers.app_id}-detector-state-changelog")
    written = b"\n".join(messages)
    assert USER.encode() in written, "the worker wrote no state for the user"
    planted = {SECRET_URI, SESSION, PROMPT, IP, CLIENT}
    planted |= {str(e["target"]["resource_uri"]) for e in events}
    assert [v for v in planted if v.encode() in written] == []
    assert [n for n in NEEDLES if n in written] == []
    assert outside_findings(written.decode("utf-8", "replace")) == 0
    # The oracle can fail: detect-secrets does flag the URI as the event carried it.
    assert outside_findings(SECRET_URI) >= 1
