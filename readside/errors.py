"""The read side's failures, under the project's one hierarchy."""

from __future__ import annotations

from schemas.errors import McpAuditError


class ReadSideError(McpAuditError):
    """The read side refused or could not serve a request."""


class QueryRefusedError(ReadSideError):
    """A query was refused before it ran: it is not one read-only statement."""


class NotAuthenticatedError(ReadSideError):
    """No credential, or one that names no operator."""


class RequestRefusedError(ReadSideError):
    """An HTTP request refused for its shape: foreign Host or Origin, size, method."""


class BusyError(ReadSideError):
    """Every read slot is taken; the client may try again."""
