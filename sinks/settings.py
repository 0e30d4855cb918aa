"""``MCP_AUDIT_SINK_*``: where the audit store is and how the sink writes to it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from schemas.kafka import SINK_GROUP
from schemas.settings import ENV_PREFIX, PartSettings


class SinkSettings(PartSettings):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}SINK_", extra="forbid")

    clickhouse_url: str = Field(
        "chdb://./mcp-audit-data/clickhouse",
        description="chdb:///dir for the embedded engine, or http(s)://user:pass@host:8123.",
    )
    database: str = Field("mcp_audit", description="Database holding the audit tables.")
    cluster: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
        description="Cluster mode: the ClickHouse cluster (remote_servers) the migrations"
        " create replicated, sharded tables on (docs/operations.md, Cluster mode).",
    )
    consumer_group: str = Field(SINK_GROUP, description="Kafka consumer group of the sink.")
    session_timeout_ms: int = Field(
        10_000, ge=1000, description="Kafka consumer session timeout; joining takes about half."
    )
    batch_rows: int = Field(50_000, ge=1, description="A batch is written at this many rows...")
    batch_seconds: float = Field(1.0, gt=0, description="...or when its oldest row is this old.")
    parse_files: int = Field(
        2, ge=1, le=16, description="Avro files per batch ClickHouse decodes in parallel."
    )
    retry_initial_seconds: float = Field(
        0.2, gt=0, description="First wait when ClickHouse is unavailable; doubles each time."
    )
    retry_max_seconds: float = Field(30.0, gt=0, description="Longest wait between retries.")
    alert_retention_days: int = Field(
        2555, ge=1, le=65535, description="Days alerts are kept (events: per classification)."
    )
    processor_keys_dir: Path | None = Field(
        None,
        description="The processors' keys (<key id>.key, hex): set, an enriched record no"
        " key here vouches for is dead-lettered (unverified-processor) and alerted, never"
        " stored; unset: not checked (a warning is logged).",
    )
    pseudonym_key: SecretStr | None = Field(
        None, description="HMAC key the producers pseudonymise user ids with (for erase/export)."
    )
    pseudonym_key_id: str = Field("k1", description="Id of that key, as events carry it.")
    signing_key_dir: Path = Field(
        Path("mcp-audit-keys"),
        description="Directory of the Ed25519 key that signs tree heads, and of the sealer's"
        " state; created 0700, refused if others can read it or if it lies inside the"
        " store's data directory. The public half is written there as tree-head-key.pub.",
    )
    tree_heads_file: Path | None = Field(
        None,
        description="Every signed tree head is appended here, for auditors to copy off"
        " (default: tree-heads.jsonl in the signing key directory).",
    )
    digest_period_s: int = Field(3600, ge=60, description="Length of a sealed period.")
    seal_every_s: float = Field(
        60.0, ge=1, le=3600, description="How often the sealer appends new events and signs."
    )
    seal_lateness_s: int = Field(
        86_400,
        ge=60,
        description="verify names stored events in no tree head that are this much older"
        " than the newest head (the sealer appends what is stored every cycle).",
    )

    @property
    def heads_file(self) -> Path:
        return self.tree_heads_file or self.signing_key_dir / "tree-heads.jsonl"
