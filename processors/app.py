"""The Faust application: ``faust -A processors.app worker`` or ``mcp-audit processors``.

Faust runs the worker (lifecycle, signals, web, logging), owns the detector
state table and its changelog (recovered on start), and runs the batched
enrichment loop (:mod:`processors.loop`) as a task once table recovery is done.
``app`` is built at import from the environment's ``MCP_AUDIT_KAFKA_*`` and
``MCP_AUDIT_PROCESSORS_*`` settings, as Faust's command line expects.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import cast

import faust

from processors.alerts import AlertFolder
from processors.settings import ProcessorSettings
from processors.state import ChangelogTable, TableBackedState
from processors.watch.sink_lag import SinkLagWatch
from processors.watch.streams import PipelineWatch
from processors.watch_agent import add_sink_lag_timer, add_watch_agent, alert_sender
from processors.wiring import S, build_loop, build_sink_probe, faust_options
from schemas.kafka import KafkaSettings

log = logging.getLogger(__name__)
RECOVERY_WAIT_S = 120.0


# Enrichment allocates a few containers per event and frees them with their batch, so
# at Python's default (a young collection every 700 net allocations) the collector ran
# ~200 times a second, and every few seconds a full pass over the worker's heap (Faust,
# detector state: ~50 ms each). Measured on one worker: 42k -> 48k events/s. Cyclic
# garbage is still collected, once this many containers are pending.
YOUNG_GC_THRESHOLD = 50_000


def collect_less_often() -> None:
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, middle, old)


def create_app(kafka: KafkaSettings, settings: ProcessorSettings) -> faust.App:
    app = faust.App(settings.app_id, **faust_options(kafka, settings))
    # One changelog partition, as Faust advises for a GlobalTable shared by many workers.
    table = app.GlobalTable("detector-state", partitions=1, recovery_buffer_size=1)
    folder = AlertFolder(int(settings.alert_window_s * S))
    send = alert_sender(app, folder, kafka.topic_alerts, kafka.schema_registry_url)
    add_watch_agent(
        app,
        PipelineWatch(
            settings.heartbeat_grace,
            int(settings.sequence_grace_s * S),
            int(settings.watch_forget_after_s * S),
        ),
        send,
        settings.table_partitions,
    )
    if settings.sink_lag_max_s > 0:
        sink_lag = SinkLagWatch(settings.sink_lag_max_s, settings.sink_group)
        probe = build_sink_probe(kafka, settings)
        add_sink_lag_timer(app, probe, sink_lag, send, settings.sink_lag_check_s)

    @app.task  # type: ignore[untyped-decorator]
    async def enrich() -> None:
        try:
            recovered = app.tables.recovery.completed  # type: ignore[attr-defined]
            await asyncio.wait_for(recovered.wait(), RECOVERY_WAIT_S)
        except TimeoutError:
            log.warning(
                "table recovery not done after %.0fs; starting with what is there", RECOVERY_WAIT_S
            )
        collect_less_often()
        # A Faust table has its serializers as attributes; its type stub omits them.
        loop = build_loop(kafka, settings, TableBackedState(cast(ChangelogTable, table)))
        log.info("enrichment loop starting on %s", kafka.topic_raw)
        try:
            await loop.run()
        finally:
            loop.delivery.close()

    return app


app = create_app(KafkaSettings.load(), ProcessorSettings.load())
