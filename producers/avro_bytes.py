"""Avro binary primitives for the producer's hand-written AuditEvent encoder.

Only the handful of encodings AuditEvent uses: zig-zag varint longs, strings,
``["null", X]`` unions, booleans and string arrays. Not a generic codec: the
field order lives in :mod:`producers.encoder`, checked against fastavro by test.
"""

from __future__ import annotations

from collections.abc import Sequence

NULL = b"\x00"  # union branch 0 (null), an empty array or map, false, and long 0
_SMALL = [bytes([(n << 1) if n < 64 else 0]) for n in range(64)]


def long(value: int) -> bytes:
    if 0 <= value < 64:
        return _SMALL[value]
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while zigzag > 0x7F:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


def string(value: str) -> bytes:
    data = value.encode("utf-8", "surrogatepass")
    return long(len(data)) + data


def opt_string(value: str | None) -> bytes:
    """A ``["null", "string"]`` union."""
    if value is None:
        return NULL
    data = value.encode("utf-8", "surrogatepass")
    return b"\x02" + long(len(data)) + data


def boolean(value: bool) -> bytes:
    return b"\x01" if value else b"\x00"


def opt_boolean(value: bool | None) -> bytes:
    return NULL if value is None else b"\x02" + boolean(value)


def opt_long(value: int | None) -> bytes:
    return NULL if value is None else b"\x02" + long(value)


def strings(values: Sequence[str]) -> bytes:
    """An array of strings: one block, then the zero-length terminator."""
    if not values:
        return NULL
    return long(len(values)) + b"".join(string(v) for v in values) + NULL


def string_map(values: dict[str, str]) -> bytes:
    if not values:
        return NULL
    body = b"".join(string(k) + string(v) for k, v in values.items())
    return long(len(values)) + body + NULL
