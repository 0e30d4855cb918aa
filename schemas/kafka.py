"""How the contract travels: the broker to reach, the topics, and message keys.

Shared by producers, processors and sinks; each builds its own client from
:meth:`KafkaSettings.client_config`.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from schemas.settings import ENV_PREFIX, PartSettings


class KafkaSettings(PartSettings):
    """``MCP_AUDIT_KAFKA_*``: where the broker is and how to talk to it."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}KAFKA_", extra="forbid")

    bootstrap_servers: str = Field(
        "127.0.0.1:9092",
        description="Kafka bootstrap servers. The embedded broker listens here by default.",
    )
    schema_registry_url: str | None = Field(
        None, description="Confluent-compatible registry; unset means single-object encoding."
    )
    security_protocol: str = Field("PLAINTEXT", description="PLAINTEXT, SSL, SASL_SSL ...")
    sasl_mechanism: str | None = Field(None, description="PLAIN, SCRAM-SHA-512 ...")
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    topic_raw: str = Field("mcp-audit.events.raw", description="Producers write here.")
    topic_enriched: str = Field("mcp-audit.events.enriched", description="Processors write here.")
    topic_alerts: str = Field("mcp-audit.alerts", description="Security consumes this.")
    topic_dead_letter: str = Field("mcp-audit.dead-letter", description="Undecodable input.")
    partitions: int = Field(6, ge=1, description="Partitions for topics mcp-audit creates.")
    replication_factor: int = Field(1, ge=1, description="Replication for topics it creates.")

    def client_config(self) -> dict[str, Any]:
        """librdkafka settings shared by every client of the pipeline."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            config["sasl.username"] = self.sasl_username
        if self.sasl_password:
            config["sasl.password"] = self.sasl_password.get_secret_value()
        return config

    def topics(self) -> list[str]:
        return [self.topic_raw, self.topic_enriched, self.topic_alerts, self.topic_dead_letter]


# Header names the pipeline sets; dead letters carry where they came from and why.
HEADER_DLQ_REASON = "mcp-audit.dlq.reason"
HEADER_DLQ_DETAIL = "mcp-audit.dlq.detail"
# The sink's consumer group by default: the sink joins it, the processors watch its lag.
SINK_GROUP = "mcp-audit-sink"
HEADER_DLQ_TOPIC = "mcp-audit.dlq.source-topic"
HEADER_DLQ_PARTITION = "mcp-audit.dlq.source-partition"
HEADER_DLQ_OFFSET = "mcp-audit.dlq.source-offset"
