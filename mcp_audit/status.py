"""A snapshot of the running pipeline for ``mcp-audit up``'s live status line.

Counts are exact on any broker: events processed are the processors'
committed offsets on the raw topic (offsets are dense from 0), and stored
events and alerts are counted in the store. High watermarks are not used:
the embedded broker (Tansu) reports a partition's high watermark as its last
batch's base offset + 1, which undercounts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from schemas.kafka import KafkaSettings


@dataclass(frozen=True)
class Snapshot:
    at: float
    processed: int
    stored: int
    alerts: int

    def line(self, previous: Snapshot | None) -> str:
        rate = 0.0
        if previous is not None and self.at > previous.at:
            rate = (self.processed - previous.processed) / (self.at - previous.at)
        return (
            f"processed {self.processed} ({rate:,.0f}/s) | stored {self.stored}"
            f" | alerts {self.alerts}"
        )


class StatusProbe:
    """Reads the processors' progress from the broker and the rest from ``counts``.

    ``counts()`` returns (stored events, stored alerts).
    """

    def __init__(
        self, kafka: KafkaSettings, processors_group: str, counts: Callable[[], tuple[int, int]]
    ) -> None:
        self.kafka = kafka
        self.counts = counts
        self._consumer = Consumer(
            {**kafka.client_config(), "group.id": processors_group, "enable.auto.commit": False}
        )

    def processed(self) -> int:
        topic = self.kafka.topic_raw
        metadata = self._consumer.list_topics(topic, timeout=5).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return 0
        partitions = [TopicPartition(topic, p) for p in metadata.partitions]
        return sum(max(tp.offset, 0) for tp in self._consumer.committed(partitions, timeout=5))

    def snapshot(self) -> Snapshot:
        stored, alerts = self.counts()
        return Snapshot(time.monotonic(), self.processed(), stored, alerts)

    def close(self) -> None:
        self._consumer.close()
