"""The Kafka side of the sink: polls messages, commits offsets, waits without losing the group.

Lifecycle: open with the topics, call :meth:`poll` in a loop, :meth:`commit`
after a batch is stored, :meth:`close` at the end. Auto-commit is off: an offset
is committed only when the sink says so. :meth:`hold` waits (ClickHouse is
down) with fetching paused but the consumer still polled, so it keeps its
partitions instead of being evicted for missing ``max.poll.interval.ms``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from schemas.kafka import KafkaSettings

log = logging.getLogger(__name__)


class KafkaSource:
    def __init__(
        self, kafka: KafkaSettings, group: str, topics: list[str], session_timeout_ms: int = 10_000
    ) -> None:
        self._consumer = Consumer(
            {
                **kafka.client_config(),
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": session_timeout_ms,
                "fetch.max.bytes": 64 * 1024 * 1024,
                "max.partition.fetch.bytes": 16 * 1024 * 1024,
                "queued.min.messages": 200_000,
            }
        )
        self._consumer.subscribe(topics)
        # Messages that arrived during hold() (a newly assigned partition is not paused).
        self._early: list[Any] = []

    def poll(self, max_messages: int, timeout_s: float) -> list[Any]:
        """Up to ``max_messages`` messages; errors are logged and left out."""
        if self._early:
            early, self._early = self._early, []
            return early
        messages = self._consumer.consume(num_messages=max_messages, timeout=timeout_s)
        if all(message.error() is None for message in messages):
            return list(messages)
        return [message for message in messages if not _is_error(message)]

    def commit(self, offsets: list[TopicPartition]) -> None:
        """Synchronously record where to resume; a lost partition is re-read, not lost."""
        if not offsets:
            return
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            # After a rebalance another sink owns the partition and re-reads it;
            # the deduplicating table keeps that re-read from doubling rows.
            log.warning("offset commit failed, batch will be re-read: %s", exc)

    def hold(self, seconds: float) -> None:
        """Wait ``seconds`` while staying in the group, fetching nothing."""
        assignment = self._consumer.assignment()
        self._consumer.pause(assignment)
        try:
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                message = self._consumer.poll(min(left, 1.0))
                if message is not None and not _is_error(message):
                    self._early.append(message)
        finally:
            self._consumer.resume(assignment)

    def close(self) -> None:
        self._consumer.close()


def _is_error(message: Any) -> bool:
    error = message.error()
    if error is None:
        return False
    if error.code() != KafkaError._PARTITION_EOF:
        log.warning("consumer error: %s", error)
    return True
