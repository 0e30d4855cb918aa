"""A snapshot of the running pipeline for ``mcp-audit up``'s live status line.

Events processed are the processors' committed offsets on the raw topic
(offsets are dense from 0); stored events, alerts and the producers' spool
(their latest heartbeats) are read from the store: these are exact on any
broker. Events in and the processors' lag come from high watermarks, read
where every lag is (:mod:`processors.lag`): they may undercount by a batch,
never overcount.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from processors.lag import positions
from schemas.kafka import KafkaSettings
from sinks.progress import Counts


@dataclass(frozen=True)
class Snapshot:
    at: float
    arrived: int
    processed: int
    counts: Counts

    def line(self, previous: Snapshot | None) -> str:
        seconds = self.at - previous.at if previous is not None else 0.0
        rate_in = (self.arrived - previous.arrived) / seconds if previous and seconds > 0 else 0.0
        rate = (self.processed - previous.processed) / seconds if previous and seconds > 0 else 0.0
        c = self.counts
        return (
            f"in {rate_in:,.0f}/s | processed {self.processed} ({rate:,.0f}/s)"
            f" | lag {max(0, self.arrived - self.processed)} | stored {c.stored}"
            f" | alerts {c.alerts} | spool {c.spool_bytes / 1024:,.0f} KiB"
        )


class StatusProbe:
    """Reads the raw topic's progress from the broker and the rest from ``counts``."""

    def __init__(
        self, kafka: KafkaSettings, processors_group: str, counts: Callable[[], Counts]
    ) -> None:
        self.kafka = kafka
        self.counts = counts
        self._consumer = Consumer(
            {**kafka.client_config(), "group.id": processors_group, "enable.auto.commit": False}
        )

    def offsets(self) -> tuple[int, int]:
        """(events arrived on the raw topic, events the processors committed)."""
        topic = self.kafka.topic_raw
        metadata = self._consumer.list_topics(topic, timeout=5).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return 0, 0
        partitions = [TopicPartition(topic, p) for p in metadata.partitions]
        committed = self._consumer.committed(partitions, timeout=5)
        found = positions(self._consumer, committed, timeout_s=5)
        return sum(p.end for p in found), sum(p.offset for p in found)

    def snapshot(self) -> Snapshot:
        arrived, processed = self.offsets()
        return Snapshot(time.monotonic(), max(arrived, processed), processed, self.counts())

    def close(self) -> None:
        self._consumer.close()
