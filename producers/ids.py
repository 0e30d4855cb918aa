"""UUIDv7 event ids: 48-bit Unix milliseconds, then randomness, so ids sort by time.

Event ids need uniqueness, not secrecy, so the 74 random bits come from
:func:`random.getrandbits` (no syscall per id). Ids from one process sort by
millisecond; within a millisecond their order is random (RFC 9562 allows it).
"""

from __future__ import annotations

import random
import time

_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)
_RAND_A_SHIFT = 64


def uuid7_int() -> int:
    rand = random.getrandbits(74)
    ms = time.time_ns() // 1_000_000
    return (
        (ms << 80) | _VERSION_AND_VARIANT | ((rand >> 62) << _RAND_A_SHIFT) | (rand & (2**62 - 1))
    )


def uuid7() -> str:
    """A new UUIDv7 in canonical 8-4-4-4-12 text form."""
    h = f"{uuid7_int():032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
