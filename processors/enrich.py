"""The enrichment of one event: call state, risk, compliance tags, anomalies, retention.

Pure: :func:`enrichment_fields` reads the event's features, the rules and what
the detectors found, and returns the EnrichedEvent fields after ``event``.
"""

from __future__ import annotations

from typing import Any

from processors.correlation import PendingAttempt
from processors.features import Features
from processors.rules import RiskRules

CALL_STATE_BY_PHASE = {"EVENT": "SINGLE", "ATTEMPT": "ATTEMPT", "RESULT": "COMPLETE"}
_NO_NAMES: tuple[str, ...] = ()


def enrichment_fields(
    event: dict[str, Any],
    facts: Features,
    rules: RiskRules,
    *,
    anomalies: list[dict[str, Any]],
    attempt: PendingAttempt | None,
    incomplete: bool,
    now_us: int,
    version: str,
) -> dict[str, Any]:
    """EnrichedEvent fields for ``event``; ``incomplete`` marks an expired attempt."""
    # Most events have no anomalies: skip building an empty list of their names.
    names = [a["detector"] for a in anomalies] if anomalies else _NO_NAMES
    risk = rules.assess(facts, names, incomplete)
    tags, retention = rules.compliance.tag(facts, event["compliance"]["retention_days"])
    attempt_id: str | None
    attempt_time: int | None
    if incomplete:
        state, attempt_id, attempt_time = "INCOMPLETE", facts.event_id, facts.time_us
    else:
        state = CALL_STATE_BY_PHASE[facts.phase]
        attempt_id = attempt.event_id if attempt else None
        attempt_time = attempt.time_us if attempt else None
    return {
        "call_state": state,
        "attempt_event_id": attempt_id,
        "attempt_time": attempt_time,
        "risk_score": risk.score,
        "risk_level": risk.level,
        "risk_reasons": risk.reasons,
        "compliance_tags": tags,
        "anomalies": anomalies,
        "retention_days": retention,
        "enriched_time": now_us,
        "processor_version": version,
    }
