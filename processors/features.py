"""The few facts of an audit event that rules and detectors read, pulled out once.

Built once per event on the hot path, so rules and every detector read plain
attributes instead of walking the nested Avro dict again.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from schemas.caches import remember
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
    "integrity": {"stream_id": True, "seq": True, "hash": True, "key_id": True, "mac": True},
}  # fmt: skip


class Features(NamedTuple):
    # Grouped by source (event, actor, target, event), so the actor's and the target's
    # facts, remembered per decoded record by FeatureReader, splice in as whole tuples.
    event_id: str
    time_us: int
    event_type: str
    phase: str
    user: str
    tenant: str | None
    ip: str | None
    client: str | None
    scopes: list[str]
    server: str
    tool: str | None
    resource: str | None
    classification: str
    destructive: bool
    open_world: bool
    read_only: bool
    fingerprint: str | None
    status: str | None
    result_size: int | None
    categories: list[str]


ActorFacts = tuple[str, str | None, str | None, str | None, list[str]]
TargetFacts = tuple[str, str | None, str | None, str, bool, bool, bool, str | None]
_new_features = tuple.__new__  # no NamedTuple __new__ frame: the fields arrive as one tuple
_REMEMBERED = 8192  # records kept per kind before FeatureReader starts over (bounded memory)


def features(event: dict[str, Any]) -> Features:
    """Facts of one decoded AuditEvent; absent parts read as None, False or empty.

    Remembers nothing: for events whose records may change between calls.
    """
    return FeatureReader()(event)


class FeatureReader:
    """:func:`features`, remembering the facts of each ``actor`` and ``target`` record.

    The projecting decoder hands out one shared, never-changed dict per distinct
    encoding of those records, so their facts are read once per dict, not once per
    event. Entries hold the dict itself: its id cannot be reused while remembered,
    and the ``is`` check makes a dict that merely reuses an old id a miss.
    """

    def __init__(self) -> None:
        self._actors: dict[int, tuple[dict[str, Any], ActorFacts]] = {}
        self._targets: dict[int, tuple[dict[str, Any], TargetFacts]] = {}

    def __call__(self, event: dict[str, Any]) -> Features:
        actor, target = event["actor"], event["target"]
        known = self._actors.get(id(actor))
        if known is None or known[0] is not actor:
            known = remember(self._actors, id(actor), (actor, _actor_facts(actor)), _REMEMBERED)
        seen = self._targets.get(id(target))
        if seen is None or seen[0] is not target:
            seen = remember(self._targets, id(target), (target, _target_facts(target)), _REMEMBERED)
        # The rest inline: one call frame per event is a measurable part of the cost.
        outcome = event.get("outcome")
        lineage = event.get("lineage")
        head = (
            event["event_id"],
            to_micros(event["event_time"]),
            event["event_type"],
            event["phase"],
        )
        tail = (
            outcome["status"] if outcome else None,
            outcome.get("result_size") if outcome else None,
            lineage.get("data_categories") or [] if lineage else [],
        )
        return _new_features(Features, head + known[1] + seen[1] + tail)


def _actor_facts(actor: dict[str, Any]) -> ActorFacts:
    return (
        actor.get("user_pseudonym") or "",
        actor.get("tenant_id"),
        actor.get("ip"),
        actor.get("client_id"),
        actor.get("scopes") or [],
    )


def _target_facts(target: dict[str, Any]) -> TargetFacts:
    notes = target.get("annotations") or {}
    return (
        target["server_id"],
        target.get("tool_name"),
        target.get("resource_uri"),
        target.get("classification") or "MEDIUM",
        notes.get("destructive") is True,
        notes.get("open_world") is True,
        notes.get("read_only") is True,
        target.get("tool_fingerprint"),
    )
