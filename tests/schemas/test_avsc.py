"""schemas.avsc against two outside implementations: fastavro (expansion, canonical form,
fingerprint) and Apache Avro (fingerprint of a schema without logical types: Apache Avro
1.12 keeps ``{"type": "long"}`` of a logical type in its canonical form, unlike the spec)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import avro.schema
import pytest
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form

from schemas import avsc, registry
from schemas.errors import SchemaError

NESTED = {
    "type": "record",
    "name": "Outer",
    "namespace": "ns.one",
    "doc": "kept out of the canonical form",
    "fields": [
        {"name": "id", "type": "string", "doc": "x", "default": "a"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
        {"name": "again", "type": "Kind"},
        {"name": "hash", "type": {"type": "fixed", "name": "other.Hash", "size": 16}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": ["null", "long"]}},
        {
            "name": "inner",
            "type": [
                "null",
                {"type": "record", "name": "Inner", "namespace": "ns.two", "fields": [
                    {"name": "back", "type": ["null", "ns.one.Kind"]},
                ]},
            ],
        },
    ],
}  # fmt: skip


def _without_fastavro_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_fastavro_keys(v) for k, v in node.items() if not k.startswith("__")}
    if isinstance(node, list):
        return [_without_fastavro_keys(v) for v in node]
    return node


@pytest.mark.parametrize("record", registry.RECORD_NAMES)
def test_the_contracts_files_expand_and_fingerprint_as_fastavro_does(record: str) -> None:
    path = registry.AVRO_DIR / f"{registry.NAMESPACE}.{record}.avsc"
    expected = _without_fastavro_keys(load_schema(str(path), _write_hint=False))
    mine = avsc.load(path)
    assert mine == expected
    canonical = to_parsing_canonical_form(expected)
    assert avsc.canonical_form(mine) == canonical
    assert avsc.fingerprint(mine).hex() == fingerprint(canonical, "CRC-64-AVRO")


def test_every_released_snapshot_fingerprints_as_its_file_name_and_fastavro_say() -> None:
    snapshots = sorted(registry.RELEASED_DIR.glob("*.avsc"))
    assert snapshots
    for path in snapshots:
        schema = json.loads(path.read_text())
        expected = fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")
        assert avsc.fingerprint(schema).hex() == expected == path.name.split(".")[1]


def test_a_schema_of_every_kind_matches_fastavro_and_apache_avro() -> None:
    expected = _without_fastavro_keys(load_schema_from(NESTED))
    assert avsc.normalise(NESTED) == expected
    assert avsc.canonical_form(NESTED) == to_parsing_canonical_form(NESTED)
    apache = avro.schema.parse(json.dumps(NESTED))
    assert avsc.canonical_form(NESTED) == apache.canonical_form
    assert avsc.fingerprint(NESTED) == bytes(apache.fingerprint())


def load_schema_from(schema: dict[str, Any]) -> Any:
    from fastavro import parse_schema

    return parse_schema(schema, _write_hint=False)


def test_the_specifications_fingerprint_of_int() -> None:
    assert avsc.fingerprint("int").hex() == "8f5c393f1ad57572"


def test_a_reference_to_another_file_is_expanded_once_where_first_used(tmp_path: Path) -> None:
    (tmp_path / "n.Leaf.avsc").write_text(
        json.dumps({"type": "enum", "name": "Leaf", "namespace": "n", "symbols": ["X"]})
    )
    root = {
        "type": "record",
        "name": "n.Root",
        "fields": [{"name": "a", "type": "Leaf"}, {"name": "b", "type": ["null", "Leaf"]}],
    }
    (tmp_path / "n.Root.avsc").write_text(json.dumps(root))
    expanded = avsc.load(tmp_path / "n.Root.avsc")
    assert expanded == _without_fastavro_keys(
        load_schema(str(tmp_path / "n.Root.avsc"), _write_hint=False)
    )
    assert expanded["fields"][0]["type"]["symbols"] == ["X"]
    assert expanded["fields"][1]["type"] == ["null", "n.Leaf"]


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "record", "name": "R", "fields": [{"name": "a", "type": "Missing"}]},
        {"type": "record", "name": "R", "fields": [{"name": "a", "type": "R2"}, {"type": "int"}]},
        {"type": "record", "name": "R", "fields": [{"name": "r", "type": {
            "type": "record", "name": "R", "fields": []}}]},
        {"type": "bogus"},
        {"type": {"type": "int"}},
        ["int", 7],
        {"type": "enum", "symbols": ["A"]},
    ],
)  # fmt: skip
def test_bad_schemas_are_refused_with_a_schema_error(schema: Any) -> None:
    with pytest.raises(SchemaError):
        avsc.normalise(schema)


def test_a_reference_outside_the_directory_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "evil.avsc").write_text(json.dumps({"type": "fixed", "name": "e", "size": 1}))
    (tmp_path / "sub" / "x.avsc").write_text(
        json.dumps({"type": "record", "name": "x", "fields": [{"name": "a", "type": "../evil"}]})
    )
    with pytest.raises(SchemaError, match="not an Avro name"):
        avsc.load(tmp_path / "sub" / "x.avsc")


def test_an_unreadable_file_is_a_schema_error(tmp_path: Path) -> None:
    (tmp_path / "bad.avsc").write_text("{not json")
    with pytest.raises(SchemaError, match="cannot load"):
        avsc.load(tmp_path / "bad.avsc")


def _apache_enums(schema: Any, found: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Every enum's symbols as Apache Avro's own parser holds them, by full name."""
    if isinstance(schema, avro.schema.EnumSchema):
        found[schema.fullname] = tuple(schema.symbols)
    elif isinstance(schema, avro.schema.RecordSchema):
        for field in schema.fields:
            _apache_enums(field.type, found)
    elif isinstance(schema, avro.schema.UnionSchema):
        for branch in schema.schemas:
            _apache_enums(branch, found)
    elif isinstance(schema, avro.schema.ArraySchema):
        _apache_enums(schema.items, found)
    elif isinstance(schema, avro.schema.MapSchema):
        _apache_enums(schema.values, found)
    return found


@pytest.mark.parametrize("record", registry.RECORD_NAMES)
def test_enum_symbols_are_in_the_order_apache_avro_reads(record: str) -> None:
    expanded = registry.current(record).schema
    enums = _apache_enums(avro.schema.parse(json.dumps(expanded)), {})
    assert enums  # every record of the contract has enums
    assert {name: avsc.enum_symbols(expanded, name) for name in enums} == enums


def test_an_enum_the_schema_lacks_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="no such enum"):
        avsc.enum_symbols(registry.current("AuditEvent").schema, "mcp_audit.Nothing")
