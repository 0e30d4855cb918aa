"""``MCP_AUDIT_SIEM_*``: where the SIEM webhook is and how the forwarder talks to it."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from schemas.settings import ENV_PREFIX, PartSettings


class SiemSettings(PartSettings):
    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}SIEM_", extra="forbid")

    webhook_url: str | None = Field(
        None, description="http(s) URL the OCSF JSON is POSTed to; unset: the forwarder is off."
    )
    auth_token: SecretStr | None = Field(None, description="Token sent in the auth header.")
    auth_header: str = Field("Authorization", description="Header carrying the token.")
    auth_scheme: str = Field(
        "Bearer", description="Word before the token (Splunk HEC: Splunk; Elastic: ApiKey)."
    )
    body_format: Literal["array", "ndjson"] = Field(
        "array", description="A batch as one JSON array, or one JSON object per line."
    )
    batch_size: int = Field(100, ge=1, le=10_000, description="Most alerts in one request.")
    timeout_s: float = Field(10.0, gt=0, description="Seconds to wait for the webhook's answer.")
    max_retries: int = Field(
        0, ge=0, description="Retries of one request before stopping uncommitted; 0: no limit."
    )
    backoff_base_s: float = Field(0.5, gt=0, description="First wait before a retry; doubles.")
    backoff_cap_s: float = Field(60.0, gt=0, description="Longest wait between retries.")
    consumer_group: str = Field("mcp-audit-siem", description="Kafka consumer group.")
    session_timeout_ms: int = Field(
        10_000, ge=1000, description="Kafka consumer session timeout; joining takes about half."
    )

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and (
            urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname
        ):
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    def auth_value(self) -> str | None:
        """The auth header's value, or None without a token; never logged."""
        token = self.auth_token.get_secret_value() if self.auth_token else ""
        if not token:  # compose passes an unset token as empty: send no header, not "Bearer "
            return None
        return f"{self.auth_scheme} {token}" if self.auth_scheme else token
