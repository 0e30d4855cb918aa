"""Access to the audit data is itself audited (PCI-DSS 10.2.1): one AUDIT_ACCESS row per use.

Every read and operation made through :mod:`readside.session`, refused ones
included, is recorded in ``audit_events`` as an enriched AUDIT_ACCESS event
naming the authenticated operator, the action, what it touched, the outcome,
the rows returned and the duration. A statement is stored whole, with its
SHA-256 (``sql_sha256``), never cut. The record is built here from the
Avro contract (the sink does not import the producers), chained into its own
integrity stream, and stored through the same Avro path as every other event,
so it is queried, retained and verified like any other row.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas import registry
from schemas.integrity import chain_hash
from schemas.wire import SingleObjectSerializer
from sinks.enriched import ENRICHED
from sinks.ocf import container_file
from sinks.writer import AvroWriter

ACCESS_RETENTION_DAYS = 2555  # seven years, as long as the alerts by default
_STREAM = "mcp-audit.access"
# Read-last-link-then-append must not interleave (the endpoint serves in threads),
# or two records would claim the same place in the chain.
_CHAIN_LOCK = threading.Lock()


@dataclass(frozen=True)
class Access:
    """One use of the audit data: who did what, how it ended, how much it returned."""

    operator: str
    action: str
    detail: dict[str, str]
    outcome: str = "SUCCESS"  # SUCCESS, DENIED (refused before it ran) or ERROR
    rows: int = 0
    duration_us: int = 0

    def attributes(self) -> dict[str, str]:
        facts = {"operator": self.operator, "action": self.action, "rows": str(self.rows)}
        if "sql" in self.detail:
            facts["sql_sha256"] = hashlib.sha256(self.detail["sql"].encode()).hexdigest()
        return {**self.detail, **facts}


def access_event(access: Access, prev: tuple[int, str]) -> dict[str, Any]:
    """An EnrichedEvent recording ``access``; ``prev`` is the stream's (seq, hash)."""
    detail = access.detail
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()), "event_time": now, "event_type": "AUDIT_ACCESS",
        "phase": "EVENT", "call_id": "",
        "actor": {"client_id": "mcp-audit-cli", "auth_method": "local", "scopes": []},
        "target": {"server_id": "mcp-audit", "tool_name": access.action,
                   "method": access.action, "arg_keys": sorted(detail), "classification": "HIGH"},
        "payload": {"truncated": False, "redactions": 0},
        "outcome": {"status": access.outcome, "duration_us": access.duration_us,
                    "error_type": detail.get("reason")},
        "context": {"producer": {"host": socket.gethostname(), "pid": os.getpid(),
                                 "library_version": "", "integration": "mcp-audit-cli"}},
        "compliance": {"retention_days": ACCESS_RETENTION_DAYS, "fail_closed": True},
        "attributes": access.attributes(),
        "integrity": {"stream_id": _STREAM, "seq": prev[0] + 1, "prev_hash": prev[1], "hash": ""},
    }  # fmt: skip
    event["integrity"]["hash"] = chain_hash(prev[1], event)
    return {
        "event": event, "call_state": "SINGLE", "risk_score": 0, "risk_level": "LOW",
        "risk_reasons": [], "compliance_tags": ["PCI-DSS"], "anomalies": [],
        "retention_days": ACCESS_RETENTION_DAYS, "enriched_time": now, "processor_version": "",
    }  # fmt: skip


def record_access(writer: AvroWriter, access: Access) -> str:
    """Store one AUDIT_ACCESS row; returns its event id. Raises if it cannot be stored."""
    fingerprint = registry.current("EnrichedEvent").fingerprint
    with _CHAIN_LOCK:
        record = access_event(access, _last_link(writer.client))
        data = SingleObjectSerializer("EnrichedEvent")(record)
        event_id = str(record["event"]["event_id"])
        writer.write(ENRICHED, [container_file(fingerprint, [data])], f"access/{event_id}")
    return event_id


def _last_link(client: Client) -> tuple[int, str]:
    # An access record names no user pseudonym (the operator is an attribute), so it is
    # stored under user '', which leads audit_events' sorting key: the key finds the
    # stream's rows. By stream_id alone every part's stream_id was read: at 10 M events
    # the first read of a process (each CLI command's) took 172-216 ms against 47-86
    # with the key; once cached, 13 ms against 15 (chDB, one store, runs alternated).
    rows = client.query(
        "SELECT seq, hash FROM audit_events WHERE user_id = '' AND stream_id = {stream:String}"
        " ORDER BY seq DESC LIMIT 1",
        parameters={"stream": _STREAM},
    ).result_rows
    return (int(rows[0][0]), str(rows[0][1])) if rows else (0, "")
