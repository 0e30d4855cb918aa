"""Compliance tags and retention from classification, data categories and policy.

:class:`ComplianceRules` is built once from the ``[compliance]`` section of the
rules file and is read-only afterwards; :meth:`ComplianceRules.tag` does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from processors.features import Features
from schemas.caches import remember
from schemas.retention import RETENTION_DAYS_MAX, RETENTION_DAYS_MIN, retention_in_range

FRAMEWORKS = ("GDPR", "HIPAA", "PCI-DSS", "SOC2", "CCPA")


class Compliance(NamedTuple):
    tags: list[str]
    retention_days: int


@dataclass(frozen=True)
class Framework:
    tag: str
    categories: frozenset[str]
    classifications: frozenset[str]
    event_types: frozenset[str]
    retention_days: int

    def applies(self, facts: Features) -> bool:
        return (
            facts.classification in self.classifications
            or facts.event_type in self.event_types
            or any(c.lower() in self.categories for c in facts.categories)
        )


@dataclass(frozen=True)
class ComplianceRules:
    default_retention_days: int
    frameworks: tuple[Framework, ...]
    _cache: dict[tuple[Any, ...], Compliance] = field(default_factory=dict, compare=False)

    def tag(self, facts: Features, policy_retention_days: int) -> Compliance:
        """Frameworks that apply, and the longest retention any of them or the policy wants.

        Cached by the inputs that matter; callers must not mutate the result.
        """
        key = (
            facts.classification,
            facts.event_type,
            tuple(facts.categories),
            policy_retention_days,
        )
        found = self._cache.get(key)
        if found is None:
            found = remember(self._cache, key, self._tag(facts, policy_retention_days), 10_000)
        return found

    def _tag(self, facts: Features, policy_retention_days: int) -> Compliance:
        tags: list[str] = []
        retention = max(self.default_retention_days, policy_retention_days)
        for framework in self.frameworks:
            if framework.applies(facts):
                tags.append(framework.tag)
                retention = max(retention, framework.retention_days)
        return Compliance(tags, retention)


def compliance_rules(section: dict[str, Any]) -> ComplianceRules:
    """Build from the rules file's ``[compliance]`` table; unknown tags are refused."""
    frameworks = []
    for entry in section.get("frameworks", []):
        tag = str(entry["tag"])
        if tag not in FRAMEWORKS:
            raise ValueError(f"unknown compliance framework {tag!r}; known: {FRAMEWORKS}")
        frameworks.append(
            Framework(
                tag=tag,
                categories=frozenset(c.lower() for c in entry.get("categories", [])),
                classifications=frozenset(entry.get("classifications", [])),
                event_types=frozenset(entry.get("event_types", [])),
                # 0: the framework asks for no retention of its own.
                retention_days=_days(entry, "retention_days", 0),
            )
        )
    return ComplianceRules(_days(section, "default_retention_days", 365), tuple(frameworks))


def _days(table: dict[str, Any], key: str, absent: int) -> int:
    """A retention period from the rules file: an integer in range, never coerced."""
    if key not in table:
        return absent
    days = table[key]
    if not retention_in_range(days):
        raise ValueError(
            f"{key} must be an integer from {RETENTION_DAYS_MIN} to {RETENTION_DAYS_MAX}"
        )
    return int(days)
