"""The dead-letter topic: a message the sink cannot store goes there with the reason.

Lifecycle: one :class:`DeadLetters` per sink; :meth:`send` queues, :meth:`flush`
waits until the broker has every queued letter. The loop flushes before it
commits the batch's offsets, so a letter is never lost to a crash in between.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import Producer

from schemas.kafka import (
    HEADER_DLQ_DETAIL,
    HEADER_DLQ_OFFSET,
    HEADER_DLQ_PARTITION,
    HEADER_DLQ_REASON,
    HEADER_DLQ_TOPIC,
    KafkaSettings,
)
from sinks.errors import BrokerUnavailableError

log = logging.getLogger(__name__)
_DETAIL_LIMIT = 2000


class DeadLetters:
    def __init__(self, kafka: KafkaSettings) -> None:
        self.topic = kafka.topic_dead_letter
        self._producer = Producer({**kafka.client_config(), "enable.idempotence": True})
        self.sent = 0

    def send(self, message: Any, reason: str, detail: str) -> None:
        original = getattr(message, "original", message)
        headers: list[tuple[str, str | bytes | None]] = [
            (HEADER_DLQ_REASON, reason.encode()),
            (HEADER_DLQ_DETAIL, detail[:_DETAIL_LIMIT].encode("utf-8", "replace")),
            (HEADER_DLQ_TOPIC, str(original.topic()).encode()),
            (HEADER_DLQ_PARTITION, str(original.partition()).encode()),
            (HEADER_DLQ_OFFSET, str(original.offset()).encode()),
        ]
        log.warning(
            "dead letter %s[%s]@%s: %s",
            original.topic(), original.partition(), original.offset(), reason,
        )  # fmt: skip
        self._producer.produce(
            self.topic, value=original.value(), key=original.key(), headers=headers
        )
        self._producer.poll(0)
        self.sent += 1

    def flush(self, timeout_s: float = 30.0) -> None:
        """Block until every letter is on the broker; :class:`BrokerUnavailableError` if
        some are not acknowledged within ``timeout_s``."""
        remaining = self._producer.flush(timeout_s)
        if remaining:
            raise BrokerUnavailableError(
                "dead letters not acknowledged", topic=self.topic, pending=remaining
            )

    def close(self) -> None:
        self._producer.flush(10.0)
