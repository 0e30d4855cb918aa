"""Audit failures a producer reports: calls audited only minimally, or not at all.

A producer counts every failure inside auditing in ``audit_failures`` and sends
the running count in each heartbeat. A failure is a call whose full event could
not be made (a minimal one with an ``audit_failure`` attribute was written
instead) or, worse, one that could not be written at all, so the count is the one
trace of it that reaches the pipeline; any increase is worth an alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processors.detectors.base import NOTHING, Finding, Findings
from processors.features import Features


@dataclass(frozen=True)
class AuditFailures:
    """Fires when a stream's heartbeat counts more failures than the most seen for it.

    Keyed by producer stream: a stream is one producer process, whose count only
    grows. Comparing with the most seen, not the last, keeps a spooled beat replayed
    after newer ones quiet. A stream first seen with failures (a new worker, or a
    restarted one) fires for all of them, as the self-watch does for spooling.
    """

    name: str = "producer_audit_failures"

    def observe(
        self, facts: Features, stream: str, host: str, count: int, state: dict[str, Any]
    ) -> Findings:
        """``count``: the heartbeat's ``audit_failures``; ``state``: this stream's own."""
        before = state.get("n", 0)
        if count <= before:
            return NOTHING
        state["n"] = count
        return (
            Finding(
                self.name,
                "HIGH",
                float(count - before),
                f"producer {host} of server {facts.server!r} (stream {stream}) reports "
                f"{count - before} more audit failures ({count} in all): calls audited only "
                "minimally or not at all",
                stream,
                {
                    "stream_id": stream,
                    "host": host,
                    "total": str(count),
                    "new": str(count - before),
                },
            ),
        )
