"""The processors watch their own consumer: events waiting but none processed (PCI-DSS 10.7.2)."""

from __future__ import annotations

from processors.detectors.base import Finding


class StallWatch:
    """The processors' own consumer: lag present but no progress for ``stall_after_us``."""

    def __init__(self, stall_after_us: int) -> None:
        self.stall_after_us = stall_after_us
        self._progress = -1
        self._since_us = 0
        self._alerted = False

    def check(self, lag: int, processed: int, now_us: int) -> Finding | None:
        if processed != self._progress or lag <= 0:
            self._progress, self._since_us, self._alerted = processed, now_us, False
            return None
        stalled_s = (now_us - self._since_us) / 1_000_000
        if self._alerted or now_us - self._since_us < self.stall_after_us:
            return None
        self._alerted = True
        return Finding(
            "consumer_stall",
            "CRITICAL",
            stalled_s,
            f"processors consumer made no progress for {stalled_s:.0f}s with {lag} events waiting",
            "processors",
            {"lag": str(lag), "stalled_s": f"{stalled_s:.0f}"},
        )
