"""The few facts of an audit event that rules and detectors read, pulled out once.

Built once per event on the hot path, so rules and every detector read plain
attributes instead of walking the nested Avro dict again.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from schemas.integrity import to_micros


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
    return Features(
        event_id=event["event_id"],
        time_us=to_micros(event["event_time"]),
        event_type=event["event_type"],
        phase=event["phase"],
        user=actor.get("user_pseudonym") or "",
        tenant=actor.get("tenant_id"),
        server=target["server_id"],
        tool=target.get("tool_name"),
        resource=target.get("resource_uri"),
        ip=actor.get("ip"),
        client=actor.get("client_id"),
        scopes=actor.get("scopes") or [],
        status=outcome["status"] if outcome else None,
        result_size=outcome.get("result_size") if outcome else None,
        classification=target.get("classification") or "MEDIUM",
        destructive=notes.get("destructive") is True,
        open_world=notes.get("open_world") is True,
        read_only=notes.get("read_only") is True,
        fingerprint=target.get("tool_fingerprint"),
        categories=lineage.get("data_categories") or [] if lineage else [],
    )
