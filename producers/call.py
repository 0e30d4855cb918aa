"""One audited call in progress, between its ATTEMPT and its RESULT event."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from producers.event.model import CallEvent
from producers.privacy.policy import ClassRule

if TYPE_CHECKING:
    from producers.auditor import Auditor


class Call:
    """One audited call in progress; :meth:`end` records its RESULT exactly once."""

    __slots__ = ("_auditor", "_done", "_started_ns", "event", "rule")

    def __init__(self, auditor: Auditor, event: CallEvent, rule: ClassRule) -> None:
        self._auditor = auditor
        self.event = event
        self.rule = rule
        self._started_ns = time.perf_counter_ns()
        self._done = False

    def end(self, status: str, *, result: Any = None, error: BaseException | None = None) -> None:
        """Record how the call ended. ``result`` is read only when status is SUCCESS.
        Never raises: a RESULT that cannot be made in full is written minimal."""
        if self._done:
            return
        self._done = True
        duration_us = (time.perf_counter_ns() - self._started_ns) // 1000
        try:
            self._auditor.emit(self._auditor.result_event(self, status, duration_us, result, error))
        except Exception as exc:  # the RESULT is still written, minimal
            self._auditor.result_minimal(self, status, duration_us, f"result: {type(exc).__name__}")
