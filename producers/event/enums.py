"""The AuditEvent's enum symbols, in the order its ``.avsc`` declares, read from it.

Avro writes an enum as its symbol's index, so both encoders (Python and the C
sealer) and the policy's classifications take the order from the contract
rather than from a copy kept by hand. Reading the schema takes milliseconds, so
the light import path (``producers.decorator``, ``producers.api``,
``producers.event.model``) does not import this module; the encoder does, when the
first Auditor is built.
"""

from __future__ import annotations

from schemas import registry
from schemas.avsc import enum_symbols

_EVENT = registry.current("AuditEvent").schema
EVENT_TYPES = enum_symbols(_EVENT, "mcp_audit.EventType")
PHASES = enum_symbols(_EVENT, "mcp_audit.Phase")
STATUSES = enum_symbols(_EVENT, "mcp_audit.Status")
CLASSIFICATIONS = enum_symbols(_EVENT, "mcp_audit.Classification")
