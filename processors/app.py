"""The Faust application: ``faust -A processors.app worker`` or ``mcp-audit processors``.

Faust runs the worker (lifecycle, signals, web, logging), owns the detector
state table and its changelog (recovered on start), and runs the batched
enrichment loop (:mod:`processors.loop`) as a task once table recovery is done.
``app`` is built at import from the environment's ``MCP_AUDIT_KAFKA_*`` and
``MCP_AUDIT_PROCESSORS_*`` settings, as Faust's command line expects.
"""

from __future__ import annotations

import asyncio
import logging

import faust

from processors.alerts import AlertFolder
from processors.settings import ProcessorSettings
from processors.state import TableBackedState
from processors.watch import PipelineWatch
from processors.watch_agent import add_watch_agent
from processors.wiring import S, build_loop, faust_options
from schemas.kafka import KafkaSettings

log = logging.getLogger(__name__)
RECOVERY_WAIT_S = 120.0


def create_app(kafka: KafkaSettings, settings: ProcessorSettings) -> faust.App:
    app = faust.App(settings.app_id, **faust_options(kafka, settings))
    # One changelog partition, as Faust advises for a GlobalTable shared by many workers.
    table = app.GlobalTable("detector-state", partitions=1, recovery_buffer_size=1)
    add_watch_agent(
        app,
        PipelineWatch(settings.heartbeat_grace, int(settings.sequence_grace_s * S)),
        AlertFolder(int(settings.alert_window_s * S)),
        kafka.topic_alerts,
        settings.table_partitions,
    )

    @app.task  # type: ignore[untyped-decorator]
    async def enrich() -> None:
        try:
            recovered = app.tables.recovery.completed  # type: ignore[attr-defined]
            await asyncio.wait_for(recovered.wait(), RECOVERY_WAIT_S)
        except TimeoutError:
            log.warning(
                "table recovery not done after %.0fs; starting with what is there", RECOVERY_WAIT_S
            )
        loop = build_loop(kafka, settings, TableBackedState(table))
        loop.flush_state = app.producer.flush
        log.info("enrichment loop starting on %s", kafka.topic_raw)
        try:
            await loop.run()
        finally:
            loop.delivery.close()

    return app


app = create_app(KafkaSettings.load(), ProcessorSettings.load())
