"""Replay closed spool segments into Kafka, oldest first, one segment at a time.

A segment is deleted only once every record in it was acknowledged; if any
failed, the whole segment stays and is tried again later, so a record may
arrive twice (its event id lets the sink drop the copy) but never zero times.
Runs on the publisher's I/O thread only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from producers.counters import Counters
from producers.spool import Spool, read_segment

log = logging.getLogger(__name__)


class _Batch:
    __slots__ = ("counters", "error", "failed", "pending", "segment")

    def __init__(self, segment: Path, counters: Counters) -> None:
        self.segment = segment
        self.counters = counters
        self.pending = 0
        self.failed = False
        self.error: Any = None

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
        self._batch: _Batch | None = None
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
            self._start(segments[0])

    def _start(self, segment: Path) -> None:
        batch = self._batch = _Batch(segment, self._counters)
        for key, value in read_segment(segment):
            try:
                self._producer.produce(self._topic, value, key, on_delivery=batch.delivered)
            except BufferError:
                batch.failed = True
                break
            except KafkaException as exc:  # e.g. the producer failed fatally: keep the segment
                batch.failed, batch.error = True, exc.args[0]
                break
            batch.pending += 1

    def _settle(self, batch: _Batch, now: float, interval_s: float) -> None:
        if batch.pending > 0:
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
