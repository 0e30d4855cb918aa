"""The alerts feed reads real alerts off the real broker, newest first or as they come."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from confluent_kafka import Producer

from schemas.kafka import KafkaSettings
from schemas.wire import SingleObjectSerializer
from sinks.alert_feed import existing_alerts, follow_alerts, line
from tests.schemas.factories import alert

pytestmark = pytest.mark.broker
ENCODE = SingleObjectSerializer("Alert")


def _send(kafka: KafkaSettings, alerts: list[dict[str, Any]], junk: bool = False) -> None:
    producer = Producer(kafka.client_config())
    for record in alerts:
        producer.produce(kafka.topic_alerts, ENCODE(record))
    if junk:
        producer.produce(kafka.topic_alerts, b"not an alert")
    assert producer.flush(10) == 0


def test_existing_alerts_newest_first_skipping_junk(kafka_settings: KafkaSettings) -> None:
    base = alert()
    alerts = [
        alert(alert_time=base["alert_time"] + timedelta(minutes=i), summary=f"alert {i}")
        for i in range(5)
    ]
    _send(kafka_settings, alerts, junk=True)

    shown = existing_alerts(kafka_settings, limit=3)

    assert [a["summary"] for a in shown] == ["alert 4", "alert 3", "alert 2"]
    assert "HIGH" in line(shown[0]) and "rate_spike" in line(shown[0]) and "x3" in line(shown[0])


def test_follow_prints_only_new_alerts(kafka_settings: KafkaSettings) -> None:
    _send(kafka_settings, [alert(summary="old")])
    stop = threading.Event()
    seen: list[str] = []

    def reader() -> None:
        for record in follow_alerts(kafka_settings, stop):
            seen.append(record["summary"])
            stop.set()

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(2)  # the reader is positioned at the end before the new alert is sent
    _send(kafka_settings, [alert(summary="new")])
    thread.join(30)
    stop.set()
    assert seen == ["new"]
