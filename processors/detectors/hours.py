"""Activity at an hour of the day (UTC) unusual for that user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processors.detectors.base import NOTHING, Finding, Findings, short
from processors.features import Features

_HOUR_US = 3_600_000_000


@dataclass(frozen=True)
class UnusualHour:
    """Counts the distinct hours a user was active in, by hour of day.

    Counting active hours rather than events keeps one busy hour from defining
    the user's habits. After ``warmup_slots`` active hours, activity in an hour
    of day with no activity within ``neighbourhood`` hours of it fires once.
    """

    name: str = "unusual_hour"
    slot: str = "hour"
    warmup_slots: int = 16
    neighbourhood: int = 1

    def observe(self, facts: Features, state: dict[str, Any]) -> Findings:
        slot = facts.time_us // _HOUR_US
        if not state:
            state.update(h=[0] * 24, n=0, last=-1)
        if slot == state["last"]:
            return NOTHING
        state["last"] = slot
        hour = slot % 24
        hist: list[int] = state["h"]
        usual = sum(
            hist[(hour + d) % 24] for d in range(-self.neighbourhood, self.neighbourhood + 1)
        )
        warm = state["n"] >= self.warmup_slots
        hist[hour] += 1
        state["n"] += 1
        if not warm or usual:
            return NOTHING
        return (
            Finding(
                self.name,
                "MEDIUM",
                1.0,
                f"user {short(facts.user)} active at {hour:02d}h UTC, never seen near that hour "
                f"in {state['n'] - 1} active hours",
                facts.user,
                {"hour": str(hour), "active_hours": str(state["n"] - 1)},
            ),
        )
