"""The range every retention period must be in, wherever it is set or read.

The producers' policy file, the processors' rules file and the processors'
check of each raw event all refuse a period outside it. Why these bounds:

- at least one day: 0 would expire an event the moment it is stored;
- at most 100 years: the store keeps the period in a ``UInt16`` column
  (65,535 days), where 65,536 silently wraps to 0, and the TTL adds it to a
  32-bit ``DateTime`` that ends in 2106, which migration 065 saturates so a long
  period keeps the event rather than wrapping to 1970 and deleting it at once.
"""

from __future__ import annotations

RETENTION_DAYS_MIN = 1
RETENTION_DAYS_MAX = 36_500


def retention_in_range(days: object) -> bool:
    """True for an ``int`` (not a ``bool``) within the range."""
    return type(days) is int and RETENTION_DAYS_MIN <= days <= RETENTION_DAYS_MAX
