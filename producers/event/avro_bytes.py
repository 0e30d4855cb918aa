"""Avro binary primitives for the producer's hand-written AuditEvent encoder.

Only the handful of encodings AuditEvent uses: zig-zag varint longs and ints,
strings, ``["null", X]`` unions, booleans and string arrays. Not a generic codec:
the field order lives in :mod:`producers.event.encoder`, checked against fastavro by test.
What no reader reads raises before anything is written: text with lone surrogates
(``UnicodeEncodeError``, from the strict encoder, as fast as any) and a number out of
its type's range (``OverflowError``); the sealer then repairs the event
(:mod:`producers.event.repair`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

NULL = b"\x00"  # union branch 0 (null), an empty array or map, false, and long 0


def _varint(zigzag: int) -> bytes:
    out = bytearray()
    while zigzag > 0x7F:
        out.append((zigzag & 0x7F) | 0x80)
        zigzag >>= 7
    out.append(zigzag)
    return bytes(out)


# Every varint below 2**14 whole, and the two low bytes of every larger one: a varint is
# little-endian 7-bit groups, so a large value is its low 14 bits (continued) + varint(high).
_WHOLE = [_varint(z) for z in range(1 << 14)]
_LOW = [bytes([(z & 0x7F) | 0x80, ((z >> 7) & 0x7F) | 0x80]) for z in range(1 << 14)]


@lru_cache(maxsize=1024)
def _high(zigzag: int) -> bytes:
    # Timestamps share their high bits for ~16 ms: mostly cache hits, and the range check
    # runs only on a miss (a zig-zag value of 64 bits or more is no Avro long).
    if zigzag >> 50:
        raise OverflowError("integer does not fit in an Avro long")
    return _varint(zigzag)


def long(value: int) -> bytes:
    zigzag = (value << 1) ^ (value >> 63)  # never negative, and >= 2**64 out of range
    if zigzag < 16384:
        return _WHOLE[zigzag]
    return _LOW[zigzag & 0x3FFF] + _high(zigzag >> 14)


def int_(value: int) -> bytes:
    """An Avro ``int``: 32 bits (a Java reader reads a larger one as 0 or -1)."""
    zigzag = (value << 1) ^ (value >> 63)
    if zigzag < 16384:
        return _WHOLE[zigzag]
    if zigzag >> 32:
        raise OverflowError("integer does not fit in an Avro int")
    return _LOW[zigzag & 0x3FFF] + _high(zigzag >> 14)


def string(value: str) -> bytes:
    data = value.encode()
    size = len(data)
    return (_WHOLE[size * 2] if size < 8192 else long(size)) + data


def opt_string(value: str | None) -> bytes:
    """A ``["null", "string"]`` union."""
    if value is None:
        return NULL
    data = value.encode()
    size = len(data)
    return b"\x02" + (_WHOLE[size * 2] if size < 8192 else long(size)) + data


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
