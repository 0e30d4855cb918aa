"""UUIDv7 event ids: 48-bit Unix milliseconds, then randomness, so ids sort by time.

Event ids need uniqueness, not secrecy, so the random bits come from
:func:`random.getrandbits` (no syscall per id). Within one millisecond a
per-process counter in the 12 ``rand_a`` bits keeps ids from one process
increasing (RFC 9562, method 1).
"""

from __future__ import annotations

import random
import threading
import time

_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62
_lock = threading.Lock()
_last_ms = 0
_counter = 0


def _next_ms_and_counter() -> tuple[int, int]:
    global _last_ms, _counter
    now_ms = time.time_ns() // 1_000_000
    with _lock:
        if now_ms > _last_ms:
            _last_ms, _counter = now_ms, random.getrandbits(8)
        else:  # same millisecond, or the clock stepped back: stay monotonic
            _counter += 1
            if _counter > 0xFFF:
                _last_ms, _counter = _last_ms + 1, 0
        return _last_ms, _counter


def uuid7_int() -> int:
    ms, counter = _next_ms_and_counter()
    return (ms << 80) | _VERSION | (counter << 64) | _VARIANT | random.getrandbits(62)


def uuid7() -> str:
    """A new UUIDv7 in canonical 8-4-4-4-12 text form."""
    h = f"{uuid7_int():032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
