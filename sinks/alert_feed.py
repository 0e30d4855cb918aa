"""Read alerts from the alerts topic for people: all of them newest first, or as they come.

Reads the topic directly (no consumer group, nothing committed), so it works
beside a running pipeline and never moves anyone's offsets.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

from schemas.errors import DeserializationError
from schemas.kafka import KafkaSettings
from schemas.wire import Deserializer

IDLE_POLLS_AT_END = 4


def _consumer(kafka: KafkaSettings, start: int) -> Consumer:
    consumer = Consumer(
        {
            **kafka.client_config(),
            "group.id": "mcp-audit-alerts-reader",
            "enable.auto.commit": False,
        }
    )
    metadata = consumer.list_topics(kafka.topic_alerts, timeout=10).topics[kafka.topic_alerts]
    consumer.assign([TopicPartition(kafka.topic_alerts, p, start) for p in metadata.partitions])
    return consumer


def _decoded(messages: list[Any], decode: Deserializer) -> Iterator[dict[str, Any]]:
    for message in messages:
        if message.error() is None:
            try:
                yield decode(message.value())
            except DeserializationError:
                continue  # not an alert this reader knows; the dead-letter path is not ours


def existing_alerts(kafka: KafkaSettings, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` alerts on the topic, newest first."""
    consumer, decode = _consumer(kafka, OFFSET_BEGINNING), Deserializer("Alert")
    alerts: list[dict[str, Any]] = []
    idle = 0
    try:
        while idle < IDLE_POLLS_AT_END:
            batch = consumer.consume(1000, 0.5)
            idle = 0 if batch else idle + 1
            alerts.extend(_decoded(batch, decode))
    finally:
        consumer.close()
    alerts.sort(key=lambda a: a["alert_time"], reverse=True)
    return alerts[:limit]


def follow_alerts(kafka: KafkaSettings, stop: threading.Event) -> Iterator[dict[str, Any]]:
    """Alerts as they arrive from now on, until ``stop`` is set."""
    consumer, decode = _consumer(kafka, OFFSET_END), Deserializer("Alert")
    try:
        while not stop.is_set():
            yield from _decoded(consumer.consume(100, 0.5), decode)
    finally:
        consumer.close()


def line(alert: dict[str, Any]) -> str:
    """One readable line: when, how bad, what, who, where, how often."""
    user = (alert.get("user_pseudonym") or "-")[:12]
    where = "/".join(x for x in (alert.get("server_id"), alert.get("tool_name")) if x) or "-"
    count = f" x{alert['count']}" if alert.get("count", 1) > 1 else ""
    when = alert["alert_time"].strftime("%Y-%m-%d %H:%M:%S")
    head = f"{when} {alert['severity']:<8} {alert['detector']:<24}"
    return f"{head} user {user} {where}{count}: {alert['summary']}"
