"""UUIDv7 ids: 48-bit Unix milliseconds, then randomness, so ids sort by time.

One algorithm for every id the project makes: producers' event and stream ids,
processors' alert ids (here, not in either room, which may not import each other).

Ids need uniqueness, not secrecy, so the 74 random bits come from a
private :class:`random.Random` seeded from ``os.urandom`` (no syscall per id),
re-seeded in a forked child, and untouched by anyone seeding the global
``random`` (test frameworks do). Ids from one process sort by millisecond;
within a millisecond their order is random (RFC 9562 allows it).

Two ids are made per audited call, so the text is built from one hex string of
random bytes and a cached millisecond prefix: formatting integers as hex costs
several times more than slicing.
"""

from __future__ import annotations

import os
import random
import time

_rng = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _rng.seed(os.urandom(32)))

# The variant field is the top two bits of the 17th hex digit: 10xx, i.e. 8, 9, a or b.
_VARIANT_DIGIT = "89ab" * 4
# (milliseconds, "tttttttt-tttt-7"): one tuple, swapped whole, so threads never see a mix.
_prefix: tuple[int, str] = (-1, "")


def _prefix_for(ms: int) -> str:
    global _prefix
    cached = _prefix
    if cached[0] != ms:
        h = f"{ms:012x}"
        cached = _prefix = (ms, f"{h[:8]}-{h[8:]}-7")
    return cached[1]


def uuid7(now_ns: int | None = None) -> str:
    """A new UUIDv7 in canonical 8-4-4-4-12 text form, for ``now_ns`` (default: now)."""
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    r = _rng.randbytes(10).hex()  # 20 digits: 3 rand_a, 1 for the variant, 15 rand_b
    return f"{_prefix_for(ms)}{r[:3]}-{_VARIANT_DIGIT[int(r[3], 16)]}{r[4:7]}-{r[7:19]}"
