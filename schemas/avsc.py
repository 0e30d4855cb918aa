"""The contract's ``.avsc`` files, expanded and fingerprinted in plain Python.

The producer encodes with its own generated codec (:mod:`schemas.codegen`) and
needs from its schemas only their expanded form and their CRC-64-AVRO
fingerprint. Getting those from fastavro made fastavro (13 MB installed) a
dependency of every audited MCP server, a third of the light install's budget
(issue 18); fastavro stays the readers' resolver (:attr:`WriterSchema.parsed`).

:func:`load` returns the same dict as fastavro's ``load_schema`` (names fully
qualified, ``namespace`` dropped, a named type of another file of the directory
expanded where first used), and :func:`fingerprint` the same bytes as fastavro's
``fingerprint(to_parsing_canonical_form(...), "CRC-64-AVRO")``: tests/schemas/
test_avsc.py compares both with fastavro and the fingerprint with Apache Avro.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from schemas.errors import SchemaError

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_RESERVED = frozenset({"type", "name", "namespace", "fields", "items", "size", "symbols", "values"})
_FIELD_OPTIONAL = ("doc", "aliases", "default")
# The specification's name grammar; also keeps a reference from naming a path outside
# the schema directory.
_FULL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_EMPTY = 0xC15D213AA4D7A795  # the Avro specification's CRC-64-AVRO seed


def _table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        fp = byte
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return tuple(table)


_FP_TABLE = _table()


def load(path: Path) -> Any:
    """The schema in ``path``, expanded: a reference to a named type defined in no file
    read so far is replaced by ``<directory>/<full name>.avsc`` where first used.

    Raises :class:`SchemaError` for an unreadable file, an unknown type or a redefinition."""
    return _Expander(path.parent).node(_read(path), "")


def normalise(schema: Any) -> Any:
    """``schema`` with names fully qualified and ``namespace`` dropped (no file is read)."""
    return _Expander(None).node(schema, "")


def canonical_form(schema: Any) -> str:
    """The Avro specification's Parsing Canonical Form of ``schema``."""
    out: list[str] = []
    _canonical(normalise(schema), out)
    return "".join(out)


def fingerprint(schema: Any) -> bytes:
    """CRC-64-AVRO of the canonical form, 8 bytes little-endian (as in single-object
    encoding's header)."""
    fp = _EMPTY
    for byte in canonical_form(schema).encode():
        fp = (fp >> 8) ^ _FP_TABLE[(fp ^ byte) & 0xFF]
    return fp.to_bytes(8, "little")


def enum_symbols(schema: Any, name: str) -> tuple[str, ...]:
    """The symbols, in declared order (Avro writes an enum as the index), of the enum
    whose full name is ``name`` inside an expanded ``schema`` (as :func:`load` gives).

    Raises :class:`SchemaError` when no such enum is there."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack += node
        elif isinstance(node, dict):
            if node.get("type") == "enum" and node.get("name") == name:
                return tuple(node["symbols"])
            stack += node.values()
    raise SchemaError("no such enum in the schema", name=name)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SchemaError("cannot load schema file", path=str(path)) from exc


class _Expander:
    """One expansion: the full names defined so far, and where to look up the others."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.defined: set[str] = set()

    def node(self, schema: Any, namespace: str) -> Any:
        if isinstance(schema, list):
            return [self.node(branch, namespace) for branch in schema]
        if isinstance(schema, str):
            return self._reference(schema, namespace)
        if not isinstance(schema, dict) or not isinstance(schema.get("type"), str):
            raise SchemaError("not an Avro schema", schema=repr(schema)[:200])
        kind = schema["type"]
        out = {key: value for key, value in schema.items() if key not in _RESERVED}
        out["type"] = kind
        if "doc" in schema:
            out["doc"] = out.pop("doc")
        if kind == "array":
            out["items"] = self.node(schema["items"], namespace)
        elif kind == "map":
            out["values"] = self.node(schema["values"], namespace)
        elif kind in ("record", "error", "enum", "fixed"):
            inner, out["name"] = self._define(schema, namespace)
            if kind == "enum":
                out["symbols"] = schema["symbols"]
            elif kind == "fixed":
                out["size"] = schema["size"]
            else:
                out["fields"] = [self._field(field, inner) for field in schema.get("fields", [])]
        elif kind not in PRIMITIVES:
            raise SchemaError("unknown Avro type", type=kind)
        return out

    def _field(self, field: Any, namespace: str) -> dict[str, Any]:
        if not isinstance(field, dict) or "name" not in field or "type" not in field:
            raise SchemaError("a record field needs a name and a type", field=repr(field)[:200])
        out = {
            key: value
            for key, value in field.items()
            if key not in ("type", "name", *_FIELD_OPTIONAL)
        }
        out.update((key, field[key]) for key in _FIELD_OPTIONAL if key in field)
        out["name"] = field["name"]
        out["type"] = self.node(field["type"], namespace)
        return out

    def _define(self, schema: dict[str, Any], namespace: str) -> tuple[str, str]:
        name = schema.get("name")
        if not isinstance(name, str):
            raise SchemaError("a named type needs a name", schema=repr(schema)[:200])
        namespace = schema.get("namespace", namespace)
        if "." in name:
            namespace, full = name.rsplit(".", 1)[0], name
        else:
            full = f"{namespace}.{name}" if namespace else name
        _check_name(full)
        if full in self.defined:
            raise SchemaError("named type defined twice", name=full)
        self.defined.add(full)
        return namespace, full

    def _reference(self, name: str, namespace: str) -> Any:
        if name in PRIMITIVES:
            return name
        full = name if "." in name or not namespace else f"{namespace}.{name}"
        _check_name(full)
        if full in self.defined:
            return full
        if self.directory is None:
            raise SchemaError("unknown named type", name=full)
        path = self.directory / f"{full}.avsc"
        if not path.is_file():
            raise SchemaError("unknown named type", name=full, looked_in=str(path))
        return self.node(_read(path), "")


def _check_name(full: str) -> None:
    if not _FULL_NAME.fullmatch(full):
        raise SchemaError("not an Avro name", name=full[:200])


def _canonical(schema: Any, out: list[str]) -> None:
    if isinstance(schema, list):
        out.append("[")
        for index, branch in enumerate(schema):
            if index:
                out.append(",")
            _canonical(branch, out)
        out.append("]")
    elif isinstance(schema, str):
        out.append(json.dumps(schema))
    else:
        kind = schema["type"]
        if kind == "array":
            out.append('{"type":"array","items":')
            _canonical(schema["items"], out)
            out.append("}")
        elif kind == "map":
            out.append('{"type":"map","values":')
            _canonical(schema["values"], out)
            out.append("}")
        elif kind == "enum":
            symbols = ",".join(json.dumps(symbol) for symbol in schema["symbols"])
            out.append(
                f'{{"name":{json.dumps(schema["name"])},"type":"enum","symbols":[{symbols}]}}'
            )
        elif kind == "fixed":
            out.append(
                f'{{"name":{json.dumps(schema["name"])},"type":"fixed","size":{schema["size"]}}}'
            )
        elif kind in ("record", "error"):
            out.append(f'{{"name":{json.dumps(schema["name"])},"type":"record","fields":[')
            for index, field in enumerate(schema["fields"]):
                if index:
                    out.append(",")
                out.append(f'{{"name":{json.dumps(field["name"])},"type":')
                _canonical(field["type"], out)
                out.append("}")
            out.append("]}")
        else:
            out.append(json.dumps(kind))
