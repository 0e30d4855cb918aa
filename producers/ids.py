"""UUIDv7 event ids: 48-bit Unix milliseconds, then randomness, so ids sort by time.

Event ids need uniqueness, not secrecy, so the 74 random bits come from a
private :class:`random.Random` seeded from ``os.urandom`` (no syscall per id),
re-seeded in a forked child, and untouched by anyone seeding the global
``random`` (test frameworks do). Ids from one process sort by millisecond;
within a millisecond their order is random (RFC 9562 allows it).
"""

from __future__ import annotations

import os
import random
import time

_rng = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _rng.seed(os.urandom(32)))

_VERSION_AND_VARIANT = (0x7 << 76) | (0b10 << 62)
_RAND_A_SHIFT = 64


def uuid7_int() -> int:
    rand = _rng.getrandbits(74)
    ms = time.time_ns() // 1_000_000
    return (
        (ms << 80) | _VERSION_AND_VARIANT | ((rand >> 62) << _RAND_A_SHIFT) | (rand & (2**62 - 1))
    )


def uuid7() -> str:
    """A new UUIDv7 in canonical 8-4-4-4-12 text form."""
    h = f"{uuid7_int():032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
