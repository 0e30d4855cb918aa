"""Build the worker's parts from settings: Faust options, the enricher, the enrichment loop.

Kept apart from :mod:`processors.app`, which builds a Faust app at import, so
tests and tools can build the same parts without one.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from processors import __version__
from processors.alerts import AlertFolder
from processors.batch import BatchEnricher
from processors.correlation import CallCorrelator
from processors.delivery import Delivery, OutputTopics
from processors.detectors.suite import DetectorSuite
from processors.loop import EnrichmentLoop, loop_consumer
from processors.origin import OriginCheck
from processors.rules_file import load_rules
from processors.settings import ProcessorSettings
from processors.sink_probe import SinkLagProbe
from processors.state import StateTokens, TableBackedState, load_state_key
from processors.watch.stall import StallWatch
from processors.watch_agent import watch_topic_name
from schemas.errors import ConfigError
from schemas.framing import RegistryFraming
from schemas.integrity import load_key_dir, read_origin_key
from schemas.kafka import KafkaSettings
from schemas.record_mac import RecordSigner

S = 1_000_000
log = logging.getLogger(__name__)


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
        # The check guards a RocksDB file that outlived its changelog topic. An in-memory
        # store has no such file, and Tansu reports a high watermark one past the last
        # batch's base offset, so a survivor of a rebalance "fails" it and crashes.
        "recovery_consistency_check": not settings.table_store.startswith("memory:"),
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


def build_enricher(
    settings: ProcessorSettings,
    state: TableBackedState | None,
    registry_url: str | None = None,
) -> BatchEnricher:
    """Rules, detectors (on ``state``'s mappings when given), correlator and alert folder."""
    origin = None
    if settings.origin_keys_dir is not None:
        origin = OriginCheck(load_key_dir(settings.origin_keys_dir))
        log.info("origin checked under keys %s", ", ".join(origin.key_ids))
    else:
        log.warning(
            "origin not checked (no origin_keys_dir): any raw-topic writer can forge events"
        )
    return BatchEnricher(
        load_rules(settings.rules_path),
        DetectorSuite(state.users, state.tools, state_tokens(settings))
        if state
        else DetectorSuite({}, {}),
        CallCorrelator(int(settings.call_timeout_s * S), settings.max_pending_calls),
        AlertFolder(int(settings.alert_window_s * S)),
        max_future_us=int(settings.max_future_s * S),
        max_age_us=int(settings.max_age_days * 86_400 * S),
        version=__version__,
        registry_url=registry_url,
        origin=origin,
    )


def state_tokens(settings: ProcessorSettings) -> StateTokens:
    """Tokens under the state key every worker of the group shares (processors/state.py)."""
    return StateTokens(load_state_key(settings.state_key_file, settings.data_dir))


def build_loop(
    kafka: KafkaSettings, settings: ProcessorSettings, state: TableBackedState | None
) -> EnrichmentLoop:
    """The enrichment loop with its enricher and producer, ready to :meth:`run`."""
    client = kafka.client_config()
    topics = OutputTopics(
        enriched=kafka.topic_enriched,
        alerts=kafka.topic_alerts,
        dead_letter=kafka.topic_dead_letter,
        watch=watch_topic_name(settings.app_id),
    )
    delivery = Delivery(client, topics, settings.send_retry_max_s, record_signer(settings))
    consumer = loop_consumer({
        **client,
        "group.id": settings.enrich_group,
        "session.timeout.ms": int(settings.session_timeout_s * 1000),
    })  # fmt: skip
    enricher = build_enricher(settings, state, kafka.schema_registry_url)
    if kafka.schema_registry_url:
        frame_with_registry(kafka, kafka.schema_registry_url, enricher, delivery)
    return EnrichmentLoop(
        consumer, kafka.topic_raw, enricher, delivery,
        batch_max=settings.batch_max_records, batch_wait_s=settings.batch_wait_ms / 1000,
        stall=StallWatch(int(settings.stall_after_s * S)), state=state,
    )  # fmt: skip


def record_signer(settings: ProcessorSettings) -> RecordSigner | None:
    """The signer of enriched records (:mod:`schemas.record_mac`) under the processors'
    key, whose id is its file's name; refused if it is one of the producers' origin keys
    (a producer holding it could mint enriched records)."""
    if settings.key_file is None:
        log.warning(
            "enriched records leave unsigned (no key_file): a sink that checks them refuses"
            " them, one that does not stores whatever the enriched topic's writers send"
        )
        return None
    key = read_origin_key(settings.key_file, settings.key_file.stem)
    origin = load_key_dir(settings.origin_keys_dir) if settings.origin_keys_dir else []
    if any(o.key == key.key for o in origin):
        raise ConfigError(
            "the processors' key is also an origin key: give the processors a key of their own",
            key_file=str(settings.key_file),
        )
    log.info("enriched records signed under processors' key %s", key.key_id)
    return RecordSigner(key)


def frame_with_registry(
    kafka: KafkaSettings, registry_url: str, enricher: BatchEnricher, delivery: Delivery
) -> None:
    """Confluent framing of the output; raw events in Confluent framing of the current
    schema read and reused as fast as single-object ones (ids asked in the background)."""
    delivery.frame_with_registry(
        registry_url, {kafka.topic_enriched: "EnrichedEvent", kafka.topic_alerts: "Alert"}
    )

    def accept(header: bytes) -> None:
        enricher.decode.accept_schema_id(header)
        enricher.writer.accept_raw_header(header)

    RegistryFraming("AuditEvent", registry_url, kafka.topic_raw, accept).start()


def build_sink_probe(kafka: KafkaSettings, settings: ProcessorSettings) -> SinkLagProbe:
    """The probe of the sink group's lag on the enriched topic."""
    return SinkLagProbe(
        kafka.client_config(), kafka.topic_enriched, settings.sink_group,
        probe_group=f"{settings.app_id}-sink-lag",
    )  # fmt: skip
