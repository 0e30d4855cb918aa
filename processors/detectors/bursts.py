"""Bursts of errors, denials or authentication failures for one user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processors.detectors.base import NOTHING, Finding, Findings, short
from processors.features import Features

_FAILING_STATUSES = frozenset({"ERROR", "DENIED"})


@dataclass(frozen=True)
class FailureBurst:
    """Fires when ``threshold`` failures fall within ``window_s``; then starts counting anew."""

    name: str = "error_burst"
    slot: str = "burst"
    window_s: int = 60
    threshold: int = 10

    def observe(self, facts: Features, state: dict[str, Any]) -> Findings:
        if facts.event_type != "AUTH_FAILURE" and facts.status not in _FAILING_STATUSES:
            return NOTHING
        times: list[int] = state.setdefault("t", [])
        times.append(facts.time_us)
        cutoff = facts.time_us - self.window_s * 1_000_000
        while times and times[0] < cutoff:
            times.pop(0)
        if len(times) < self.threshold:
            return NOTHING
        count = len(times)
        times.clear()
        return (
            Finding(
                self.name,
                "HIGH" if facts.event_type == "AUTH_FAILURE" else "MEDIUM",
                float(count),
                f"user {short(facts.user)} had {count} failures "
                f"({facts.event_type}/{facts.status}) within {self.window_s}s",
                facts.user,
                {"failures": str(count), "last_status": str(facts.status)},
            ),
        )
