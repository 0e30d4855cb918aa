"""Every released schema version evolves into the current one by the rule."""

from __future__ import annotations

import copy

import pytest

from schemas import registry
from schemas.evolution import breaking_changes


def test_current_schemas_are_released() -> None:
    released = registry.released()
    for record in registry.RECORD_NAMES:
        assert registry.current(record).fingerprint in released, (
            f"{record} changed without a snapshot: run `python -m schemas.release`"
        )


@pytest.mark.parametrize("fingerprint", sorted(registry.released()), ids=bytes.hex)
def test_released_versions_evolve_into_current(fingerprint: bytes) -> None:
    old = registry.released()[fingerprint]
    assert breaking_changes(old.schema, registry.current(old.record).schema) == []


def test_rule_catches_a_field_added_without_default() -> None:
    old = registry.current("EnrichedEvent").schema
    new = copy.deepcopy(old)
    audit = new["fields"][0]["type"]
    audit["fields"].append({"name": "region", "type": "string"})
    new["fields"].append({"name": "score2", "type": "int"})

    assert breaking_changes(old, new) == [
        "event.region: added without a default",
        "score2: added without a default",
    ]


def test_rule_catches_a_required_field_removed() -> None:
    old = registry.current("Alert").schema
    new = copy.deepcopy(old)
    new["fields"] = [f for f in new["fields"] if f["name"] != "summary"]

    assert breaking_changes(old, new) == ["summary: removed, and it had no default"]
