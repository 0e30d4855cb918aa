"""Call-rate spike: a user's calls in the current minute against their own EWMA baseline."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from processors.detectors.base import NOTHING, Finding, Findings, ewma_update, short, z_score
from processors.features import Features


@dataclass(frozen=True)
class RateSpike:
    """Fires once per bucket when the count passes both ``z`` and ``min_ratio`` x the baseline.

    The deviation is floored at the square root of the mean (Poisson noise), so a
    user with a perfectly regular rate does not alert on one extra call. Only
    minutes with activity enter the baseline: idle nights would otherwise pull
    it to zero and make every morning look like a spike.
    """

    name: str = "rate_spike"
    slot: str = "rate"
    bucket_s: int = 60
    alpha: float = 0.1
    z: float = 6.0
    min_ratio: float = 3.0
    min_count: int = 20
    warmup_buckets: int = 10

    def observe(self, facts: Features, state: dict[str, Any]) -> Findings:
        bucket = facts.time_us // (self.bucket_s * 1_000_000)
        if not state:
            state.update(b=bucket, n=0, m=0.0, v=0.0, k=0, f=False)
        elif bucket > state["b"]:
            self._close(state, bucket)
        state["n"] += 1
        if state["f"] or state["k"] < self.warmup_buckets or state["n"] < self.min_count:
            return NOTHING
        score = z_score(state["n"], state["m"], state["v"], max(1.0, math.sqrt(state["m"])))
        if score < self.z or state["n"] < self.min_ratio * state["m"]:
            return NOTHING
        state["f"] = True
        return (
            Finding(
                self.name,
                "HIGH",
                round(score, 2),
                f"user {short(facts.user)} made {state['n']} calls in {self.bucket_s}s "
                f"against a usual {state['m']:.1f} (z={score:.1f})",
                facts.user,
                {
                    "count": str(state["n"]),
                    "baseline": f"{state['m']:.2f}",
                    "z_score": f"{score:.2f}",
                },
            ),
        )

    def _close(self, state: dict[str, Any], bucket: int) -> None:
        if state["k"] == 0:  # seed with the first minute so the baseline need not climb from 0
            state.update(m=float(state["n"]), v=float(state["n"]))
        else:
            ewma_update(state, state["n"], self.alpha)
        state["k"] += 1
        state.update(b=bucket, n=0, f=False)
