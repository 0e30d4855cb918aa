"""The sealer as the settings describe it (key directory, signer, where heads are
published) and its schedule: one cycle every ``MCP_AUDIT_SINK_SEAL_EVERY_S``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from clickhouse_connect.driver.client import Client

from schemas.digest import TreeHead
from schemas.errors import ConfigError
from schemas.kafka import KafkaSettings
from sinks.digests import Sealer
from sinks.head_publishers import AlertTopic, HeadPublisher, HeadsFile
from sinks.settings import SinkSettings
from sinks.signing import FileSigner, key_dir

log = logging.getLogger(__name__)
Cycle = Callable[[], tuple[int, list[TreeHead]]]


def sealer_from_settings(
    client: Client,
    settings: SinkSettings,
    kafka: KafkaSettings | None,
    data_dir: Path | None = None,
) -> Sealer:
    """The file-key sealer; with ``kafka``, heads go to the alert topic too. The key
    directory must lie outside the store and ``data_dir``."""
    if settings.cluster is not None:
        # It finds new rows by audit_events' parts, which a Distributed table has none
        # of: it would seal nothing, silently. Refused until it reads each shard.
        raise ConfigError(
            "sealing is not available in cluster mode yet (docs/operations.md, 'Cluster mode')",
            cluster=settings.cluster,
        )
    directory = key_dir(settings.signing_key_dir, settings.clickhouse_url, data_dir)
    publishers: list[HeadPublisher] = [HeadsFile(settings.heads_file)]
    if kafka is not None:
        publishers.append(AlertTopic(kafka))
    return Sealer(client, FileSigner(directory), directory, settings.digest_period_s, publishers)


def seal_every(
    cycle: Cycle, every_s: float, stop: threading.Event, done: Callable[[int, list[TreeHead]], None]
) -> None:
    """Run ``cycle`` now and then every ``every_s`` until ``stop``, handing each result to
    ``done``. A cycle that fails is logged and the next one tries again: the sealer's
    state is its own file, so a failed cycle leaves nothing half done to repair."""
    while True:
        try:
            done(*cycle())
        except Exception:
            log.exception("sealing failed; trying again in %g s", every_s)
        if stop.wait(every_s):
            return
