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
from typing import Any

import faust

from processors import __version__
from processors.alerts import AlertFolder
from processors.batch import BatchEnricher
from processors.correlation import CallCorrelator
from processors.delivery import Delivery
from processors.detectors.suite import DetectorSuite
from processors.loop import EnrichmentLoop
from processors.rules_file import load_rules
from processors.settings import ProcessorSettings
from processors.stall import StallWatch
from processors.state import TableBackedState
from processors.watch import PipelineWatch
from processors.watch_agent import add_watch_agent, watch_topic_name
from schemas.kafka import KafkaSettings

log = logging.getLogger(__name__)
S = 1_000_000
RECOVERY_WAIT_S = 120.0


def faust_options(kafka: KafkaSettings, settings: ProcessorSettings) -> dict[str, Any]:
    """Faust settings for production (documented in README): none of Faust's dev defaults."""
    brokers = ";".join(f"kafka://{b.strip()}" for b in kafka.bootstrap_servers.split(","))
    options: dict[str, Any] = {
        "broker": brokers,
        "store": settings.table_store,
        "datadir": str(settings.data_dir),
        "topic_replication_factor": settings.topic_replication_factor,
        "topic_partitions": settings.table_partitions,
        "processing_guarantee": "at_least_once",
        "consumer_auto_offset_reset": "earliest",
        "broker_session_timeout": settings.session_timeout_s,
        "web_enabled": settings.web_enabled,
        "web_port": settings.web_port,
        "key_serializer": "json",
        "value_serializer": "json",
    }
    if kafka.sasl_mechanism and kafka.sasl_username and kafka.sasl_password:
        options["broker_credentials"] = faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value(),
            mechanism=kafka.sasl_mechanism,
        )
    return options


def worker_arguments(loglevel: str, settings: ProcessorSettings | None = None) -> list[str]:
    """Faust's ``worker`` command line for these settings (its CLI ignores ``web_enabled``)."""
    settings = settings or ProcessorSettings.load()
    web = ["--web-port", str(settings.web_port)] if settings.web_enabled else ["--without-web"]
    return ["worker", "--loglevel", loglevel, *web]


def build_loop(
    kafka: KafkaSettings, settings: ProcessorSettings, state: TableBackedState | None
) -> EnrichmentLoop:
    """The enrichment loop with its rules, detectors and producer, ready to :meth:`run`."""
    users = state.users if state else {}
    tools = state.tools if state else {}
    enricher = BatchEnricher(
        load_rules(settings.rules_path),
        DetectorSuite(users, tools),
        CallCorrelator(int(settings.call_timeout_s * S), settings.max_pending_calls),
        AlertFolder(int(settings.alert_window_s * S)),
        max_future_us=int(settings.max_future_s * S),
        max_age_us=int(settings.max_age_days * 86_400 * S),
        version=__version__,
    )
    client = kafka.client_config()
    delivery = Delivery(
        client,
        (
            kafka.topic_enriched,
            kafka.topic_alerts,
            kafka.topic_dead_letter,
            watch_topic_name(settings.app_id),
        ),
        settings.send_retry_max_s,
    )
    return EnrichmentLoop(
        {
            **client,
            "group.id": f"{settings.app_id}-enrich",
            "session.timeout.ms": int(settings.session_timeout_s * 1000),
        },
        kafka.topic_raw,
        enricher,
        delivery,
        batch_max=settings.batch_max_records,
        batch_wait_s=settings.batch_wait_ms / 1000,
        stall=StallWatch(int(settings.stall_after_s * S)),
        state=state,
    )


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
