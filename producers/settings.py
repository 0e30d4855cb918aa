"""``MCP_AUDIT_PRODUCER_*``: what the producer inside an MCP server audits and where it spools."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from schemas.integrity import KEY_ID
from schemas.settings import ENV_PREFIX, PartSettings


def default_spool_dir() -> Path:
    """Per user, not per working directory: MCP clients start servers in arbitrary,
    sometimes read-only, directories."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "mcp-audit" / "spool"


class ProducerSettings(PartSettings):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}PRODUCER_", extra="forbid")

    enabled: bool = Field(True, description="Off: integrations call straight through.")
    on_start_failure: Literal["run_unaudited", "refuse"] = Field(
        "run_unaudited",
        description="refuse: while the producer cannot start (settings, keys, policy),"
        " every audited call is refused instead of running unaudited.",
    )
    server_id: str = Field("mcp-server", description="Stable id of the audited MCP server.")
    server_version: str | None = Field(None, description="Version of the audited server.")
    policy_file: Path | None = Field(None, description="TOML policy; unset: every tool MEDIUM.")
    hmac_key_env: str | None = Field(
        None, description="Name of the variable holding the pseudonym HMAC key."
    )
    hmac_key_file: Path | None = Field(None, description="File holding the HMAC key (wins).")
    hmac_key_id: str = Field("k1", description="Stored with pseudonyms, for rotation.")
    value_digest_key_env: str | None = Field(
        None, description="Name of the variable holding the value digest HMAC key."
    )
    value_digest_key_file: Path | None = Field(
        None, description="File holding the value digest key (wins)."
    )
    value_digest_key_id: str = Field(
        "d1", min_length=1, description="Stored with value digests, for rotation."
    )
    origin_key_file: Path | None = Field(
        None, description="File holding the origin key (hex); unset: events carry no origin MAC."
    )
    origin_key_id: str = Field(
        "o1", pattern=KEY_ID.pattern, description="Names the origin key in each event."
    )
    spool_dir: Path = Field(default_factory=default_spool_dir, description="Durable local spool.")
    spool_max_bytes: int = Field(256 * 2**20, gt=0, description="Beyond it events drop.")
    spool_warn_fraction: float = Field(0.8, gt=0, le=1, description="Log when this full.")
    fsync: Literal["always", "interval", "never"] = Field(
        "interval", description="always: per spool write; interval: once a second."
    )
    heartbeat_interval_s: float = Field(30.0, gt=0, description="Heartbeat event period.")
    delivery_timeout_ms: int = Field(30_000, gt=0, description="Then an event is spooled.")
    queue_max_messages: int = Field(200_000, gt=0, description="Local queue bound.")
    linger_ms: int = Field(5, ge=0, description="Batching delay of the Kafka client.")
    replay_interval_s: float = Field(5.0, gt=0, description="How often spool replay is tried.")
    max_string: int = Field(2048, gt=16, description="Longer kept strings are truncated.")
    max_depth: int = Field(8, gt=0, description="Deeper kept values are cut.")
    max_event_bytes: int = Field(
        900_000, gt=4096, description="Bodies are dropped first to stay under this."
    )
    redact_patterns: list[str] = Field(
        default_factory=list, description="Extra regexes to redact (JSON list; keep them linear)."
    )
