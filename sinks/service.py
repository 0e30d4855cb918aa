"""Assembles the running sink from settings: store, migrations, Kafka source, loop.

Lifecycle: ``with Sink(settings, kafka) as sink: sink.run(stop)``. Entering
opens ClickHouse and applies the migrations; leaving closes the consumer (its
group leaves cleanly), flushes dead letters and removes scratch files.
"""

from __future__ import annotations

import threading
from types import TracebackType

from clickhouse_connect.driver.client import Client

from schemas.kafka import KafkaSettings
from sinks.clickhouse import connect
from sinks.consumer import KafkaSource
from sinks.dead_letter import DeadLetters
from sinks.loop import SinkLoop
from sinks.migrate import apply_migrations
from sinks.settings import SinkSettings
from sinks.store import AuditStore
from sinks.writer import AvroWriter


def open_store(settings: SinkSettings) -> Client:
    """A client on the audit database with every migration applied."""
    client = connect(settings.clickhouse_url, settings.database)
    apply_migrations(client)
    return client


class Sink:
    def __init__(self, settings: SinkSettings, kafka: KafkaSettings) -> None:
        self.settings = settings
        self.kafka = kafka
        self.client: Client | None = None

    def __enter__(self) -> Sink:
        self.client = open_store(self.settings)
        settings = self.settings
        self.writer = AvroWriter(self.client, settings.clickhouse_url, settings.parse_files)
        self.dead_letters = DeadLetters(self.kafka)
        self.store = AuditStore(self.writer, self.dead_letters, self.kafka, self.settings)
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
        self.writer.close()
