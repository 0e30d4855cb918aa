"""Write the event schema reference (docs/schema.md) from the .avsc files.

Usage: ``python -m schemas.docs [path]``. A test fails while the committed
reference differs from what this writes, so the reference never drifts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from schemas.registry import RECORD_NAMES, current

HEADER = """# Event schema reference

Generated from `schemas/avro/*.avsc` by `python -m schemas.docs`; do not edit by hand.
Every message on the pipeline's topics is one of these records, framed as Avro
single-object encoding (`C3 01` + CRC-64-AVRO fingerprint + body) or with Confluent
framing when a schema registry is configured. Timestamps are UTC microseconds.
Bodies are Avro binary encoding as the Apache Avro 1.12 specification defines it; the
fingerprint is the CRC-64-AVRO of the specification's parsing canonical form.

## Framing

- **Single-object** (the default, no registry): `C3 01`, the writer schema's 8-byte
  little-endian CRC-64-AVRO fingerprint (below), the body.
- **Confluent** (`MCP_AUDIT_KAFKA_SCHEMA_REGISTRY_URL` set): `00`, the 4-byte
  big-endian id the registry gave the writer schema, the same body. Each writer
  registers its schema (or looks it up: the same schema gets the same id) once at
  start, under the topic's value subject `<topic>-value` (confluent-kafka's default
  subject name strategy): producers `AuditEvent` on the raw topic, processors
  `EnrichedEvent` on the enriched topic and `Alert` on the alerts topic. It asks on a
  thread of its own, so no audited call waits for the registry. Until the registry
  answers (down or slow at start) a writer goes on in single-object framing, which
  every reader here reads too, and asks again after 1 s, doubling to 60 s; then it
  switches. A topic may therefore hold both framings: read by the first byte.
  Dead letters keep the bytes they were given.

## Values no reader reads

A Python `str` can hold lone surrogates (`surrogateescape` makes them from
undecodable bytes, e.g. a file name), which no UTF-8 holds; an Avro `int` is 32 bits
and a `long` 64. Writers never refuse an event for such a value, and never write it
as it is (readers would refuse or misread the event). The producer's sealers (the
compiled one and the Python fallback alike) and the contract's serializer
(`schemas.wire.SingleObjectSerializer`, used by processors and sinks) instead:

- write each lone surrogate as U+FFFD (one per code point; the rest of the text
  unchanged);
- write an integer out of its type's range as the nearest bound (`int`:
  -2147483648 to 2147483647, `long`: -2^63 to 2^63-1);
- name what they altered under the key `mcp_audit.altered` of the record's
  `attributes` map (an EnrichedEvent's in its `event`): the fields' Avro paths in
  schema order, joined by commas, e.g. `target.resource_uri,payload.redactions`.

Valid values are written untouched and cost nothing extra: writers encode strictly
and repair only when that fails (`schemas/repair.py`). In the producer the repair runs
before the event joins its stream, so the chain hash covers the text as written and
verifies. The mark itself is not chained. An event refused all the same (a value of
the wrong type, an enum symbol the schema has not) is refused before its stream
advances, leaving no gap.

## Reading with the official Apache Avro library

The official Python library (`avro` 1.12 on PyPI) reads every message and resolves
every released version (`schemas/avro/released/`) as this project's reader does (the
test suite checks it). Its own single-object fingerprint differs from the
specification's, though: its canonical form keeps `{"type":"long"}` for a
`timestamp-micros` long where the parsing canonical form has `"long"`, so
`avro.schema.parse(s).fingerprint()` does not match the header. Workaround: take the
fingerprint from this page (or the name of the snapshot in `schemas/avro/released/`),
or replace each `{"type": "long", "logicalType": ...}` by `"long"` before asking the
library for it (its bytes are then the header's). The Java library and fastavro
agree with the specification.
"""


def type_name(schema: Any) -> str:
    if isinstance(schema, list):
        names = [type_name(branch) for branch in schema if branch != "null"]
        optional = "null" in schema
        return " \\| ".join(names) + (" (optional)" if optional else "")
    if isinstance(schema, str):
        return schema.rsplit(".", 1)[-1]
    if schema.get("logicalType"):
        return str(schema["logicalType"])
    kind = schema["type"]
    if kind == "array":
        return f"array of {type_name(schema['items'])}"
    if kind == "map":
        return f"map of {type_name(schema['values'])}"
    if kind in ("record", "enum"):
        return str(schema["name"])
    return str(kind)


def _default(field: dict[str, Any]) -> str:
    if "default" not in field:
        return "required"
    return f"`{field['default']!r}`".replace("None", "null")


def _named_types(schema: Any, found: dict[str, dict[str, Any]]) -> None:
    if isinstance(schema, list):
        for branch in schema:
            _named_types(branch, found)
    elif isinstance(schema, dict):
        if schema.get("type") in ("record", "enum") and schema["name"] not in found:
            found[schema["name"]] = schema
        for key in ("fields", "items", "values"):
            value = schema.get(key)
            if isinstance(value, list):
                for field in value:
                    _named_types(field["type"], found)
            elif value is not None:
                _named_types(value, found)


def _section(schema: dict[str, Any]) -> list[str]:
    lines = [f"### {schema['name']}", ""]
    if schema.get("doc"):
        lines += [schema["doc"], ""]
    if schema["type"] == "enum":
        lines += ["Symbols: " + ", ".join(f"`{s}`" for s in schema["symbols"]), ""]
        return lines
    lines += ["| field | type | default | meaning |", "|---|---|---|---|"]
    for field in schema["fields"]:
        doc = field.get("doc", "").replace("|", "\\|")
        lines.append(
            f"| `{field['name']}` | {type_name(field['type'])} | {_default(field)} | {doc} |"
        )
    return [*lines, ""]


def render() -> str:
    """The reference: each record, then each named type it introduces, once."""
    out = [HEADER]
    shown: set[str] = set()
    for record in RECORD_NAMES:
        writer = current(record)
        out += [f"## {record}", "", f"Fingerprint (CRC-64-AVRO): `{writer.fingerprint_hex}`", ""]
        found: dict[str, dict[str, Any]] = {}
        _named_types(writer.schema, found)
        for name, schema in found.items():
            if name not in shown:
                shown.add(name)
                out += _section(schema)
    return "\n".join(out).rstrip() + "\n"


DEFAULT_PATH = Path(__file__).parent.parent / "docs" / "schema.md"

if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    target.write_text(render())
    print(f"wrote {target}")
