"""Make an event every reader reads, in place, when its sealer found a value none would.

Both sealers encode strictly and call :func:`repair` only when that fails (a lone
surrogate in a text, a number out of its Avro type's range), before the stream
advances; then they seal the repaired event. What is replaced and how it is
marked is :mod:`schemas.repair`'s: this module runs it on the event's Avro form
(:func:`producers.event.model.to_avro`) and puts the repaired values back, so the
sealers' bytes are the contract serializer's for the unrepaired event. Objects
with nothing to repair keep their identity (the encoders cache by it).
"""

from __future__ import annotations

from typing import Any

from producers.event.model import (
    Actor,
    Annotations,
    CallEvent,
    Compliance,
    Delegation,
    Heartbeat,
    Lineage,
    Outcome,
    Producer,
    Target,
    to_avro,
)
from schemas import registry
from schemas.repair import repaired


def repair(event: CallEvent) -> None:
    """Replace what no reader reads in ``event``; the altered fields are named in its
    attributes. Raises nothing new: an event with nothing to repair is left as it is."""
    record, altered = repaired(registry.current("AuditEvent").schema, to_avro(event))
    if not altered:
        return
    _put_back(event, record)
    event.shared = None  # its cached bytes were made from the old values


def _keep(old: Any, new: Any) -> Any:
    return old if old == new else new


def _put_back(e: CallEvent, r: dict[str, Any]) -> None:
    actor = dict(r["actor"])
    delegation = actor["delegation"]
    actor["scopes"] = tuple(actor["scopes"])
    actor["delegation"] = None if delegation is None else Delegation(**delegation)
    e.actor = _keep(e.actor, Actor(**actor))
    target = dict(r["target"])
    e.arg_keys = _keep(e.arg_keys, tuple(target.pop("arg_keys")))
    notes = target["annotations"]
    target["annotations"] = None if notes is None else Annotations(**notes)
    e.target = _keep(e.target, Target(**target))
    context = r["context"]
    p = context["producer"]
    e.producer = _keep(e.producer, Producer(
        p["host"], p["pid"], p["library_version"], p["integration"], context["transport"],
        context["protocol_version"],
    ))  # fmt: skip
    e.compliance = _keep(e.compliance, Compliance(**r["compliance"]))
    payload = r["payload"]
    e.args_json, e.args_digest = payload["args_json"], payload["args_digest"]
    e.result_json, e.result_digest = payload["result_json"], payload["result_digest"]
    e.redactions = payload["redactions"]
    e.outcome = None if r["outcome"] is None else _keep(e.outcome, Outcome(**r["outcome"]))
    e.call_id = r["call_id"]
    e.request_id, e.trace_id = context["request_id"], context["trace_id"]
    e.span_id, e.ai = context["span_id"], context["ai"]
    lineage = r["lineage"]
    e.lineage = None if lineage is None else _keep(e.lineage, Lineage(
        lineage["operation"], tuple(lineage["sources"]), tuple(lineage["destinations"]),
        tuple(lineage["data_categories"]),
    ))  # fmt: skip
    beat = r["heartbeat"]
    e.heartbeat = None if beat is None else _keep(e.heartbeat, Heartbeat(**beat))
    e.attributes = r["attributes"]
