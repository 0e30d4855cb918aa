"""A sudden jump in result size for a user: bulk data access."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from processors.detectors.base import NOTHING, Finding, Findings, ewma_update, short, z_score
from processors.features import Features


@dataclass(frozen=True)
class ResultSizeJump:
    """Compares log(result size) with the user's EWMA of it; big and far above fires."""

    name: str = "result_size_jump"
    slot: str = "size"
    alpha: float = 0.05
    z: float = 6.0
    min_bytes: int = 100_000
    warmup_results: int = 30
    log_floor: float = 0.5

    def observe(self, facts: Features, state: dict[str, Any]) -> Findings:
        size = facts.result_size
        if size is None:
            return NOTHING
        value = math.log1p(size)
        if not state:
            state.update(m=value, v=0.0, k=0)
        warm = state["k"] >= self.warmup_results
        score = z_score(value, state["m"], state["v"], self.log_floor)
        ewma_update(state, value, self.alpha)
        state["k"] += 1
        if not warm or size < self.min_bytes or score < self.z:
            return NOTHING
        usual = math.expm1(state["m"])
        return (
            Finding(
                self.name,
                "HIGH",
                round(score, 2),
                f"user {short(facts.user)} received {size} bytes, usually about {usual:.0f}",
                facts.user,
                {"result_size": str(size), "z_score": f"{score:.2f}"},
            ),
        )
