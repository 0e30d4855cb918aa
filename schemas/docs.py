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
