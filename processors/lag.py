"""How far a consumer group stands behind a topic's end, read from the broker.

The one place that reads it, for the three that ask: the enrichment worker's
own lag (:mod:`processors.loop`, for the stall check), the sink group's count
behind (:mod:`processors.sink_probe`) and ``mcp-audit up``'s status line.
The end of a partition is its high watermark, which the embedded broker
(Tansu) reports as its last batch's base offset + 1: a count from it may fall
short by a batch, never overcount.

Blocking (librdkafka): call from a thread off the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from confluent_kafka import Consumer, TopicPartition


class Position(NamedTuple):
    """Where a group stands on one partition, against that partition's end."""

    partition: int
    offset: int  # the group's next offset there; 0 where it has none yet
    end: int  # the high watermark

    @property
    def behind(self) -> int:
        """Messages between the group's offset and the end."""
        return max(0, self.end - self.offset)


def positions(
    consumer: Consumer, offsets: Iterable[TopicPartition], timeout_s: float
) -> list[Position]:
    """Each of ``offsets`` (a group's committed or consumed offsets, negative where it
    has none: librdkafka's logical offsets) against its partition's end."""
    found = []
    for tp in offsets:
        _, end = consumer.get_watermark_offsets(tp, timeout=timeout_s)
        found.append(Position(tp.partition, max(tp.offset, 0), end))
    return found
