"""The base of every part's settings: one env prefix, unknown keys rejected.

Each part (kafka, producer, processors, sink, platform) has one settings model
with its own prefix under ``MCP_AUDIT_``. pydantic-settings silently ignores
environment variables it does not know; for an audit tool a misspelt
``MCP_AUDIT_SINK_BATCH_ROWS`` silently falling back to a default is a defect,
so :meth:`PartSettings.load` refuses unknown variables under the part's prefix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Self

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.errors import ConfigError

ENV_PREFIX = "MCP_AUDIT_"


class PartSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="forbid", env_nested_delimiter="__")

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """Settings from the environment (or ``environ``) and explicit overrides.

        Raises :class:`ConfigError` naming the variable when one is unknown or invalid.
        """
        env = os.environ if environ is None else environ
        prefix = str(cls.model_config.get("env_prefix", ""))
        known = {prefix + name.upper() for name in cls.model_fields}
        unknown = sorted(
            key
            for key in env
            if key.upper().startswith(prefix) and key.upper().split("__", 1)[0] not in known
        )
        if unknown:
            raise ConfigError(
                "unknown setting", variables=unknown, known=sorted(known), part=cls.__name__
            )
        try:
            if environ is None:
                return cls(**overrides)
            values = {
                key[len(prefix) :].lower(): value
                for key, value in env.items()
                if key.upper().startswith(prefix)
            }
            return cls(**{**values, **overrides})
        except ValidationError as exc:
            raise ConfigError("invalid setting", part=cls.__name__, errors=exc.errors()) from exc
