"""The sink's failures, under the project's one hierarchy."""

from __future__ import annotations

from schemas.errors import McpAuditError


class SinkError(McpAuditError):
    """The sink could not store, read or change audit data."""


class MigrationError(SinkError):
    """A schema migration failed or an applied one was changed afterwards."""


class StoreUnavailableError(SinkError):
    """ClickHouse did not answer or refused for a reason that may pass; retry."""


class BrokerUnavailableError(SinkError):
    """The broker did not acknowledge what the sink produced (dead letters, conflict
    alerts) in time; retry before committing the input that caused them."""


class BatchRejectedError(SinkError):
    """ClickHouse refused a batch because of its content; retrying will not help."""


class SiemUnavailableError(SinkError):
    """The SIEM webhook did not accept a batch within the allowed retries; nothing committed."""


class SiemRefusedError(SinkError):
    """The SIEM webhook refuses the forwarder itself (auth, address), not one record."""
