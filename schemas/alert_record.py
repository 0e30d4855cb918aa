"""An Alert record (schemas/avro, ``Alert``) as the dict its serializer takes.

Every part that raises alerts builds them here: the processors' detectors, and the
sink's own (a refused copy of a stored event, enriched records no key vouches for,
tree heads on the alert topic). What an alert about no one user or tool lacks is None.
A first version has count 1: ``verify`` reads a higher count as a later version of a
folded alert and names one with no earlier version forged.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any


def alert_record(
    *,
    detector: str,
    severity: str,
    summary: str,
    time_us: int,
    window: tuple[int, int] | None = None,
    alert_id: str | None = None,
    user: str | None = None,
    server: str | None = None,
    tool: str | None = None,
    tenant: str | None = None,
    evidence: Sequence[str] = (),
    attributes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The record; ``window`` defaults to the instant ``time_us``, ``alert_id`` to a
    random UUID."""
    start, end = window or (time_us, time_us)
    return {
        "alert_id": alert_id or str(uuid.uuid4()),
        "alert_time": time_us,
        "severity": severity,
        "detector": detector,
        "summary": summary,
        "user_pseudonym": user,
        "server_id": server,
        "tool_name": tool,
        "tenant_id": tenant,
        "count": 1,
        "window_start": start,
        "window_end": end,
        "evidence_event_ids": list(evidence),
        "attributes": attributes or {},
    }
