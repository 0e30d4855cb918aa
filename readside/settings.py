"""``MCP_AUDIT_READ_*``: who may read the store, and how much one read may take.

The limits are the engine's own settings, fixed on every people's connection
before ``readonly = 1`` locks them: a client cannot raise them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from schemas.settings import ENV_PREFIX, PartSettings


class ReadSettings(PartSettings):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}READ_", extra="forbid")

    token_file: Path = Field(
        Path("mcp-audit-data/read-tokens.json"),
        description="Operators' tokens (created 0600 with one for the current user if missing).",
    )
    port: int = Field(
        8124,
        ge=0,
        le=65535,
        description="The query endpoint on 127.0.0.1 of the process owning an embedded store"
        " (up, sink); 0: off.",
    )
    endpoint: str | None = Field(
        None, description="http://127.0.0.1:PORT of a running query endpoint: commands use it."
    )
    max_execution_s: int = Field(30, ge=1, le=3600, description="Longest a people's query runs.")
    max_result_rows: int = Field(
        1_000_000, ge=1, description="Most rows a people's query may return (an error beyond)."
    )
    max_result_bytes: int = Field(
        256 * 2**20, ge=2**10, description="Most bytes a people's query may return."
    )
    max_memory_bytes: int = Field(
        4 * 2**30, ge=2**20, description="Most memory one people's query may use."
    )
    concurrency: int = Field(4, ge=1, le=64, description="People's queries run at once at most.")
    max_body_bytes: int = Field(
        1 * 2**20, ge=2**10, le=64 * 2**20, description="Largest request body (the SQL) accepted."
    )
    max_connections: int = Field(64, ge=1, le=4096, description="Open HTTP connections at most.")
    idle_timeout_s: float = Field(
        10.0, gt=0, le=600, description="An HTTP connection silent this long is closed."
    )
    container_bind: bool = Field(
        False,
        description="Let `mcp-audit dashboard` listen on every interface (0.0.0.0 or ::):"
        " only inside a container whose port is published on 127.0.0.1, or behind a"
        " TLS-terminating proxy. Host, Origin and token checks stay on.",
    )
