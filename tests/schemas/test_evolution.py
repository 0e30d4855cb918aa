"""Every released schema version evolves into the current one by the rule."""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, datetime
from typing import Any

import avro.io
import avro.schema
import pytest

from schemas import registry
from schemas.evolution import breaking_changes
from schemas.wire import SINGLE_OBJECT_MAGIC, Deserializer
from tests.schemas.oracle import official_decode


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


def _sample(schema: Any) -> Any:
    """A datum of ``schema`` with every optional part present (an old writer's event)."""
    if isinstance(schema, list):
        return _sample(schema[-1])
    if isinstance(schema, str):
        return {"string": "s\u00e9", "int": 7, "long": 1_795_000_000_000_001, "boolean": True,
                "double": 0.5, "float": 0.25, "null": None}[schema]  # fmt: skip
    kind = schema["type"]
    if kind == "record":
        return {f["name"]: _sample(f["type"]) for f in schema["fields"]}
    if kind == "enum":
        return schema["symbols"][-1]
    if kind == "array":
        return [_sample(schema["items"])]
    if kind == "map":
        return {"k": _sample(schema["values"])}
    if schema.get("logicalType") == "timestamp-micros":
        return datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=UTC)
    return _sample(kind)


@pytest.mark.parametrize("fingerprint", sorted(registry.released()), ids=bytes.hex)
def test_the_official_library_reads_each_released_version_as_our_reader_does(
    fingerprint: bytes,
) -> None:
    # Written by the official Apache Avro library with the released schema, resolved by
    # it into the current one, and compared with what our reader resolves it into.
    old = registry.released()[fingerprint]
    buffer = io.BytesIO()
    writer = avro.schema.parse(json.dumps(old.schema))
    avro.io.DatumWriter(writer).write(_sample(old.schema), avro.io.BinaryEncoder(buffer))
    data = SINGLE_OBJECT_MAGIC + fingerprint + buffer.getvalue()
    assert official_decode(data, old.record) == Deserializer(old.record)(data)
