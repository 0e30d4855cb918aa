"""Write EnrichedEvent bytes without re-encoding the audit event inside it.

An Avro record's body is its fields' encodings one after another, and the
EnrichedEvent's first field is the whole AuditEvent. So when a raw message is
single-object encoded with the current AuditEvent schema, the enriched body is
that message's body, unchanged, followed by the enrichment fields encoded here.
Anything else (an older writer schema, Confluent framing) falls back to the
full serializer. A raw message with Confluent framing of the current AuditEvent
schema (its id given by :meth:`EnrichedWriter.accept_raw_header`) has the same
body and is reused the same way. The field layout is checked against the schema at import, so
a schema change that this module does not follow fails at start, not silently.
"""

from __future__ import annotations

import struct
from typing import Any

from schemas import registry
from schemas.avsc import enum_symbols
from schemas.caches import remember
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


def _enum_index(name: str) -> dict[str, int]:
    symbols = enum_symbols(registry.current("EnrichedEvent").schema, name)
    return {symbol: i for i, symbol in enumerate(symbols)}


def _check_layout() -> None:
    names = tuple(f["name"] for f in registry.current("EnrichedEvent").schema["fields"])
    if names != ("event", *_SUFFIX_FIELDS):
        raise RuntimeError(f"EnrichedEvent fields changed: {names}; update enriched_wire")


_check_layout()
_CALL_STATES = _enum_index("mcp_audit.CallState")
_RISK_LEVELS = _enum_index("mcp_audit.RiskLevel")


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


class SuffixEncoder:
    """Encodes the enrichment fields, reusing the bytes of values that repeat.

    Call states, scores, reason and tag lists, retention and the batch's
    ``enriched_time`` repeat across events, so their encodings are cached; most
    events are not a call's result with its attempt and have no anomalies, and
    for them no byte is encoded per event.
    """

    def __init__(self) -> None:
        self._states = {s: _encoded(_long, i) for s, i in _CALL_STATES.items()}
        # A call state followed by no attempt id and no attempt time (both null).
        self._bare = {s: encoded + b"\x00\x00" for s, encoded in self._states.items()}
        self._middle: dict[tuple[Any, ...], bytes] = {}
        self._end: tuple[tuple[int, int, str | None], bytes] = ((-1, -1, None), b"")

    def encode(self, fields: dict[str, Any]) -> bytes:
        return b"".join(self.parts(fields))

    def parts(self, fields: dict[str, Any]) -> tuple[bytes, ...]:
        """The encoding in pieces, for the caller to join with what comes before."""
        attempt_id, attempt_time = fields["attempt_event_id"], fields["attempt_time"]
        if attempt_id is None and attempt_time is None:
            head = self._bare[fields["call_state"]]
        else:
            out = bytearray(self._states[fields["call_state"]])
            _optional(attempt_id, _string, out)
            _optional(attempt_time, _long, out)
            head = bytes(out)
        anomalies = fields["anomalies"]
        return (
            head,
            self._risk_part(fields),
            _encoded(_anomalies, anomalies) if anomalies else b"\x00",
            self._tail(
                fields["retention_days"], fields["enriched_time"], fields["processor_version"]
            ),
        )

    def _risk_part(self, fields: dict[str, Any]) -> bytes:
        key = (
            fields["risk_score"], fields["risk_level"],
            tuple(fields["risk_reasons"]), tuple(fields["compliance_tags"]),
        )  # fmt: skip
        part = self._middle.get(key)
        if part is None:
            out = bytearray()
            _long(key[0], out)
            _long(_RISK_LEVELS[key[1]], out)
            _strings(fields["risk_reasons"], out)
            _strings(fields["compliance_tags"], out)
            part = remember(self._middle, key, bytes(out), 50_000)
        return part

    def _tail(self, retention_days: int, enriched_time: int, version: str) -> bytes:
        """The last three fields: the same for a whole batch, but for the retention."""
        key = (retention_days, enriched_time, version)
        if self._end[0] != key:
            out = bytearray()
            _long(retention_days, out)
            _long(enriched_time, out)
            _string(version, out)
            self._end = (key, bytes(out))
        return self._end[1]


def _encoded(writer: Any, value: Any) -> bytes:
    out = bytearray()
    writer(value, out)
    return bytes(out)


def _anomalies(anomalies: list[dict[str, Any]], out: bytearray) -> None:
    if anomalies:
        _long(len(anomalies), out)
        for anomaly in anomalies:
            _string(anomaly["detector"], out)
            out += _pack_double(anomaly["score"])
            _string(anomaly["detail"], out)
    out.append(0)


def encode_suffix(fields: dict[str, Any]) -> bytes:
    """The Avro encoding of every EnrichedEvent field after ``event``, in order (uncached)."""
    return SuffixEncoder().encode(fields)


class EnrichedWriter:
    """Builds enriched messages; one per worker, stateless after construction."""

    def __init__(self) -> None:
        self._raw_header = SINGLE_OBJECT_MAGIC + registry.current("AuditEvent").fingerprint
        self._header = SINGLE_OBJECT_MAGIC + registry.current("EnrichedEvent").fingerprint
        self._full = SingleObjectSerializer("EnrichedEvent")
        self._suffix = SuffixEncoder()
        self._raw_confluent: bytes | None = None

    def accept_raw_header(self, header: bytes) -> None:
        """Reuse the body of raw messages framed with this Confluent header: the
        registry's id of the current AuditEvent schema (see :mod:`schemas.framing`)."""
        self._raw_confluent = header

    def write(self, raw_message: bytes, event: dict[str, Any], fields: dict[str, Any]) -> bytes:
        """Enriched bytes for ``event``: raw body reused when it has the current schema."""
        if raw_message.startswith(self._raw_header):
            # One join, and the body by view: the ~600 event bytes are copied once.
            body = memoryview(raw_message)[_HEADER_LEN:]
            return b"".join((self._header, body, *self._suffix.parts(fields)))
        confluent = self._raw_confluent
        if confluent is not None and raw_message.startswith(confluent):
            body = memoryview(raw_message)[len(confluent) :]
            return b"".join((self._header, body, *self._suffix.parts(fields)))
        return self._full({"event": event, **fields})
