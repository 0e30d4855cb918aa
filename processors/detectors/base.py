"""What every detector is and returns, and the statistics several of them share.

A detector's state is a plain JSON-able dict (numbers, strings, lists, dicts)
so it can live in a Faust table and travel through its changelog.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Protocol

from processors.features import Features


class Finding(NamedTuple):
    """One detector firing on one event (or on a pipeline stream, for self-watch)."""

    detector: str
    severity: str
    score: float
    summary: str
    subject: str
    attributes: dict[str, str]


Findings = tuple[Finding, ...]
NOTHING: Findings = ()  # what a detector returns nearly always: one shared empty tuple


class UserDetector(Protocol):
    """A detector of one user's activity: the shape :class:`~processors.detectors.suite.
    DetectorSuite` gathers.

    ``slot`` names this detector's part of a user's state, as stored in the state
    table and its changelog: renaming it forgets what every user taught it. The
    suite creates the slot (an empty dict) the first time the detector meets a
    user, including users whose stored state predates the detector.
    :meth:`observe` reads one event's features, may change ``state`` (its own slot
    only, JSON-able values only) and returns what it found, :data:`NOTHING` nearly
    always. It does no I/O and raises nothing for any event the validator passed.
    """

    @property
    def slot(self) -> str: ...

    def observe(self, facts: Features, state: dict[str, Any]) -> Findings: ...


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
