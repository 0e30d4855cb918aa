"""Access to the audit data is itself audited (PCI-DSS 10.2.1): one AUDIT_ACCESS row per use.

Every query, export, erasure and legal-hold change made through mcp-audit is
recorded in ``audit_events`` as an enriched AUDIT_ACCESS event naming the
operator, the action and what it touched. The record is built here from the
Avro contract (the sink does not import the producers), chained into its own
integrity stream, and stored through the same Avro path as every other event,
so it is queried, retained and verified like any other row.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
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


def access_event(
    operator: str, action: str, detail: dict[str, str], prev: tuple[int, str]
) -> dict[str, Any]:
    """An EnrichedEvent recording ``operator`` doing ``action``; ``prev`` is (seq, hash)."""
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()), "event_time": now, "event_type": "AUDIT_ACCESS",
        "phase": "EVENT", "call_id": "",
        "actor": {"client_id": "mcp-audit-cli", "auth_method": "local", "scopes": []},
        "target": {"server_id": "mcp-audit", "tool_name": action, "method": action,
                   "arg_keys": sorted(detail), "classification": "HIGH"},
        "payload": {"truncated": False, "redactions": 0},
        "outcome": {"status": "SUCCESS", "duration_us": 0},
        "context": {"producer": {"host": socket.gethostname(), "pid": os.getpid(),
                                 "library_version": "", "integration": "mcp-audit-cli"}},
        "compliance": {"retention_days": ACCESS_RETENTION_DAYS, "fail_closed": True},
        "attributes": {"operator": operator, "action": action, **detail},
        "integrity": {"stream_id": _STREAM, "seq": prev[0] + 1, "prev_hash": prev[1], "hash": ""},
    }  # fmt: skip
    event["integrity"]["hash"] = chain_hash(prev[1], event)
    return {
        "event": event, "call_state": "SINGLE", "risk_score": 0, "risk_level": "LOW",
        "risk_reasons": [], "compliance_tags": ["PCI-DSS"], "anomalies": [],
        "retention_days": ACCESS_RETENTION_DAYS, "enriched_time": now, "processor_version": "",
    }  # fmt: skip


def record_access(writer: AvroWriter, operator: str, action: str, **detail: str) -> str:
    """Store one AUDIT_ACCESS row; returns its event id. Raises if it cannot be stored."""
    fingerprint = registry.current("EnrichedEvent").fingerprint
    with _CHAIN_LOCK:
        record = access_event(operator, action, detail, _last_link(writer.client))
        data = SingleObjectSerializer("EnrichedEvent")(record)
        event_id = str(record["event"]["event_id"])
        writer.write(ENRICHED, [container_file(fingerprint, [data])], f"access/{event_id}")
    return event_id


def _last_link(client: Client) -> tuple[int, str]:
    rows = client.query(
        "SELECT seq, hash FROM audit_events WHERE stream_id = {stream:String}"
        " ORDER BY seq DESC LIMIT 1",
        parameters={"stream": _STREAM},
    ).result_rows
    return (int(rows[0][0]), str(rows[0][1])) if rows else (0, "")
