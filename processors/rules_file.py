"""Read the rules file (TOML) into :class:`RiskRules`, refusing what does not make sense."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

from processors.compliance import compliance_rules
from processors.errors import RulesError
from processors.rules import RiskRules, ToolClass


def load_rules(path: Path | None = None) -> RiskRules:
    """Rules from ``path``, or the shipped defaults; raises :class:`RulesError` when invalid."""
    try:
        text = path.read_text() if path else default_rules_text()
        raw = tomllib.loads(text)
        return _build(raw)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise RulesError("cannot load risk rules", path=str(path or "<defaults>")) from exc


def default_rules_text() -> str:
    return files("processors").joinpath("default_rules.toml").read_text()


def _build(raw: dict[str, Any]) -> RiskRules:
    levels = raw["levels"]
    thresholds = (int(levels["medium"]), int(levels["high"]), int(levels["critical"]))
    if not 0 < thresholds[0] <= thresholds[1] <= thresholds[2] <= 100:
        raise ValueError("levels must rise within 1..100")
    tools = tuple(
        ToolClass(tuple(p.lower() for p in t["match"]), str(t["class"]), int(t["points"]))
        for t in raw.get("tools", [])
    )
    scopes = raw.get("scopes", {})
    size = raw.get("result_size", {})
    return RiskRules(
        levels=thresholds,
        classification=_points(raw.get("classification", {})),
        tools=tools,
        annotations=_points(raw.get("annotations", {})),
        outcome=_points(raw.get("outcome", {})),
        event_types=_points(raw.get("event_types", {})),
        privileged_scopes=tuple(scopes.get("privileged", [])),
        scope_points=int(scopes.get("points", 0)),
        anomalies=_points(raw.get("anomalies", {})),
        large_result_bytes=int(size.get("large_bytes", 2**62)),
        large_result_points=int(size.get("points", 0)),
        compliance=compliance_rules(raw.get("compliance", {})),
    )


def _points(section: dict[str, Any]) -> dict[str, int]:
    return {str(key): int(value) for key, value in section.items()}
