"""The running platform: broker, topics and store, started together and stopped together.

:class:`Platform` owns what ``mcp-audit up`` starts. With the default settings
everything is embedded under one data directory; naming a bootstrap server
(``MCP_AUDIT_KAFKA_BOOTSTRAP_SERVERS``) uses that cluster instead of starting a
broker, and an ``http(s)://`` ClickHouse URL uses that server instead of chDB.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from clickhouse_connect.driver.client import Client

from mcp_audit.embedded.broker import EmbeddedBroker
from mcp_audit.private_files import ensure_hex_key
from mcp_audit.settings import PlatformSettings
from mcp_audit.topics import ensure_topics
from schemas.kafka import KafkaSettings
from sinks.clickhouse import connect
from sinks.settings import SinkSettings

log = logging.getLogger(__name__)
PROCESSOR_KEY_ID = "p1"  # the id of the processors' key up makes


class Platform(contextlib.AbstractContextManager["Platform"]):
    def __init__(
        self, platform: PlatformSettings, kafka: KafkaSettings, sink: SinkSettings
    ) -> None:
        self.settings = platform
        self.broker: EmbeddedBroker | None = None
        self.store: Client | None = None
        self.sink_settings = sink
        data_dir = platform.data_dir.resolve()
        if "clickhouse_url" not in sink.model_fields_set:
            self.sink_settings = self.sink_settings.model_copy(
                update={"clickhouse_url": f"chdb://{data_dir / 'clickhouse'}"}
            )
        if "processor_keys_dir" not in sink.model_fields_set:
            # On by default: the processors ``up`` starts sign each enriched record under
            # a key made in the data directory (PROCESSOR_KEY_ID), and the sink checks it.
            self.sink_settings = self.sink_settings.model_copy(
                update={"processor_keys_dir": data_dir / "processor-keys"}
            )
        self.kafka = kafka
        self.runs_embedded_broker = "bootstrap_servers" not in kafka.model_fields_set
        if self.runs_embedded_broker:
            self.kafka = kafka.model_copy(
                update={"bootstrap_servers": f"{platform.broker_host}:{platform.broker_port}"}
            )

    @property
    def processor_key_file(self) -> Path | None:
        """The key the processors sign enriched records with (made at start), in the
        directory of keys the sink checks them under; None when the sink checks none."""
        keys = self.sink_settings.processor_keys_dir
        return None if keys is None else keys / f"{PROCESSOR_KEY_ID}.key"

    def start(self) -> Platform:
        data_dir: Path = self.settings.data_dir
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.processor_key_file is not None:
            ensure_hex_key(self.processor_key_file)
        if self.runs_embedded_broker:
            self.broker = EmbeddedBroker(
                host=self.settings.broker_host,
                port=self.settings.broker_port,
                binary=self.settings.broker_bin,
                log_path=data_dir / "broker.log",
                start_timeout_s=self.settings.broker_start_timeout_s,
            ).start()
            log.info("embedded broker listening on %s", self.broker.bootstrap_servers)
        created = ensure_topics(self.kafka)
        log.info("topics ready (created: %s)", ", ".join(created) or "none")
        self.store = connect(self.sink_settings.clickhouse_url, self.sink_settings.database)
        log.info("audit store open at %s", self.sink_settings.clickhouse_url)
        return self

    def restart_broker(self) -> None:
        """Start the embedded broker again, on its port, with the pipeline's topics.

        It kept its data in memory only: the new one starts empty.
        """
        assert self.broker is not None
        self.broker.start()
        try:
            created = ensure_topics(self.kafka)
        except BaseException:
            self.broker.stop()  # all or nothing: a broker without topics is not restarted
            raise
        log.info("embedded broker started again (topics created: %s)", ", ".join(created))

    def stop(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None
        if self.broker is not None:
            self.broker.stop()
            self.broker = None

    def __enter__(self) -> Platform:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
