"""The producer's view of an audit event: small slotted objects, cheap to build per call.

``Actor``, ``Target`` and ``Annotations`` are frozen and hashable because the
encoder caches their Avro bytes by value (one user and one tool are seen many
times). ``CallEvent`` holds what varies per event. :func:`to_avro` turns a
CallEvent into the dict the Avro schema describes: the repair of a value no
reader reads works on that form (:mod:`producers.event.repair`), and the fast
encoder must produce exactly the bytes fastavro would for it (a property test
holds it to that). The enums' symbols are :mod:`producers.event.enums`'.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Delegation:
    agent_id: str | None = None
    agent_name: str | None = None
    delegator_pseudonym: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who called. ``user_pseudonym`` is already keyed; raw user ids never get here."""

    user_pseudonym: str | None = None
    pseudonym_key_id: str | None = None
    client_id: str | None = None
    client_name: str | None = None
    client_version: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    session_id: str | None = None
    auth_method: str | None = None
    scopes: tuple[str, ...] = ()
    tenant_id: str | None = None
    delegation: Delegation | None = None
    # Keyed digest the hash chain covers instead of session_id (schemas.integrity).
    session_digest: str | None = None


@dataclass(frozen=True, slots=True)
class Annotations:
    read_only: bool | None = None
    destructive: bool | None = None
    idempotent: bool | None = None
    open_world: bool | None = None


@dataclass(frozen=True, slots=True)
class Target:
    server_id: str
    server_version: str | None = None
    tool_name: str | None = None
    resource_uri: str | None = None
    prompt_name: str | None = None
    method: str | None = None
    annotations: Annotations | None = None
    tool_fingerprint: str | None = None
    classification: str = "MEDIUM"
    # Keyed digests the hash chain covers instead of the clear values (schemas.integrity).
    resource_uri_digest: str | None = None
    prompt_name_digest: str | None = None


@dataclass(frozen=True, slots=True)
class Producer:
    host: str
    pid: int
    library_version: str
    integration: str
    transport: str | None = None
    protocol_version: str | None = None


@dataclass(frozen=True, slots=True)
class Compliance:
    retention_days: int = 365
    fail_closed: bool = False
    policy_version: str | None = None
    value_digest_key_id: str | None = None


@dataclass(frozen=True, slots=True)
class Lineage:
    operation: str | None = None
    sources: tuple[str, ...] = ()
    destinations: tuple[str, ...] = ()
    data_categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Heartbeat:
    interval_s: int
    events_sent: int = 0
    events_spooled: int = 0
    events_dropped: int = 0
    redactions: int = 0
    audit_failures: int = 0
    spool_bytes: int = 0
    final: bool = False


@dataclass(slots=True)
class Outcome:
    status: str
    duration_us: int = 0
    error_type: str | None = None
    error_message: str | None = None
    result_size: int | None = None


@dataclass(slots=True)
class CallEvent:
    """One ATTEMPT, RESULT or one-shot event of a call, before integrity is assigned."""

    event_type: str
    phase: str
    call_id: str
    actor: Actor
    target: Target
    producer: Producer
    compliance: Compliance
    arg_keys: tuple[str, ...] = ()
    args_json: str | None = None
    args_digest: str | None = None
    result_json: str | None = None
    result_digest: str | None = None
    truncated: bool = False
    redactions: int = 0
    outcome: Outcome | None = None
    request_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    ai: dict[str, str | None] | None = None
    lineage: Lineage | None = None
    heartbeat: Heartbeat | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    # assigned when the event joins its stream
    event_id: str = ""
    event_time_us: int = 0
    stream_id: str = ""
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""
    origin_key_id: str | None = None  # with origin_mac: the key that vouches for the event
    origin_mac: str | None = None
    # The encoder's bytes for the parts a RESULT repeats from its ATTEMPT (with the
    # fields they were made from, checked by identity); result events inherit them.
    shared: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)


def _record(obj: Any) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {name: getattr(obj, name) for name in obj.__slots__}


def _lineage(lineage: Lineage | None) -> dict[str, Any] | None:
    record = _record(lineage)
    if record is not None:
        for name in ("sources", "destinations", "data_categories"):
            record[name] = list(record[name])
    return record


def to_avro(event: CallEvent) -> dict[str, Any]:
    """The event as the AuditEvent schema shapes it (event_time as int micros)."""
    actor = _record(event.actor) or {}
    actor["scopes"] = list(event.actor.scopes)
    actor["delegation"] = _record(event.actor.delegation)
    target = _record(event.target) or {}
    target["annotations"] = _record(event.target.annotations)
    target["arg_keys"] = list(event.arg_keys)
    producer = event.producer
    return {
        "event_id": event.event_id,
        "event_time": event.event_time_us,
        "event_type": event.event_type,
        "phase": event.phase,
        "call_id": event.call_id,
        "actor": actor,
        "target": target,
        "payload": {
            "args_json": event.args_json,
            "args_digest": event.args_digest,
            "result_json": event.result_json,
            "result_digest": event.result_digest,
            "truncated": event.truncated,
            "redactions": event.redactions,
        },
        "outcome": _record(event.outcome),
        "context": {
            "request_id": event.request_id,
            "trace_id": event.trace_id,
            "span_id": event.span_id,
            "protocol_version": producer.protocol_version,
            "transport": producer.transport,
            "producer": {
                "host": producer.host,
                "pid": producer.pid,
                "library_version": producer.library_version,
                "integration": producer.integration,
            },
            "ai": dict(event.ai) if event.ai is not None else None,
        },
        "lineage": _lineage(event.lineage),
        "heartbeat": _record(event.heartbeat),
        "compliance": _record(event.compliance),
        "attributes": dict(event.attributes),
        "integrity": {
            "stream_id": event.stream_id,
            "seq": event.seq,
            "prev_hash": event.prev_hash,
            "hash": event.hash,
            "key_id": event.origin_key_id,
            "mac": event.origin_mac,
        },
    }
