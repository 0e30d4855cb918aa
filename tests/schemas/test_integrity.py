"""The hash chain covers identifiers and digests, not raw personal data."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from schemas.integrity import CHAINED_FIELDS, DIGESTED, chain_hash, chained_values, to_micros
from schemas.models import EventType, Phase
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.schemas.factories import audit_event


def test_hash_changes_when_a_chained_field_changes() -> None:
    event = audit_event()
    altered = copy.deepcopy(event)
    altered["outcome"]["status"] = "ERROR"
    assert chain_hash("", altered) != chain_hash("", event)


def test_hash_depends_on_the_previous_hash() -> None:
    event = audit_event()
    assert chain_hash("a" * 64, event) != chain_hash("b" * 64, event)


def test_erasing_personal_data_keeps_the_hash() -> None:
    event = audit_event()
    erased = copy.deepcopy(event)
    erased["actor"]["ip"] = None
    erased["actor"]["user_agent"] = None
    erased["payload"]["args_json"] = None
    assert chain_hash("", erased) == event["integrity"]["hash"]


def test_hash_survives_the_wire_round_trip() -> None:
    event = audit_event()
    decoded = Deserializer("AuditEvent")(SingleObjectSerializer("AuditEvent")(event))
    assert chain_hash("", decoded) == event["integrity"]["hash"]


def test_naive_utc_and_aware_times_hash_alike() -> None:
    aware = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert to_micros(aware.replace(tzinfo=None)) == to_micros(aware) == 1767323045000006


def _reference_values(event: Mapping[str, Any]) -> list[str]:
    """chained_values as first written, before its fast paths: the oracle they must match."""
    values = []
    for path in CHAINED_FIELDS:
        node: Any = event
        parent: Any = None
        for key in path:
            parent = node
            node = node.get(key) if isinstance(node, Mapping) else None
        digest_field = DIGESTED.get(path)
        if digest_field is not None and isinstance(parent, Mapping):
            node = parent.get(digest_field) or node
        if node is None:
            values.append("")
        elif isinstance(node, datetime):
            values.append(str(to_micros(node)))
        else:
            values.append(str(node.value) if hasattr(node, "value") else str(node))
    return values


def test_chained_values_match_the_plain_walk_whatever_the_shapes() -> None:
    event = audit_event()
    shapes = [
        event,
        {**event, "outcome": None, "payload": None},  # absent sections
        {**event, "actor": MappingProxyType(dict(event["actor"]))},  # a Mapping, not a dict
        {**event, "target": "not a mapping"},  # hostile: a section of another type
        {**event, "phase": Phase.RESULT, "event_type": EventType.TOOL_CALL},  # enums
        {**event, "event_time": event["event_time"].replace(tzinfo=None)},  # naive UTC
        {**event, "event_id": uuid.uuid4(), "call_id": 7, "outcome": {"duration_us": True}},
        {**event, "actor": {**event["actor"], "session_id": "s", "session_digest": "d" * 64}},
        {**event, "actor": {**event["actor"], "session_id": "s", "session_digest": ""}},
        {**event, "target": {**event["target"], "resource_uri_digest": "r" * 64}},
    ]
    for shape in shapes:
        assert chained_values(shape) == _reference_values(shape), shape
