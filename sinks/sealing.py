"""The sealer as the settings describe it: key directory, signer, where heads are published."""

from __future__ import annotations

from pathlib import Path

from clickhouse_connect.driver.client import Client

from schemas.kafka import KafkaSettings
from sinks.digests import Sealer
from sinks.head_publishers import AlertTopic, HeadPublisher, HeadsFile
from sinks.settings import SinkSettings
from sinks.signing import FileSigner, key_dir


def sealer_from_settings(
    client: Client,
    settings: SinkSettings,
    kafka: KafkaSettings | None,
    data_dir: Path | None = None,
) -> Sealer:
    """The file-key sealer; with ``kafka``, heads go to the alert topic too. The key
    directory must lie outside the store and ``data_dir``."""
    directory = key_dir(settings.signing_key_dir, settings.clickhouse_url, data_dir)
    publishers: list[HeadPublisher] = [HeadsFile(settings.heads_file)]
    if kafka is not None:
        publishers.append(AlertTopic(kafka))
    return Sealer(client, FileSigner(directory), directory, settings.digest_period_s, publishers)
