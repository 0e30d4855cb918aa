"""The one error hierarchy of mcp-audit.

Every error the project raises on purpose derives from :class:`McpAuditError`,
so a caller can catch the project's failures without catching Python's own.
Errors carry the facts a handler needs as attributes (never only in the
message), and wrap their cause with ``raise ... from``.
"""

from __future__ import annotations

from typing import Any


class McpAuditError(Exception):
    """Root of every error raised by mcp-audit."""

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def __str__(self) -> str:
        if not self.fields:
            return self.message
        detail = ", ".join(f"{key}={value!r}" for key, value in self.fields.items())
        return f"{self.message} ({detail})"


class ConfigError(McpAuditError):
    """A setting is missing, malformed or unknown."""


class SchemaError(McpAuditError):
    """An Avro schema file is unreadable or breaks the evolution rules."""


class SerializationError(McpAuditError):
    """A record could not be encoded to its wire format."""


class DeserializationError(McpAuditError):
    """Bytes from a topic could not be decoded into a record.

    ``reason`` is a short machine-readable code (``empty``, ``unknown-framing``,
    ``unknown-schema``, ``truncated``, ``invalid``) that dead-letter headers carry.
    """

    def __init__(self, message: str, *, reason: str, **fields: Any) -> None:
        super().__init__(message, reason=reason, **fields)
        self.reason = reason


class UnknownSchemaError(DeserializationError):
    """The message names a writer schema this reader does not know."""

    def __init__(self, message: str, *, schema_ref: str) -> None:
        super().__init__(message, reason="unknown-schema", schema_ref=schema_ref)
        self.schema_ref = schema_ref


class PlatformError(McpAuditError):
    """The embedded broker or store could not be started, reached or stopped."""
