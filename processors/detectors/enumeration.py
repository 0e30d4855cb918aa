"""Enumeration: many distinct tools or resources touched by one user in a short window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from processors.detectors.base import NOTHING, Finding, Findings, short
from processors.features import Features
from processors.state import StateTokens

TOKENS = 2  # state version: targets kept as tokens


@dataclass(frozen=True)
class Enumeration:
    """Counts distinct targets per tumbling window; fires once per window past ``threshold``.

    The state holds keyed tokens of the targets (resource URIs name people), never
    the targets; the finding names the last target, for the alert.
    """

    name: str = "enumeration"
    slot: str = "enum"
    window_s: int = 60
    threshold: int = 30
    token: Callable[[str], str] = field(default_factory=StateTokens.ephemeral)

    def observe(self, facts: Features, state: dict[str, Any]) -> Findings:
        target = facts.resource or facts.tool
        if not target:
            return NOTHING
        window = facts.time_us // (self.window_s * 1_000_000)
        if state.get("w") != window or state.get("v") != TOKENS:
            # A window of state written before tokens (v absent) held targets in clear.
            state.update(w=window, s={}, f=False, v=TOKENS)
        seen: dict[str, int] = state["s"]
        key = self.token(target)
        if state["f"] or key in seen:
            return NOTHING
        seen[key] = 1
        if len(seen) < self.threshold:
            return NOTHING
        state["f"] = True
        state["s"] = {}  # the window already fired; keep no more targets for it
        return (
            Finding(
                self.name,
                "HIGH",
                float(self.threshold),
                f"user {short(facts.user)} touched {self.threshold} distinct tools or resources "
                f"within {self.window_s}s",
                facts.user,
                {"distinct_targets": str(self.threshold), "last_target": target},
            ),
        )
