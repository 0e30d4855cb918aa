"""Assembles the running sink from settings: store, migrations, Kafka source, loop.

Lifecycle: ``with Sink(settings, kafka) as sink: sink.run(stop)``. Entering
opens ClickHouse and applies the migrations (or takes a client from
:func:`wait_for_store`); leaving closes the consumer (its group leaves
cleanly), flushes dead letters and removes scratch files. The sink only
writes: everything that reads the store is :mod:`readside`.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

from clickhouse_connect.driver.client import Client

from schemas.backoff import Backoff
from schemas.errors import PlatformError
from schemas.kafka import KafkaSettings
from sinks.clickhouse import connect
from sinks.cluster import layout_for
from sinks.conflicts import ConflictAlerts
from sinks.consumer import KafkaSource
from sinks.dead_letter import DeadLetters
from sinks.loop import SinkLoop
from sinks.migrate import apply_migrations
from sinks.settings import SinkSettings
from sinks.store import AuditStore
from sinks.vouch import Vouching
from sinks.writer import AvroWriter

log = logging.getLogger(__name__)
RESTART_FIRST_S, RESTART_MAX_S = 0.5, 30.0  # waits before a failed sink starts again


def open_store(settings: SinkSettings) -> Client:
    """A client on the audit database with every migration applied."""
    client = connect(settings.clickhouse_url, settings.database)
    apply_migrations(client, layout=layout_for(settings))
    return client


def wait_for_store(settings: SinkSettings, stop: threading.Event) -> Client | None:
    """:func:`open_store`, retried with backoff while ClickHouse is not there yet.

    A sink started before ClickHouse (or during its restart) waits instead of
    exiting into a restart loop. Returns None if ``stop`` is set first.
    """
    backoff = Backoff(settings.retry_initial_seconds, settings.retry_max_seconds)
    while not stop.is_set():
        try:
            return open_store(settings)
        except PlatformError as exc:
            wait = backoff.wait()
            log.warning("ClickHouse not reachable, retrying in %.1fs: %s", wait, exc)
            stop.wait(wait)
    return None


class Sink:
    def __init__(
        self, settings: SinkSettings, kafka: KafkaSettings, client: Client | None = None
    ) -> None:
        self.settings = settings
        self.kafka = kafka
        self.client = client

    def __enter__(self) -> Sink:
        self.client = self.client or open_store(self.settings)
        settings = self.settings
        self.writer = AvroWriter(self.client, settings.clickhouse_url, settings.parse_files)
        self.dead_letters = DeadLetters(self.kafka)
        self.conflicts = ConflictAlerts(self.client, self.kafka)
        keys = settings.processor_keys_dir
        vouching = Vouching(keys) if keys is not None else None
        if vouching is None:
            log.warning(
                "enriched records not checked (no processor_keys_dir): whoever can write the"
                " enriched topic can add events that are stored as genuine"
            )
        self.store = AuditStore(
            self.writer, self.dead_letters, self.kafka, self.settings, self.conflicts, vouching
        )
        self.source = KafkaSource(
            self.kafka, settings.consumer_group, self.store.topics(), settings.session_timeout_ms
        )
        self.loop = SinkLoop(self.source, self.store, self.settings)
        return self

    def run(self, stop: threading.Event) -> None:
        self.loop.run(stop)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.source.close()
        self.dead_letters.close()
        self.conflicts.close()
        self.writer.close()


def run_restarting(settings: SinkSettings, kafka: KafkaSettings, stop: threading.Event) -> None:
    """Run a :class:`Sink` until ``stop``; one that fails is logged and a new one starts
    after a wait that doubles (never a tight loop), back to the first wait once a sink
    has started."""
    backoff = Backoff(RESTART_FIRST_S, RESTART_MAX_S)
    while not stop.is_set():
        try:
            with Sink(settings, kafka) as sink:
                backoff.reset()
                sink.run(stop)
        except Exception:
            log.exception("the sink failed; restarting in %.1f s", backoff.peek())
            stop.wait(backoff.wait())
