"""Write EnrichedEvent bytes without re-encoding the audit event inside it.

An Avro record's body is its fields' encodings one after another, and the
EnrichedEvent's first field is the whole AuditEvent. So when a raw message is
single-object encoded with the current AuditEvent schema, the enriched body is
that message's body, unchanged, followed by the enrichment fields encoded here.
Anything else (an older writer schema, Confluent framing) falls back to the
full serializer. The field layout is checked against the schema at import, so
a schema change that this module does not follow fails at start, not silently.
"""

from __future__ import annotations

import struct
from typing import Any

from schemas import registry
from schemas.wire import SINGLE_OBJECT_MAGIC, SingleObjectSerializer

_SUFFIX_FIELDS = (
    "call_state",
    "attempt_event_id",
    "attempt_time",
    "risk_score",
    "risk_level",
    "risk_reasons",
    "compliance_tags",
    "anomalies",
    "retention_days",
    "enriched_time",
    "processor_version",
)
_HEADER_LEN = len(SINGLE_OBJECT_MAGIC) + 8
_pack_double = struct.Struct("<d").pack


def _enum_symbols(field_name: str) -> dict[str, int]:
    fields = {f["name"]: f for f in registry.current("EnrichedEvent").schema["fields"]}
    return {symbol: i for i, symbol in enumerate(fields[field_name]["type"]["symbols"])}


def _check_layout() -> None:
    names = tuple(f["name"] for f in registry.current("EnrichedEvent").schema["fields"])
    if names != ("event", *_SUFFIX_FIELDS):
        raise RuntimeError(f"EnrichedEvent fields changed: {names}; update enriched_wire")


_check_layout()
_CALL_STATES = _enum_symbols("call_state")
_RISK_LEVELS = _enum_symbols("risk_level")


def _long(value: int, out: bytearray) -> None:
    value = (value << 1) ^ (value >> 63)
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _string(value: str, out: bytearray) -> None:
    data = value.encode()
    _long(len(data), out)
    out += data


def _strings(values: list[str], out: bytearray) -> None:
    if values:
        _long(len(values), out)
        for value in values:
            _string(value, out)
    out.append(0)


def _optional(value: Any, writer: Any, out: bytearray) -> None:
    if value is None:
        out.append(0)
    else:
        out.append(2)  # zig-zag 1: the union's second branch
        writer(value, out)


def encode_suffix(fields: dict[str, Any]) -> bytearray:
    """The Avro encoding of every EnrichedEvent field after ``event``, in order."""
    out = bytearray()
    _long(_CALL_STATES[fields["call_state"]], out)
    _optional(fields["attempt_event_id"], _string, out)
    _optional(fields["attempt_time"], _long, out)
    _long(fields["risk_score"], out)
    _long(_RISK_LEVELS[fields["risk_level"]], out)
    _strings(fields["risk_reasons"], out)
    _strings(fields["compliance_tags"], out)
    anomalies = fields["anomalies"]
    if anomalies:
        _long(len(anomalies), out)
        for anomaly in anomalies:
            _string(anomaly["detector"], out)
            out += _pack_double(anomaly["score"])
            _string(anomaly["detail"], out)
    out.append(0)
    _long(fields["retention_days"], out)
    _long(fields["enriched_time"], out)
    _string(fields["processor_version"], out)
    return out


class EnrichedWriter:
    """Builds enriched messages; one per worker, stateless after construction."""

    def __init__(self) -> None:
        self._raw_header = SINGLE_OBJECT_MAGIC + registry.current("AuditEvent").fingerprint
        self._header = SINGLE_OBJECT_MAGIC + registry.current("EnrichedEvent").fingerprint
        self._full = SingleObjectSerializer("EnrichedEvent")

    def write(self, raw_message: bytes, event: dict[str, Any], fields: dict[str, Any]) -> bytes:
        """Enriched bytes for ``event``: raw body reused when it has the current schema."""
        if raw_message[:_HEADER_LEN] == self._raw_header:
            return b"".join((self._header, raw_message[_HEADER_LEN:], encode_suffix(fields)))
        return self._full({"event": event, **fields})
