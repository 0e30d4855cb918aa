"""The processors' errors, under the project's one hierarchy."""

from __future__ import annotations

from typing import Any

from schemas.errors import McpAuditError


class ProcessorError(McpAuditError):
    """Root of the errors the processors raise."""


class RulesError(ProcessorError):
    """The risk rules file is unreadable or does not describe valid rules."""


class InvalidEventError(ProcessorError):
    """An event decoded but its values make no sense; it goes to the dead-letter topic.

    ``reason`` is the short code the dead-letter header carries
    (``missing-field``, ``absurd-value``, ``absurd-time``, ``out-of-range``,
    ``unverified-origin``).
    """

    def __init__(self, message: str, *, reason: str, **fields: Any) -> None:
        super().__init__(message, reason=reason, **fields)
        self.reason = reason


class UnverifiedOriginError(InvalidEventError):
    """No origin key the processors hold vouches for the event (see processors.origin).

    Dead-lettered as ``unverified-origin``; ``finding`` is the alert to raise."""

    def __init__(self, message: str, *, finding: Any, **fields: Any) -> None:
        super().__init__(message, reason="unverified-origin", **fields)
        self.finding = finding


class SinkLagError(ProcessorError):
    """The sink's lag could not be measured: the broker did not answer, or not in time."""
