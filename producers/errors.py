"""The producer's errors, under the project's one hierarchy.

Only :class:`AuditRefused` ever reaches a tool's caller, and only for a
fail-closed class; every other failure inside auditing is logged and counted.
"""

from __future__ import annotations

from schemas.errors import McpAuditError


class ProducerError(McpAuditError):
    """Something inside the producer failed (policy, spool, publishing)."""


class PolicyError(ProducerError):
    """The policy file is unreadable or names an unknown classification or field."""


class SpoolError(ProducerError):
    """The local spool could not be written or read."""


class AuditRefused(ProducerError):
    """A fail-closed call was refused because its audit event cannot be persisted now.

    ``tool`` names the refused target and ``classification`` its class; the
    refusal itself is audited as a DENIED result.
    """

    def __init__(self, message: str, *, tool: str, classification: str) -> None:
        super().__init__(message, tool=tool, classification=classification)
        self.tool = tool
        self.classification = classification


class AuditUnavailable(AuditRefused):
    """A call was refused because the producer could not start and is configured to
    refuse rather than let calls run unaudited (``MCP_AUDIT_PRODUCER_ON_START_FAILURE``).

    ``cause`` names the start-up error's type; the error itself is chained.
    """

    def __init__(self, message: str, *, cause: str) -> None:
        McpAuditError.__init__(self, message, cause=cause)
        self.tool = ""
        self.classification = ""
        self.cause = cause
