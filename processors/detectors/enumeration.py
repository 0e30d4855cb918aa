"""Enumeration: many distinct tools or resources touched by one user in a short window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processors.detectors.base import Finding, short
from processors.features import Features


@dataclass(frozen=True)
class Enumeration:
    """Counts distinct targets per tumbling window; fires once per window past ``threshold``."""

    name: str = "enumeration"
    window_s: int = 60
    threshold: int = 30

    def observe(self, facts: Features, state: dict[str, Any]) -> Finding | None:
        target = facts.resource or facts.tool
        if not target:
            return None
        window = facts.time_us // (self.window_s * 1_000_000)
        if state.get("w") != window:
            state.update(w=window, s={}, f=False)
        seen: dict[str, int] = state["s"]
        if state["f"] or target in seen:
            return None
        seen[target] = 1
        if len(seen) < self.threshold:
            return None
        state["f"] = True
        state["s"] = {}  # the window already fired; keep no more targets for it
        return Finding(
            self.name,
            "HIGH",
            float(self.threshold),
            f"user {short(facts.user)} touched {self.threshold} distinct tools or resources "
            f"within {self.window_s}s",
            facts.user,
            {"distinct_targets": str(self.threshold), "last_target": target},
        )
