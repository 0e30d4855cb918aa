"""Replay closed spool segments into Kafka, oldest first, one segment at a time.

A segment is deleted only once every record in it was acknowledged; if a
delivery failed, the whole segment stays and is tried again later, so a record
may arrive twice (its event id lets the sink drop the copy) but never zero
times. A full local queue is not a failure: the segment goes on from the first
record not yet queued at the next step, so live events and replay share the
queue without sending a segment's head again and again. Runs on the
publisher's I/O thread only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from producers.transport.counters import Counters
from producers.transport.spool import Spool, read_segment

log = logging.getLogger(__name__)


class _SegmentReplay:
    """One spool segment being replayed: its records, how far queued, what came back."""

    __slots__ = ("counters", "error", "failed", "pending", "queued", "records", "segment")

    def __init__(self, segment: Path, counters: Counters) -> None:
        self.segment = segment
        self.records = list(read_segment(segment))
        self.queued = 0  # records handed to the producer so far
        self.counters = counters
        self.pending = 0
        self.failed = False
        self.error: Any = None

    @property
    def unqueued(self) -> bool:
        return not self.failed and self.queued < len(self.records)

    def delivered(self, err: Any, msg: Any) -> None:
        self.pending -= 1
        if err is not None:
            self.failed, self.error = True, err
        else:
            self.counters.sent += 1


class Replay:
    def __init__(self, producer: Any, topic: str, spool: Spool, counters: Counters) -> None:
        self._producer = producer
        self._topic = topic
        self._spool = spool
        self._counters = counters
        self._batch: _SegmentReplay | None = None
        self._next_try = 0.0
        self._warned: Path | None = None
        self.fenced = False
        self.failed_last = False

    @property
    def idle(self) -> bool:
        """No replay batch is in flight."""
        return self._batch is None

    def step(self, now: float, interval_s: float) -> None:
        """Settle the batch in flight, or start the next one when it is time."""
        if self._batch is not None:
            if self._batch.unqueued:
                self._queue(self._batch)
            self._settle(self._batch, now, interval_s)
            return
        if now < self._next_try:
            return
        self._next_try = now + interval_s
        segments = self._spool.segments()
        if not segments and self._spool.bytes > 0:  # records only in the active segment
            self._spool.rotate()
            segments = self._spool.segments()
        if segments:
            self._batch = _SegmentReplay(segments[0], self._counters)
            self._queue(self._batch)

    def _queue(self, batch: _SegmentReplay) -> None:
        """Hand the segment's next records to the producer until its local queue is full."""
        records, produce, topic = batch.records, self._producer.produce, self._topic
        while batch.queued < len(records):
            key, value = records[batch.queued]
            try:
                produce(topic, value, key, on_delivery=batch.delivered)
            except BufferError:
                return  # full: go on from here at the next step
            except KafkaException as exc:  # e.g. the producer failed fatally: keep the segment
                batch.failed, batch.error = True, exc.args[0]
                return
            batch.pending += 1
            batch.queued += 1

    def _settle(self, batch: _SegmentReplay, now: float, interval_s: float) -> None:
        if batch.pending > 0 or batch.unqueued:
            return
        self._batch = None
        self.failed_last = batch.failed
        if batch.failed:
            self._next_try = now + interval_s
            self.fenced = batch.error is not None and is_fatal(batch.error)
            if self._warned != batch.segment:  # once per segment, not every retry
                self._warned = batch.segment
                log.warning(
                    "spool replay of %s failed (%s); retrying", batch.segment.name, batch.error
                )
            return
        self._spool.remove(batch.segment)
        self._counters.spool_bytes = self._spool.bytes
        self._next_try = 0.0  # the broker takes records again: go on at once
        log.info("replayed spool segment %s", batch.segment.name)


def is_fatal(err: Any) -> bool:
    """Errors after which an idempotent producer never recovers and must be replaced."""
    return bool(err.fatal()) or err.code() == KafkaError.PRODUCER_FENCED
