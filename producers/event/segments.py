"""Avro bytes of the AuditEvent's sub-records, one function each, in schema field order.

The slowly changing ones (actor, target, producer context, compliance) are
cached by :class:`producers.event.encoder.EventEncoder`; the rest run per event.
"""

from __future__ import annotations

from producers.event import avro_bytes as av
from producers.event.enums import CLASSIFICATIONS, EVENT_TYPES, PHASES, STATUSES
from producers.event.model import (
    Actor,
    Compliance,
    Heartbeat,
    Lineage,
    Outcome,
    Producer,
    Target,
)

EVENT_TYPE_BYTES = {name: av.long(i) for i, name in enumerate(EVENT_TYPES)}
PHASE_BYTES = {name: av.long(i) for i, name in enumerate(PHASES)}
_STATUS = {name: av.long(i) for i, name in enumerate(STATUSES)}
_CLASSIFICATION = {name: av.long(i) for i, name in enumerate(CLASSIFICATIONS)}


def encode_actor(actor: Actor) -> bytes:
    s = av.opt_string
    delegation = actor.delegation
    tail = av.NULL
    if delegation is not None:
        tail = b"\x02" + b"".join(
            s(v)
            for v in (delegation.agent_id, delegation.agent_name, delegation.delegator_pseudonym)
        )
    head = (
        actor.user_pseudonym,
        actor.pseudonym_key_id,
        actor.client_id,
        actor.client_name,
        actor.client_version,
        actor.ip,
        actor.user_agent,
        actor.session_id,
        actor.auth_method,
    )
    return (
        b"".join(map(s, head)) + av.strings(actor.scopes) + s(actor.tenant_id) + tail
        + s(actor.session_digest)
    )  # fmt: skip


def encode_target(target: Target) -> tuple[bytes, bytes]:
    """The target's bytes before and after ``arg_keys``, which vary per call."""
    s = av.opt_string
    head = b"".join(
        s(v) for v in (target.server_version, target.tool_name, target.resource_uri,
                       target.prompt_name, target.method)
    )  # fmt: skip
    notes = target.annotations
    annotations = av.NULL
    if notes is not None:
        flags = (notes.read_only, notes.destructive, notes.idempotent, notes.open_world)
        annotations = b"\x02" + b"".join(av.opt_boolean(f) for f in flags)
    tail = (
        annotations + s(target.tool_fingerprint) + _CLASSIFICATION[target.classification]
        + s(target.resource_uri_digest) + s(target.prompt_name_digest)
    )  # fmt: skip
    return av.string(target.server_id) + head, tail


def encode_producer(producer: Producer) -> bytes:
    """protocol_version, transport and the producer record: the middle of the context."""
    return (
        av.opt_string(producer.protocol_version) + av.opt_string(producer.transport)
        + av.string(producer.host) + av.int_(producer.pid)
        + av.string(producer.library_version) + av.string(producer.integration)
    )  # fmt: skip


def encode_compliance(compliance: Compliance) -> bytes:
    return (
        av.int_(compliance.retention_days) + av.boolean(compliance.fail_closed)
        + av.opt_string(compliance.policy_version) + av.opt_string(compliance.value_digest_key_id)
    )  # fmt: skip


def encode_outcome(outcome: Outcome | None) -> bytes:
    if outcome is None:
        return av.NULL
    return (
        b"\x02" + _STATUS[outcome.status] + av.long(outcome.duration_us)
        + av.opt_string(outcome.error_type) + av.opt_string(outcome.error_message)
        + av.opt_long(outcome.result_size)
    )  # fmt: skip


def encode_ai(ai: dict[str, str | None] | None) -> bytes:
    if ai is None:
        return av.NULL
    return b"\x02" + b"".join(av.opt_string(ai.get(k)) for k in ("model", "reason", "user_intent"))


def encode_lineage(lineage: Lineage | None) -> bytes:
    if lineage is None:
        return av.NULL
    return (
        b"\x02" + av.opt_string(lineage.operation) + av.strings(lineage.sources)
        + av.strings(lineage.destinations) + av.strings(lineage.data_categories)
    )  # fmt: skip


def encode_heartbeat(beat: Heartbeat | None) -> bytes:
    if beat is None:
        return av.NULL
    counters = (beat.events_sent, beat.events_spooled, beat.events_dropped, beat.redactions,
                beat.audit_failures, beat.spool_bytes)  # fmt: skip
    return (
        b"\x02" + av.int_(beat.interval_s) + b"".join(map(av.long, counters))
        + av.boolean(beat.final)
    )  # fmt: skip


KIND_PHASE = {(t, p): EVENT_TYPE_BYTES[t] + PHASE_BYTES[p] for t in EVENT_TYPES for p in PHASES}
