"""The one retry schedule every part uses: waits that double up to a ceiling.

Shared here because producers, processors, sinks and the platform may not
import each other; each retry loop takes one and asks it how long to wait.
"""

from __future__ import annotations


class Backoff:
    """Waits that double from ``initial`` up to ``ceiling``; :meth:`reset` starts over."""

    def __init__(self, initial: float, ceiling: float) -> None:
        self.initial, self.ceiling, self.next = initial, ceiling, initial

    def wait(self) -> float:
        """The wait before this retry (the next one doubles it)."""
        current, self.next = self.next, min(self.next * 2, self.ceiling)
        return current

    def peek(self) -> float:
        """The wait the next :meth:`wait` will give."""
        return self.next

    def reset(self) -> None:
        self.next = self.initial
