"""``MCP_AUDIT_PROCESSORS_*``: how the processors enrich, detect and run."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from schemas.kafka import SINK_GROUP
from schemas.settings import ENV_PREFIX, PartSettings


class ProcessorSettings(PartSettings):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}PROCESSORS_", extra="forbid")

    app_id: str = Field("mcp-audit-processors", description="Faust app id and consumer group.")
    rules_path: Path | None = Field(
        None, description="Risk and compliance rules (TOML); unset means the shipped defaults."
    )
    batch_max_records: int = Field(5000, ge=1, description="Most raw events enriched per batch.")
    batch_wait_ms: int = Field(20, ge=0, description="Longest wait for a batch to fill.")
    call_timeout_s: float = Field(
        300.0, gt=0, description="An attempt without its result after this is INCOMPLETE."
    )
    max_pending_calls: int = Field(
        100_000, ge=1, description="Attempts awaiting results; beyond it the oldest expire early."
    )
    alert_window_s: float = Field(
        300.0, gt=0, description="Same detector and user within this window: one alert, counted."
    )
    heartbeat_grace: float = Field(
        3.0, gt=1, description="A producer is silent after this many heartbeat intervals."
    )
    sequence_grace_s: float = Field(
        30.0, gt=0, description="A missing sequence number is a gap after this long."
    )
    watch_forget_after_s: float = Field(
        86_400.0, gt=0, description="A stream that stopped or went silent is forgotten after this."
    )
    stall_after_s: float = Field(
        60.0, gt=0, description="Own consumer stalled: lag but no progress for this long."
    )
    sink_group: str = Field(
        SINK_GROUP, description="The sink's consumer group, whose lag is watched."
    )
    sink_lag_max_s: float = Field(
        300.0, ge=0, description="Alert when the sink's oldest waiting event is older; 0: off."
    )
    sink_lag_check_s: float = Field(15.0, gt=0, description="How often the sink's lag is checked.")
    max_future_s: float = Field(
        3600.0, gt=0, description="Events timestamped further ahead are dead-lettered."
    )
    max_age_days: float = Field(
        365.0, gt=0, description="Events timestamped further back are dead-lettered."
    )
    send_retry_max_s: float = Field(
        30.0, gt=0, description="Backoff cap while the broker refuses output; never skips."
    )
    session_timeout_s: float = Field(
        10.0,
        ge=1,
        description="Consumer group session timeout; a dead worker's partitions move after it.",
    )
    table_store: str = Field(
        "memory://", description="Faust table store (rocksdb://... when installed)."
    )
    table_partitions: int = Field(
        6, ge=1, description="Partitions of topics Faust creates (its state changelog has 1)."
    )
    topic_replication_factor: int = Field(
        1, ge=1, description="Replication of the topics Faust creates (use 3 in production)."
    )
    origin_keys_dir: Path | None = Field(
        None,
        description="Producers' origin keys (<key id>.key, hex); set: events no key vouches"
        " for are dead-lettered and alerted; unset: origin is not checked.",
    )
    key_file: Path | None = Field(
        None,
        description="The processors' key (<key id>.key, hex, >= 32 bytes): each enriched"
        " record carries its MAC, and a sink holding the key stores only records it vouches"
        " for; unset: records leave unsigned (a warning is logged).",
    )
    data_dir: Path = Field(Path("mcp-audit-data/processors"), description="Faust data dir.")
    state_key_file: Path | None = Field(
        None,
        description="HMAC key of the tokens detector state keeps instead of URIs, IPs and "
        "clients; every worker of the group must share it. Unset: data_dir/state.key, "
        "created 0600.",
    )
    web_enabled: bool = Field(False, description="Faust's web server (metrics, table views).")
    web_port: int = Field(6066, ge=1, le=65535, description="Faust web port when enabled.")

    @property
    def enrich_group(self) -> str:
        """The consumer group the workers enrich the raw topic in."""
        return f"{self.app_id}-enrich"
