"""What every detector returns, and the statistics several of them share.

A detector's state is a plain JSON-able dict (numbers, strings, lists, dicts)
so it can live in a Faust table and travel through its changelog.
"""

from __future__ import annotations

import math
from typing import NamedTuple


class Finding(NamedTuple):
    """One detector firing on one event (or on a pipeline stream, for self-watch)."""

    detector: str
    severity: str
    score: float
    summary: str
    subject: str
    attributes: dict[str, str]


def ewma_update(state: dict[str, float], value: float, alpha: float) -> None:
    """Fold ``value`` into the exponentially weighted mean ``m`` and variance ``v``."""
    delta = value - state["m"]
    state["m"] += alpha * delta
    state["v"] = (1 - alpha) * (state["v"] + alpha * delta * delta)


def z_score(value: float, mean: float, variance: float, floor: float) -> float:
    """How many standard deviations above the mean; the deviation never below ``floor``."""
    # max(max(variance, 0.0) ** 0.5, floor) spelled with comparisons: the same value
    # (NaN included) without two builtin calls, on every event of two detectors.
    deviation = math.sqrt(0.0 if variance < 0.0 else variance)
    return (value - mean) / (floor if floor > deviation else deviation)


def short(user: str) -> str:
    """A pseudonym shortened for a one-line summary."""
    return user[:12]
