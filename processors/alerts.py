"""Turn findings into Alert records, folding repeats of one detector and subject.

The first finding of a (detector, subject) pair goes out at once, so security
hears within a second. Repeats within ``window_us`` only raise the open alert's
count; when the window closes, an alert that folded repeats goes out again
with the same ``alert_id`` and ``alert_time`` (when it was first raised), its
final count, evidence and ``window_end``: the store's table is keyed by both, so
it keeps one version, the latest. Lifecycle: one :class:`AlertFolder` per
worker; :meth:`close_expired` is called regularly with the current time.
"""

from __future__ import annotations

from typing import Any

from processors.detectors.base import Finding
from processors.features import Features
from schemas.alert_record import alert_record
from schemas.ids import uuid7
from schemas.models import ALERT_MAX_EVIDENCE

MAX_EVIDENCE = ALERT_MAX_EVIDENCE


class AlertFolder:
    def __init__(self, window_us: int) -> None:
        self.window_us = window_us
        self._open: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, finding: Finding, facts: Features | None, now_us: int) -> dict[str, Any] | None:
        """The alert to send now, or None when the finding folded into an open one."""
        key = (finding.detector, finding.subject)
        alert = self._open.get(key)
        if alert is not None and now_us - alert["window_start"] < self.window_us:
            alert["count"] += 1
            alert["window_end"] = now_us
            if facts is not None and len(alert["evidence_event_ids"]) < MAX_EVIDENCE:
                alert["evidence_event_ids"].append(facts.event_id)
            return None
        alert = new_alert(finding, facts, now_us)
        self._open[key] = alert
        return dict(alert, evidence_event_ids=list(alert["evidence_event_ids"]))

    def close_expired(self, now_us: int) -> list[dict[str, Any]]:
        """Alerts whose window ended: those that folded repeats are sent again, counted."""
        ended = [k for k, a in self._open.items() if now_us - a["window_start"] >= self.window_us]
        out = []
        for key in ended:
            alert = self._open.pop(key)
            if alert["count"] > 1:
                out.append(alert)
        return out


def new_alert(finding: Finding, facts: Features | None, now_us: int) -> dict[str, Any]:
    """An Alert record (schemas Alert) for one finding."""
    return alert_record(
        alert_id=uuid7(now_us * 1000),
        detector=finding.detector,
        severity=finding.severity,
        summary=finding.summary,
        time_us=now_us,
        user=facts.user or None if facts else None,
        server=facts.server if facts else None,
        tool=facts.tool if facts else None,
        tenant=facts.tenant if facts else None,
        evidence=[facts.event_id] if facts else (),
        attributes={**finding.attributes, "score": str(finding.score)},
    )
