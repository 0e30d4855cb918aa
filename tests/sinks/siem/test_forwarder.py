"""The SIEM forwarder end to end: the real broker (session Tansu fixture) and, as the SIEM,
a real HTTP server on loopback (http.server in a thread; requests cross the loopback
interface, nothing is mocked). Every alert arrives once, in order per partition, offsets
are committed only after a 2xx, and what cannot be delivered is in the dead-letter topic.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from schemas.errors import DeserializationError
from schemas.kafka import (
    HEADER_DLQ_DETAIL,
    HEADER_DLQ_OFFSET,
    HEADER_DLQ_REASON,
    KafkaSettings,
)
from schemas.wire import Deserializer
from sinks.siem.forwarder import open_forwarder
from sinks.siem.settings import SiemSettings
from tests.schemas.factories import alert
from tests.sinks.helpers import ENCODE_ALERT
from tests.sinks.kafka_helpers import committed, produce, read_all, running, wait_until
from tests.sinks.siem.loopback_siem import LoopbackSiem

pytestmark = [pytest.mark.broker, pytest.mark.timeout(180)]
TOKEN = "forwarder-test-token"


def siem_settings(url: str, **overrides: Any) -> SiemSettings:
    values: dict[str, Any] = {
        "webhook_url": url,
        "auth_token": TOKEN,
        "consumer_group": f"siem-{uuid.uuid4().hex[:8]}",
        "session_timeout_ms": 6000,
        "backoff_base_s": 0.05,
        "backoff_cap_s": 0.2,
        "batch_size": 10,
        **overrides,
    }
    return SiemSettings.load(environ={}, **values)


def uids(documents: list[dict[str, Any]]) -> list[str]:
    return [d["metadata"]["uid"] for d in documents]


def committed_total(kafka: KafkaSettings, group: str) -> int:
    return sum(max(0, o) for o in committed(kafka, group, kafka.topic_alerts).values())


def positions(kafka: KafkaSettings, expected: int) -> dict[str, tuple[int, int]]:
    """alert id -> (partition, offset), read back from the topic."""
    decode = Deserializer("Alert")
    found: dict[str, tuple[int, int]] = {}
    for message in read_all(kafka, kafka.topic_alerts, expected):
        try:
            found[decode(message.value())["alert_id"]] = (message.partition(), message.offset())
        except DeserializationError:
            continue  # the garbage message of a test
    return found


def header(message: Any, name: str) -> bytes:
    return dict(message.headers() or [])[name]  # type: ignore[no-any-return]


def test_outage_then_every_alert_once_in_partition_order_committed_after(
    kafka_settings: KafkaSettings,
) -> None:
    alerts = [alert(summary=f"alert {i}") for i in range(30)]
    produce(kafka_settings, kafka_settings.topic_alerts, [ENCODE_ALERT(a) for a in alerts])
    siem_up = threading.Event()

    def answer(documents: list[dict[str, Any]], index: int) -> tuple[int, dict[str, str]]:
        return (200, {}) if siem_up.is_set() else (503, {})

    with LoopbackSiem(answer).running() as siem:
        settings = siem_settings(siem.url)
        group = settings.consumer_group
        with open_forwarder(settings, kafka_settings) as forwarder, running(forwarder.run):
            assert wait_until(lambda: siem.count() >= 3, 60), "the forwarder never tried"
            assert committed_total(kafka_settings, group) == 0, "committed before a 2xx"
            siem_up.set()
            assert wait_until(lambda: committed_total(kafka_settings, group) == 30, 60)

    delivered = uids(siem.accepted())
    assert sorted(delivered) == sorted(a["alert_id"] for a in alerts)  # each exactly once
    where = positions(kafka_settings, 30)
    by_partition: dict[int, list[int]] = defaultdict(list)
    for alert_id in delivered:
        partition, offset = where[alert_id]
        by_partition[partition].append(offset)
    assert all(offsets == sorted(offsets) for offsets in by_partition.values())
    assert len(by_partition) > 1  # the order held across several partitions
    assert [r.status for r in siem.requests[:3]] == [503, 503, 503]


def test_rejected_and_undecodable_alerts_are_dead_lettered_the_rest_delivered(
    kafka_settings: KafkaSettings,
) -> None:
    alerts = [alert(summary=f"alert {i}") for i in range(12)]
    poisoned = alerts[7]["alert_id"]
    values = [ENCODE_ALERT(a) for a in alerts]
    values.insert(4, b"not an alert")
    produce(kafka_settings, kafka_settings.topic_alerts, values)

    def answer(documents: list[dict[str, Any]], index: int) -> tuple[int, dict[str, str]]:
        return (400, {}) if poisoned in uids(documents) else (200, {})

    with LoopbackSiem(answer).running() as siem:
        settings = siem_settings(siem.url)
        with open_forwarder(settings, kafka_settings) as forwarder, running(forwarder.run):
            assert wait_until(
                lambda: committed_total(kafka_settings, settings.consumer_group) == 13, 60
            )
        letters = read_all(kafka_settings, kafka_settings.topic_dead_letter, 2)

    delivered = uids(siem.accepted())
    assert sorted(delivered) == sorted(a["alert_id"] for a in alerts if a["alert_id"] != poisoned)
    by_reason = {header(m, HEADER_DLQ_REASON): m for m in letters}
    assert set(by_reason) == {b"rejected-by-siem", b"unknown-framing"}
    rejected = by_reason[b"rejected-by-siem"]
    assert rejected.value() == ENCODE_ALERT(alerts[7])
    assert header(rejected, HEADER_DLQ_DETAIL).startswith(b"HTTP 400")
    assert header(rejected, HEADER_DLQ_OFFSET).isdigit()
    assert by_reason[b"unknown-framing"].value() == b"not an alert"
    assert all(TOKEN.encode() not in value for m in letters for _, value in m.headers())


def test_stopped_during_an_outage_commits_nothing_and_the_next_run_delivers(
    kafka_settings: KafkaSettings,
) -> None:
    alerts = [alert(summary=f"alert {i}") for i in range(5)]
    produce(kafka_settings, kafka_settings.topic_alerts, [ENCODE_ALERT(a) for a in alerts])

    with LoopbackSiem(lambda documents, index: (503, {})).running() as down:
        settings = siem_settings(down.url)
        with open_forwarder(settings, kafka_settings) as forwarder, running(forwarder.run):
            assert wait_until(lambda: down.count() >= 2, 60)
    assert committed_total(kafka_settings, settings.consumer_group) == 0

    with LoopbackSiem().running() as up:
        settings = siem_settings(up.url, consumer_group=settings.consumer_group)
        with open_forwarder(settings, kafka_settings) as forwarder, running(forwarder.run):
            assert wait_until(
                lambda: committed_total(kafka_settings, settings.consumer_group) == 5, 60
            )
    assert sorted(uids(up.accepted())) == sorted(a["alert_id"] for a in alerts)


@pytest.mark.slow
def test_siem_command_forwards_and_stops_on_sigterm(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    group = f"siem-cmd-{uuid.uuid4().hex[:6]}"
    alerts = [alert(summary=f"alert {i}") for i in range(5)]
    produce(kafka_settings, kafka_settings.topic_alerts, [ENCODE_ALERT(a) for a in alerts])
    log_path = tmp_path / "siem.log"
    with LoopbackSiem().running() as siem:
        env = {
            **os.environ,
            "MCP_AUDIT_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
            "MCP_AUDIT_KAFKA_TOPIC_ALERTS": kafka_settings.topic_alerts,
            "MCP_AUDIT_KAFKA_TOPIC_DEAD_LETTER": kafka_settings.topic_dead_letter,
            "MCP_AUDIT_SIEM_WEBHOOK_URL": siem.url,
            "MCP_AUDIT_SIEM_AUTH_TOKEN": TOKEN,
            "MCP_AUDIT_SIEM_CONSUMER_GROUP": group,
            "MCP_AUDIT_SIEM_SESSION_TIMEOUT_MS": "6000",
        }
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "mcp_audit.cli", "-v", "siem"],
                env=env,
                stdout=log,
                stderr=log,
            )
            try:
                assert wait_until(lambda: committed_total(kafka_settings, group) == 5, 60)
                process.send_signal(signal.SIGTERM)
                assert process.wait(30) == 0
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait(10)

    assert sorted(uids(siem.accepted())) == sorted(a["alert_id"] for a in alerts)
    assert siem.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in log_path.read_text()
