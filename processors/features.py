"""The few facts of an audit event that rules and detectors read, pulled out once.

Built once per event on the hot path, so rules and every detector read plain
attributes instead of walking the nested Avro dict again.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from schemas.integrity import to_micros
from schemas.projection import Repeating

# Every field of an AuditEvent that the enrichment path reads (these features, the
# checks in validate, the self-watch's stream facts, the policy retention): the
# decoder builds only these. The enriched output carries the raw bytes, so nothing
# is lost; tests/processors/test_batch.py proves the output equals a full decode's.
# Who called and what was called repeat for every call of a session: Repeating
# decodes each distinct encoding once (so nothing downstream may change them).
EVENT_PROJECTION = {
    "event_id": True, "event_time": True, "event_type": True, "phase": True, "call_id": True,
    "actor": Repeating({"user_pseudonym": True, "tenant_id": True, "ip": True,
                        "client_id": True, "scopes": True}),
    "target": Repeating({"server_id": True, "tool_name": True, "resource_uri": True,
                         "annotations": True, "tool_fingerprint": True,
                         "classification": True}),
    "outcome": True,
    "context": {"producer": {"host": True}},
    "lineage": {"data_categories": True},
    "heartbeat": True,
    "compliance": {"retention_days": True},
    "integrity": {"stream_id": True, "seq": True},
}  # fmt: skip


class Features(NamedTuple):
    event_id: str
    time_us: int
    event_type: str
    phase: str
    user: str
    tenant: str | None
    server: str
    tool: str | None
    resource: str | None
    ip: str | None
    client: str | None
    scopes: list[str]
    status: str | None
    result_size: int | None
    classification: str
    destructive: bool
    open_world: bool
    read_only: bool
    fingerprint: str | None
    categories: list[str]


def features(event: dict[str, Any]) -> Features:
    """Facts of one decoded AuditEvent; absent parts read as None, False or empty."""
    actor, target = event["actor"], event["target"]
    outcome = event.get("outcome")
    notes = target.get("annotations") or {}
    lineage = event.get("lineage")
    return Features(  # positional: measurably cheaper than keywords on the hot path
        event["event_id"],
        to_micros(event["event_time"]),
        event["event_type"],
        event["phase"],
        actor.get("user_pseudonym") or "",
        actor.get("tenant_id"),
        target["server_id"],
        target.get("tool_name"),
        target.get("resource_uri"),
        actor.get("ip"),
        actor.get("client_id"),
        actor.get("scopes") or [],
        outcome["status"] if outcome else None,
        outcome.get("result_size") if outcome else None,
        target.get("classification") or "MEDIUM",
        notes.get("destructive") is True,
        notes.get("open_world") is True,
        notes.get("read_only") is True,
        target.get("tool_fingerprint"),
        lineage.get("data_categories") or [] if lineage else [],
    )
