"""Where a batch's time goes, summed and logged now and then for operators."""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class StepClock:
    """Seconds spent in each step of one batch."""

    def __init__(self) -> None:
        self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.laps[step] = now - self.last
        self.last = now


class StepTimings:
    """Per-step time summed over batches, logged every ``LOG_EVERY_S`` for operators."""

    LOG_EVERY_S = 30.0

    def __init__(self) -> None:
        self.total: dict[str, float] = {}
        self.batches = self.events = 0
        self._next_log = time.monotonic() + self.LOG_EVERY_S

    def add(self, clock: StepClock, events: int) -> None:
        for step, seconds in clock.laps.items():
            self.total[step] = self.total.get(step, 0.0) + seconds
        self.batches += 1
        self.events += events
        if events and time.monotonic() >= self._next_log:
            self._next_log = time.monotonic() + self.LOG_EVERY_S
            steps = ", ".join(f"{k} {v / self.batches * 1000:.1f}" for k, v in self.total.items())
            log.info(
                "%d batches, %d events; mean ms per batch: %s", self.batches, self.events, steps
            )
