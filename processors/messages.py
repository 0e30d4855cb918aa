"""What goes in and out of a batch, and how a bad message becomes a dead letter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from schemas.kafka import (
    HEADER_DLQ_DETAIL,
    HEADER_DLQ_OFFSET,
    HEADER_DLQ_PARTITION,
    HEADER_DLQ_REASON,
    HEADER_DLQ_TOPIC,
)

Headers = list[tuple[str, Any]]


class RawMessage(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers


class OutMessage(NamedTuple):
    key: bytes | None
    value: bytes
    headers: Headers | None = None


@dataclass
class BatchOutput:
    enriched: list[OutMessage] = field(default_factory=list)
    alerts: list[OutMessage] = field(default_factory=list)
    dead: list[OutMessage] = field(default_factory=list)
    watch: list[OutMessage] = field(default_factory=list)


@dataclass
class EnrichCounters:
    """What one worker's enricher has done (the stall watch reads how many events)."""

    events: int = 0
    dead_letters: int = 0
    alerts: int = 0
    incomplete: int = 0
    dead_by_reason: dict[str, int] = field(default_factory=dict)

    def count_dead(self, reason: str) -> None:
        self.dead_letters += 1
        self.dead_by_reason[reason] = self.dead_by_reason.get(reason, 0) + 1


def dead_letter(message: RawMessage, reason: str, detail: str) -> OutMessage:
    """The original bytes, key and headers, plus where they came from and why they failed."""
    headers = [
        *message.headers,
        (HEADER_DLQ_REASON, reason.encode()),
        (HEADER_DLQ_DETAIL, detail[:1000].encode("utf-8", "replace")),
        (HEADER_DLQ_TOPIC, message.topic.encode()),
        (HEADER_DLQ_PARTITION, str(message.partition).encode()),
        (HEADER_DLQ_OFFSET, str(message.offset).encode()),
    ]
    return OutMessage(message.key, message.value or b"", headers)
