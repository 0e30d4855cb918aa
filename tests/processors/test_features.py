from __future__ import annotations

from typing import Any

from processors import features as features_module
from processors.features import FeatureReader, features
from schemas.wire import SingleObjectSerializer
from tests.processors.helpers import enricher
from tests.schemas.factories import audit_event

ENCODE = SingleObjectSerializer("AuditEvent")


def _varied() -> list[dict[str, Any]]:
    """Decoded as the enricher decodes: repeated actors and targets are shared dicts."""
    decode = enricher().decode
    events = []
    for i in range(60):
        event = audit_event(seq=i + 1)
        event["actor"].update(user_pseudonym=f"{i % 4:064d}", ip=f"10.0.0.{i % 2}")
        event["actor"]["scopes"] = [] if i % 4 == 0 else ["files:read"]
        event["target"].update(tool_name=f"tool_{i % 7}", classification="LOW" if i % 6 else "HIGH")
        event["target"]["annotations"] = None if i % 4 == 0 else event["target"]["annotations"]
        if i % 9 == 0:
            event["outcome"] = None
        event["lineage"] = (
            {"operation": None, "sources": [], "destinations": [], "data_categories": ["phi"]}
            if i % 2
            else None
        )
        events.append(decode(ENCODE(event)))
    return events


def test_the_reader_gives_what_features_gives() -> None:
    events = _varied()
    assert len({id(e["actor"]) for e in events}) < len(events)  # sharing, so caching, happens
    read = FeatureReader()
    assert [read(e) for e in events + events] == [features(e) for e in events + events]


def test_a_new_record_at_a_remembered_id_is_read_anew() -> None:
    read = FeatureReader()
    event = audit_event()
    stale = read(event)
    changed = {**event, "actor": {**event["actor"], "ip": "10.9.9.9"}}
    # As if the old actor dict had died and the new one been allocated at its id.
    read._actors[id(changed["actor"])] = read._actors.pop(id(event["actor"]))
    assert read(changed) == features(changed) != stale
    assert read(changed).ip == "10.9.9.9"


def test_the_reader_starts_over_when_full(monkeypatch: Any) -> None:
    monkeypatch.setattr(features_module, "_REMEMBERED", 3)
    read = FeatureReader()
    events = _varied()
    assert [read(e) for e in events] == [features(e) for e in events]
    assert len(read._actors) <= 3 and len(read._targets) <= 3
