"""Join a call's ATTEMPT with its RESULT by call id; expire attempts that never got one.

Lifecycle: one :class:`CallCorrelator` per worker, fed in arrival order. State
is in memory: after a restart, results whose attempt was seen before the
restart still complete (with the attempt fields empty), and attempts pending
at the restart are not reported INCOMPLETE. Time is the caller's clock in
microseconds, so tests drive it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, NamedTuple


class PendingAttempt(NamedTuple):
    event_id: str
    time_us: int
    deadline_us: int
    event: dict[str, Any]
    message: bytes
    key: bytes | None
    partition: int


class CallCorrelator:
    """Pending attempts by call key, oldest first (arrival order = deadline order)."""

    def __init__(self, timeout_us: int, max_pending: int) -> None:
        self.timeout_us = timeout_us
        self.max_pending = max_pending
        self._pending: OrderedDict[str, PendingAttempt] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def attempt(
        self,
        call_key: str,
        event: dict[str, Any],
        time_us: int,
        now_us: int,
        message: bytes,
        key: bytes | None,
        partition: int,
    ) -> None:
        """Remember an attempt until its result comes or its deadline passes."""
        deadline = now_us + self.timeout_us
        self._pending[call_key] = PendingAttempt(
            event["event_id"], time_us, deadline, event, message, key, partition
        )
        self._pending.move_to_end(call_key)

    def result(self, call_key: str) -> PendingAttempt | None:
        """The attempt this result answers, forgotten from now on; None when unseen."""
        return self._pending.pop(call_key, None)

    def forget_partitions(self, partitions: set[int]) -> int:
        """Drop attempts from partitions this worker no longer owns; their new owner
        sees the results without the attempt, which is better than a false INCOMPLETE."""
        gone = [k for k, p in self._pending.items() if p.partition in partitions]
        for call in gone:
            del self._pending[call]
        return len(gone)

    def expired(self, now_us: int) -> list[PendingAttempt]:
        """Attempts past their deadline, or beyond the pending bound (oldest first)."""
        out = []
        pending = self._pending
        while pending:
            call_key, first = next(iter(pending.items()))
            if first.deadline_us > now_us and len(pending) <= self.max_pending:
                break
            del pending[call_key]
            out.append(first)
        return out


def call_key(server_id: str, call_id: str) -> str:
    """Call ids are unique per server; the key scopes them so servers cannot collide."""
    return f"{server_id}\x1f{call_id}"
