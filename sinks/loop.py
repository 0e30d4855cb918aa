"""The sink loop: consume -> batch -> write -> commit, until asked to stop.

Lifecycle: build with a source and a store, call :meth:`SinkLoop.run` with a
``threading.Event``; it returns after the event is set and the current batch
is stored and committed (or, if ClickHouse is down at that moment, without
committing it: the next run reads it again and the insert token drops what
was already stored). Offsets are committed only after ClickHouse accepted the
batch and the dead-letter topic acknowledged its letters.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from confluent_kafka import TopicPartition

from sinks.batch import Batch
from sinks.errors import StoreUnavailableError
from sinks.settings import SinkSettings
from sinks.store import AuditStore

log = logging.getLogger(__name__)
_POLL_CHUNK = 10_000


class Source(Protocol):
    def poll(self, max_messages: int, timeout_s: float) -> list[object]: ...
    def commit(self, offsets: list[TopicPartition]) -> None: ...
    def hold(self, seconds: float) -> None: ...


class Backoff:
    """Waits that double from ``initial`` up to ``ceiling``."""

    def __init__(self, initial: float, ceiling: float) -> None:
        self.initial, self.ceiling, self.next = initial, ceiling, initial

    def wait(self) -> float:
        current, self.next = self.next, min(self.next * 2, self.ceiling)
        return current


class SinkLoop:
    def __init__(self, source: Source, store: AuditStore, settings: SinkSettings) -> None:
        self.source = source
        self.store = store
        self.settings = settings
        self.batch = Batch()
        self.batches = 0
        self.stop = threading.Event()

    def run(self, stop: threading.Event) -> None:
        self.stop = stop
        while not stop.is_set():
            self.step()
        self.flush()

    def step(self) -> None:
        room = max(1, min(_POLL_CHUNK, self.settings.batch_rows - self.batch.rows))
        self.batch.add(self.source.poll(room, min(0.1, self.settings.batch_seconds)))
        if self.batch.due(self.settings.batch_rows, self.settings.batch_seconds):
            self.flush()

    def flush(self) -> bool:
        """Store and commit the current batch; False if stopped before ClickHouse took it."""
        if not self.batch.rows:
            return True
        prepared = self.store.prepare(self.batch)
        backoff = Backoff(self.settings.retry_initial_seconds, self.settings.retry_max_seconds)
        while True:
            try:
                self.store.write(prepared)
                self.store.dead_letters.flush()
                break
            except StoreUnavailableError as exc:
                if self.stop.is_set():
                    log.warning("stopping with an unstored batch; it will be re-read: %s", exc)
                    return False
                wait = backoff.wait()
                log.warning("ClickHouse unavailable, retrying in %.1fs: %s", wait, exc)
                self.source.hold(wait)
        self.source.commit(self.batch.commit_offsets())
        log.debug("stored and committed %d messages", self.batch.rows)
        self.batches += 1
        self.batch = Batch()
        return True
