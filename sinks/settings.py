"""``MCP_AUDIT_SINK_*``: where the audit store is and how the sink writes to it."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from schemas.settings import ENV_PREFIX, PartSettings


class SinkSettings(PartSettings):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}SINK_", extra="forbid")

    clickhouse_url: str = Field(
        "chdb://./mcp-audit-data/clickhouse",
        description="chdb:///dir for the embedded engine, or http(s)://user:pass@host:8123.",
    )
    database: str = Field("mcp_audit", description="Database holding the audit tables.")
