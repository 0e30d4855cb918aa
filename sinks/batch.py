"""A batch: the messages taken from Kafka since the last commit.

Lifecycle: the loop adds polled messages, asks :meth:`Batch.due`, writes the
batch, commits :meth:`Batch.commit_offsets`, and starts a new one. A batch is
never changed once writing started, so a retry writes exactly the same rows
under exactly the same deduplication token.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import TopicPartition


class Batch:
    __slots__ = ("_first", "_last", "by_topic", "rows", "started")

    def __init__(self) -> None:
        self.by_topic: dict[str, list[Any]] = {}
        self._first: dict[tuple[str, int], int] = {}
        self._last: dict[tuple[str, int], int] = {}
        self.rows = 0
        self.started = 0.0

    def add(self, messages: Iterable[Any]) -> None:
        """Take polled messages (confluent-kafka ``Message`` or the same shape)."""
        for message in messages:
            if not self.rows:
                self.started = time.monotonic()
            topic, partition, offset = message.topic(), message.partition(), message.offset()
            self.by_topic.setdefault(topic, []).append(message)
            self._first.setdefault((topic, partition), offset)
            self._last[(topic, partition)] = offset
            self.rows += 1

    def due(self, max_rows: int, max_seconds: float) -> bool:
        if not self.rows:
            return False
        return self.rows >= max_rows or time.monotonic() - self.started >= max_seconds

    def token(self, topic: str) -> str:
        """Deduplication token: the same offset ranges always give the same token."""
        ranges = sorted(
            f"{partition}:{self._first[(name, partition)]}-{last}"
            for (name, partition), last in self._last.items()
            if name == topic
        )
        digest = hashlib.sha256(",".join(ranges).encode()).hexdigest()[:32]
        return f"{topic}/{digest}"

    def commit_offsets(self) -> list[TopicPartition]:
        """Where each partition resumes after this batch is stored."""
        return [
            TopicPartition(topic, partition, last + 1)
            for (topic, partition), last in sorted(self._last.items())
        ]
