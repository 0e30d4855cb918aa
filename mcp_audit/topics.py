"""Create the pipeline's topics on any Kafka-protocol broker, idempotently."""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from schemas.errors import PlatformError
from schemas.kafka import KafkaSettings


def ensure_topics(settings: KafkaSettings, timeout_s: float = 10.0) -> list[str]:
    """Create whichever of the pipeline's topics are missing; returns those created."""
    admin = AdminClient(settings.client_config())
    try:
        existing = set(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise PlatformError(
            "cannot reach the broker", bootstrap_servers=settings.bootstrap_servers
        ) from exc
    missing = [topic for topic in settings.topics() if topic not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [NewTopic(t, settings.partitions, settings.replication_factor) for t in missing],
        operation_timeout=timeout_s,
    )
    for topic, future in futures.items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise PlatformError("cannot create topic", topic=topic) from exc
    return missing
