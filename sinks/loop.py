"""The sink loop: consume -> batch -> write -> commit, until asked to stop.

Lifecycle: build with a source and a store, call :meth:`SinkLoop.run` with a
``threading.Event``; it returns after the event is set and the batches taken
are stored and committed (or, if ClickHouse is down at that moment, without
committing them: the next run reads them again and the insert token drops what
was already stored). Offsets are committed only after ClickHouse accepted the
batch and the dead-letter topic acknowledged its letters. At most two batches
are in memory: one being written, one being polled.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from confluent_kafka import TopicPartition

from schemas.backoff import Backoff
from sinks.batch import Batch
from sinks.errors import BrokerUnavailableError, StoreUnavailableError
from sinks.settings import SinkSettings
from sinks.store import AuditStore

log = logging.getLogger(__name__)
_POLL_CHUNK = 10_000
# A slow insert is waited for plainly; only a longer wait (an outage) pauses fetching
# to keep polling, well within librdkafka's max.poll.interval.ms (300 s).
_PATIENCE_S = 10.0


class Source(Protocol):
    def poll(self, max_messages: int, timeout_s: float) -> list[object]: ...
    def commit(self, offsets: list[TopicPartition]) -> None: ...
    def hold(self, seconds: float) -> None: ...


class SinkLoop:
    def __init__(self, source: Source, store: AuditStore, settings: SinkSettings) -> None:
        self.source = source
        self.store = store
        self.settings = settings
        self.batch = Batch()
        self.batches = 0
        self.stop = threading.Event()
        # While one batch is written, the next is polled: ClickHouse decoding and Kafka
        # fetching overlap. Only this thread touches the consumer; commits stay in order.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sink-writer")
        self._in_flight: tuple[Batch, Future[bool]] | None = None

    def run(self, stop: threading.Event) -> None:
        self.stop = stop
        try:
            while not stop.is_set():
                self.step()
            self.flush()
        finally:
            self._writer.shutdown(wait=True)

    def step(self) -> None:
        if self._in_flight is not None and self._in_flight[1].done():
            self._finish_in_flight()  # commit as soon as stored, not at the next batch
        room = max(1, min(_POLL_CHUNK, self.settings.batch_rows - self.batch.rows))
        self.batch.add(self.source.poll(room, min(0.1, self.settings.batch_seconds)))
        if self.batch.due(self.settings.batch_rows, self.settings.batch_seconds):
            self.flush()

    def flush(self) -> bool:
        """Finish the batch in flight, then hand the current one to the writer.

        Returns False if stopped before ClickHouse took a batch (it is re-read next run).
        """
        if not self._finish_in_flight():
            return False
        if self.batch.rows:
            batch, self.batch = self.batch, Batch()
            self._in_flight = (batch, self._writer.submit(self._store, batch))
        if self.stop.is_set():
            return self._finish_in_flight()
        return True

    def _finish_in_flight(self) -> bool:
        if self._in_flight is None:
            return True
        batch, future = self._in_flight
        while not future.done():
            try:
                future.result(timeout=_PATIENCE_S)
            except TimeoutError:
                self.source.hold(1.0)  # a long outage: stay in the group, fetch nothing
        self._in_flight = None
        if not future.result():
            return False
        self.source.commit(batch.commit_offsets())
        log.debug("stored and committed %d messages", batch.rows)
        self.batches += 1
        return True

    def _store(self, batch: Batch) -> bool:
        """Writer thread: store the batch, retrying with backoff; False if stopped first."""
        prepared = self.store.prepare(batch)
        backoff = Backoff(self.settings.retry_initial_seconds, self.settings.retry_max_seconds)
        while True:
            try:
                self.store.write(prepared)
                self.store.dead_letters.flush()
                return True
            except (StoreUnavailableError, BrokerUnavailableError) as exc:
                if self.stop.is_set():
                    log.warning("stopping with an unstored batch; it will be re-read: %s", exc)
                    return False
                wait = backoff.wait()
                what = "ClickHouse" if isinstance(exc, StoreUnavailableError) else "the broker"
                log.warning("%s unavailable, retrying in %.1fs: %s", what, wait, exc)
                self.stop.wait(wait)
