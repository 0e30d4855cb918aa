"""The data-minimisation policy: which class a tool is in, and what that class keeps.

A policy file is TOML::

    version = "2026-11"          # recorded in every event's compliance.policy_version
    default_class = "medium"

    [tools]                      # exact names win; otherwise the first matching glob
    "charge_card" = "critical"
    "read_*" = "low"

    [classes.high]               # overrides the built-in rules of a class
    keep_results = false
    retention_days = 2190

A :class:`Policy` is immutable once loaded; :meth:`Policy.rule_for` is cached
per name, so the per-call path pays one dict lookup.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from producers.errors import PolicyError

CLASSES = ("LOW", "MEDIUM", "HIGH", "CRITICAL")


@dataclass(frozen=True, slots=True)
class ClassRule:
    """What events of one classification keep, and what happens when they cannot be kept."""

    classification: str
    keep_values: bool
    keep_results: bool
    fail_closed: bool
    retention_days: int


BUILTIN_RULES: dict[str, ClassRule] = {
    "LOW": ClassRule(
        "LOW", keep_values=True, keep_results=True, fail_closed=False, retention_days=365
    ),
    "MEDIUM": ClassRule("MEDIUM", True, False, False, 365),
    "HIGH": ClassRule("HIGH", False, False, False, 2190),  # HIPAA: six years
    "CRITICAL": ClassRule("CRITICAL", False, False, True, 2555),  # PCI-DSS: seven years
}


class Policy:
    __slots__ = ("_exact", "_globs", "default", "rule_for", "rules", "version")

    def __init__(
        self,
        *,
        tools: dict[str, str] | None = None,
        rules: dict[str, ClassRule] | None = None,
        default_class: str = "MEDIUM",
        version: str | None = None,
    ) -> None:
        self.rules = {**BUILTIN_RULES, **(rules or {})}
        self.default = self.rules[_class_name(default_class)]
        self.version = version
        named = {pattern: _class_name(cls) for pattern, cls in (tools or {}).items()}
        self._exact = {p: c for p, c in named.items() if not _is_glob(p)}
        self._globs = [(p, c) for p, c in named.items() if _is_glob(p)]
        self.rule_for = lru_cache(maxsize=8192)(self._resolve)

    def _resolve(self, name: str) -> ClassRule:
        """The rule for a tool, resource or prompt name."""
        cls = self._exact.get(name)
        if cls is None:
            cls = next((c for p, c in self._globs if fnmatch.fnmatchcase(name, p)), None)
        return self.rules[cls] if cls else self.default


def _is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def _class_name(value: str) -> str:
    name = str(value).upper()
    if name not in CLASSES:
        raise PolicyError("unknown classification", value=value, known=CLASSES)
    return name


def _class_overrides(raw: dict[str, Any]) -> dict[str, ClassRule]:
    rules = {}
    fields = {"keep_values", "keep_results", "fail_closed", "retention_days"}
    for cls, override in raw.items():
        name = _class_name(cls)
        unknown = set(override) - fields
        if unknown:
            raise PolicyError("unknown field in a class rule", cls=cls, fields=sorted(unknown))
        rules[name] = replace(BUILTIN_RULES[name], **override)
    return rules


def load_policy(path: Path | None) -> Policy:
    """The policy in ``path``, or the built-in one (every tool MEDIUM) when None."""
    if path is None:
        return Policy()
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError("cannot read the policy file", path=str(path)) from exc
    unknown = set(raw) - {"version", "default_class", "tools", "classes"}
    if unknown:
        raise PolicyError("unknown key in the policy file", path=str(path), keys=sorted(unknown))
    return Policy(
        tools=raw.get("tools", {}),
        rules=_class_overrides(raw.get("classes", {})),
        default_class=raw.get("default_class", "MEDIUM"),
        version=str(raw["version"]) if "version" in raw else None,
    )
