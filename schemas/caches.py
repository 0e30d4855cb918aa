"""Caches of values that recur, bounded the cheap way: when full, start over.

Shared here because processors, sinks and producers may not import each other.
The hot paths that use it (enrichment per event) look up a plain dict on every
hit and call :func:`remember` only on a miss, so the bound costs nothing on the
hits that are nearly every lookup. Starting over rather than evicting the
least recently used keeps hits free of bookkeeping; a miss after the reset
recomputes what was there, which is what these caches hold: results that are
cheap to recompute once, expensive to recompute per event.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(cache: dict[K, V], key: K, value: V, limit: int) -> V:
    """Store ``value`` under ``key`` and return it; a ``cache`` already holding ``limit``
    entries is emptied first, so it never holds more than ``limit``."""
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value
    return value
