"""Values every Avro reader reads: text made valid Unicode, integers clamped to their type.

A Python ``str`` may hold lone surrogates (``os.fsdecode`` of an undecodable file
name makes them with ``surrogateescape``), which no UTF-8 encoding holds: written
as they are, every conforming reader refuses the message and the event is lost to
the dead-letter topic. An Avro ``int`` is 32 bits and a ``long`` 64; a larger
number is misread (Java reads 0 or -1) or refused. So a writer that meets such a
value does not refuse the event: it writes each lone surrogate as U+FFFD and a
number out of range as the nearest bound, and says which fields it altered, as
Avro paths joined by commas, under :data:`ALTERED_KEY` in the record's
``attributes`` map (the audit event's own inside an EnrichedEvent). Valid values
pass untouched and the check costs nothing on them: writers encode strictly and
come here only when that fails. The producer's sealers and the contract's
serializer both repair through :func:`repaired`, so they write the same bytes.
"""

from __future__ import annotations

import re
from typing import Any

from schemas.codegen import _kind

ALTERED_KEY = "mcp_audit.altered"
INT_RANGE = (-(1 << 31), (1 << 31) - 1)
LONG_RANGE = (-(1 << 63), (1 << 63) - 1)
_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(value: str) -> str:
    """``value`` with each lone surrogate (one code point each) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", value)


def clamped(value: int, bounds: tuple[int, int]) -> int:
    low, high = bounds
    return low if value < low else high if value > high else value


class _Repair:
    def __init__(self) -> None:
        self.altered: list[str] = []

    def note(self, path: str) -> None:
        if path not in self.altered:
            self.altered.append(path)

    def value(self, schema: Any, value: Any, path: str) -> Any:
        kind, schema = _kind(schema)
        fixed: Any
        if kind == "string" and isinstance(value, str):
            fixed = valid_text(value)
        elif kind in ("int", "long") and isinstance(value, int) and not isinstance(value, bool):
            fixed = clamped(value, INT_RANGE if kind == "int" else LONG_RANGE)
        elif kind == "record" and isinstance(value, dict):
            return self.record(schema, value, f"{path}.")
        elif kind == "array" and isinstance(value, (list, tuple)):
            return [self.value(schema["items"], x, path) for x in value]
        elif kind == "map" and isinstance(value, dict):
            return {
                self.value("string", k, path): self.value(schema["values"], x, path)
                for k, x in value.items()
            }
        elif kind == "union" and value is not None:
            return self.value(schema[-1], value, path)  # [null, T]: the only unions here
        else:
            return value
        if fixed != value:
            self.note(path)
        return fixed

    def record(self, schema: dict[str, Any], value: dict[str, Any], path: str) -> dict[str, Any]:
        out = dict(value)
        for field in schema["fields"]:
            name = field["name"]
            if name in value:
                out[name] = self.value(field["type"], value[name], f"{path}{name}")
        return out


def repaired(schema: dict[str, Any], record: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``record`` that every reader reads, and the Avro paths of what changed
    (empty when nothing did: then the record was not the problem)."""
    repair = _Repair()
    out = repair.record(schema, record, "")
    if repair.altered:
        _mark(schema, out, ",".join(repair.altered))
    return out, repair.altered


def _mark(schema: dict[str, Any], record: dict[str, Any], altered: str) -> None:
    names = {f["name"] for f in schema["fields"]}
    if "attributes" in names:
        record["attributes"] = {**(record.get("attributes") or {}), ALTERED_KEY: altered}
    elif "event" in names and isinstance(record.get("event"), dict):
        event = record["event"] = dict(record["event"])
        event["attributes"] = {**(event.get("attributes") or {}), ALTERED_KEY: altered}
