"""Declarative risk rules: a TOML file says what adds risk; this module scores events.

Lifecycle: :func:`processors.rules_file.load_rules` reads and checks a file once (the shipped
``default_rules.toml`` when no path is given); the :class:`RiskRules` it
returns is immutable apart from its name-match caches and scores any number of
events. Scoring does no I/O: tool and scope patterns are matched once per
distinct name and remembered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

from processors.compliance import ComplianceRules
from processors.features import Features
from schemas.caches import remember
from schemas.models import INCOMPLETE_REASON

LEVELS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
_CACHE_LIMIT = 50_000


class Risk(NamedTuple):
    score: int
    level: str
    reasons: list[str]


@dataclass(frozen=True)
class ToolClass:
    patterns: tuple[str, ...]
    name: str
    points: int


@dataclass
class RiskRules:
    """Points per condition, read from the rules file's sections of the same names."""

    levels: tuple[int, int, int]
    classification: dict[str, int]
    tools: tuple[ToolClass, ...]
    annotations: dict[str, int]
    outcome: dict[str, int]
    event_types: dict[str, int]
    privileged_scopes: tuple[str, ...]
    scope_points: int
    anomalies: dict[str, int]
    large_result_bytes: int
    large_result_points: int
    compliance: ComplianceRules
    _risk_cache: dict[tuple[Any, ...], Risk] = field(default_factory=dict, repr=False)
    _tool_cache: dict[str, ToolClass | None] = field(default_factory=dict, repr=False)
    _scope_cache: dict[str, bool] = field(default_factory=dict, repr=False)

    def assess(self, facts: Features, anomalies: Sequence[str], incomplete: bool) -> Risk:
        """Score one event: ``anomalies`` are the detectors that fired on it.

        Events that agree on every input of the rules share one cached :class:`Risk`
        (the hot path sees few distinct combinations); callers must not mutate it.
        """
        size = facts.result_size
        key = (
            facts.classification, facts.tool, facts.destructive, facts.open_world,
            facts.event_type, tuple(facts.scopes), facts.status, incomplete, tuple(anomalies),
            size is not None and size >= self.large_result_bytes,
        )  # fmt: skip
        risk = self._risk_cache.get(key)
        if risk is None:
            risk = self._assess(facts, anomalies, incomplete)
            remember(self._risk_cache, key, risk, _CACHE_LIMIT)
        return risk

    def _assess(self, facts: Features, anomalies: Sequence[str], incomplete: bool) -> Risk:
        reasons: list[str] = []
        score = self._target_points(facts, reasons) + self._actor_points(facts, reasons)
        score += self._outcome_points(facts, incomplete, reasons)
        score += self._anomaly_points(anomalies, reasons)
        score = min(score, 100)
        return Risk(score, self.level(score), reasons)

    def level(self, score: int) -> str:
        medium, high, critical = self.levels
        return LEVELS[(score >= medium) + (score >= high) + (score >= critical)]

    def tool_class(self, tool: str) -> ToolClass | None:
        if tool not in self._tool_cache:
            lowered = tool.lower()
            found = next(
                (c for c in self.tools if any(fnmatchcase(lowered, p) for p in c.patterns)), None
            )
            return remember(self._tool_cache, tool, found, _CACHE_LIMIT)
        return self._tool_cache[tool]

    def _target_points(self, facts: Features, reasons: list[str]) -> int:
        points = _add(
            reasons,
            f"classification:{facts.classification}",
            self.classification,
            facts.classification,
        )
        tool_class = self.tool_class(facts.tool) if facts.tool else None
        if tool_class is not None and tool_class.points:
            points += tool_class.points
            reasons.append(f"tool:{tool_class.name}")
        if facts.destructive:
            points += _add(reasons, "annotation:destructive", self.annotations, "destructive")
        if facts.open_world:
            points += _add(reasons, "annotation:open_world", self.annotations, "open_world")
        return points

    def _actor_points(self, facts: Features, reasons: list[str]) -> int:
        points = _add(reasons, f"event:{facts.event_type}", self.event_types, facts.event_type)
        if self.scope_points and any(self._privileged(s) for s in facts.scopes):
            points += self.scope_points
            reasons.append("scope:privileged")
        return points

    def _outcome_points(self, facts: Features, incomplete: bool, reasons: list[str]) -> int:
        if incomplete:
            return _add(reasons, INCOMPLETE_REASON, self.outcome, "incomplete")
        points = _add(reasons, f"outcome:{facts.status}", self.outcome, facts.status)
        size = facts.result_size
        if size is not None and size >= self.large_result_bytes and self.large_result_points:
            points += self.large_result_points
            reasons.append("result:large")
        return points

    def _anomaly_points(self, anomalies: Sequence[str], reasons: list[str]) -> int:
        if not anomalies:
            return 0
        default = self.anomalies.get("default", 0)
        points = sum(self.anomalies.get(name, default) for name in anomalies)
        reasons.extend(f"anomaly:{name}" for name in anomalies)
        return min(points, self.anomalies.get("max", 100))

    def _privileged(self, scope: str) -> bool:
        if scope not in self._scope_cache:
            privileged = any(fnmatchcase(scope, p) for p in self.privileged_scopes)
            return remember(self._scope_cache, scope, privileged, _CACHE_LIMIT)
        return self._scope_cache[scope]


def _add(reasons: list[str], reason: str, table: dict[str, int], key: str | None) -> int:
    """The points ``table`` gives ``key``, noting ``reason`` when there are any."""
    points = table.get(key, 0) if key is not None else 0
    if points:
        reasons.append(reason)
    return points
