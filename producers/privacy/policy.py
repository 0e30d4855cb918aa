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

The file is read strictly (:class:`PolicyFile`): booleans must be TOML booleans
(``keep_values = "false"``, a string, would be truthy and keep health data in
clear), ``retention_days`` an integer within :mod:`schemas.retention`'s range,
``version`` a string, and an unknown key anywhere is refused. A refusal names
each offending key and what was wrong, never the value given.

A :class:`Policy` is immutable once loaded; :meth:`Policy.rule_for` is cached
per name, so the per-call path pays one dict lookup.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from producers.errors import PolicyError
from producers.event.enums import CLASSIFICATIONS
from schemas.retention import RETENTION_DAYS_MAX, RETENTION_DAYS_MIN, retention_in_range


def _class_name(value: str) -> str:
    name = value.upper() if isinstance(value, str) else None
    if name not in CLASSIFICATIONS:
        raise PolicyError("unknown classification", known=CLASSIFICATIONS)
    return name


@dataclass(frozen=True, slots=True)
class ClassRule:
    """What events of one classification keep, and what happens when they cannot be kept."""

    classification: str
    keep_values: bool
    keep_results: bool
    fail_closed: bool
    retention_days: int

    def __post_init__(self) -> None:
        # Built once per class, so the checks cost nothing per call; they hold for
        # rules made in code as well as from a file.
        _class_name(self.classification)
        flags = {"keep_values": self.keep_values, "keep_results": self.keep_results}
        flags["fail_closed"] = self.fail_closed
        wrong = sorted(name for name, value in flags.items() if type(value) is not bool)
        if wrong:
            raise PolicyError("a class rule's flag is not a boolean", fields=wrong)
        if not retention_in_range(self.retention_days):
            raise PolicyError(
                "retention_days out of range",
                low=RETENTION_DAYS_MIN,
                high=RETENTION_DAYS_MAX,
            )


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


def _classification(value: str) -> str:
    """:func:`_class_name` for pydantic, which reports a ValueError against its key."""
    name = value.upper()
    if name not in CLASSIFICATIONS:
        raise ValueError(f"not a classification; known: {', '.join(CLASSIFICATIONS)}")
    return name


ClassName = Annotated[str, AfterValidator(_classification)]


class _Strict(BaseModel):
    # strict: no coercion ("false" stays a string and is refused as a boolean).
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ClassOverride(_Strict):
    """``[classes.NAME]``: the fields given replace the built-in rule's."""

    keep_values: bool | None = None
    keep_results: bool | None = None
    fail_closed: bool | None = None
    retention_days: int | None = Field(None, ge=RETENTION_DAYS_MIN, le=RETENTION_DAYS_MAX)


class PolicyFile(_Strict):
    """The policy file's shape, as TOML parses it."""

    version: str | None = Field(None, min_length=1, max_length=256)
    default_class: ClassName = "MEDIUM"
    tools: dict[Annotated[str, Field(min_length=1)], ClassName] = Field(default_factory=dict)
    classes: dict[ClassName, ClassOverride] = Field(default_factory=dict)

    def policy(self) -> Policy:
        rules = {
            name: replace(BUILTIN_RULES[name], **override.model_dump(exclude_none=True))
            for name, override in self.classes.items()
        }
        return Policy(
            tools=dict(self.tools),
            rules=rules,
            default_class=self.default_class,
            version=self.version,
        )


def load_policy(path: Path | None) -> Policy:
    """The policy in ``path``, or the built-in one (every tool MEDIUM) when None."""
    if path is None:
        return Policy()
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError("cannot read the policy file", path=str(path)) from exc
    try:
        return PolicyFile.model_validate(raw).policy()
    except ValidationError as exc:
        problems = _problems(exc)
    # Raised outside the handler, so the ValidationError, whose text echoes the
    # values given, is neither the cause nor the context of the refusal.
    raise PolicyError(
        "invalid policy file", path=str(path), keys=sorted(problems), problems=problems
    )


def _problems(exc: ValidationError) -> dict[str, str]:
    """Dotted key -> what is wrong with it, without the value given (it may be a secret)."""
    problems: dict[str, str] = {}
    for error in exc.errors(include_input=False, include_url=False):
        # pydantic marks a failed dict key with a trailing "[key]" location entry.
        loc = [str(part) for part in error["loc"] if part != "[key]"]
        problems.setdefault(".".join(loc) or "<file>", error["msg"])
    return problems
