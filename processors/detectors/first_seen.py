"""First-seen tool, IP or client for a user who already has a history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processors.detectors.base import Finding, short
from processors.features import Features

_SEVERITY = {"tool": "LOW", "ip": "MEDIUM", "client": "MEDIUM"}


@dataclass(frozen=True)
class FirstSeen:
    """Remembers each user's tools, IPs and clients; a new one after warm-up is a finding.

    During the first ``warmup_events`` of a user everything is new, so nothing fires.
    Past ``max_known`` values of one kind the detector stops learning that kind
    and stays quiet for it (such a user has no useful "usual" set).
    """

    name: str = "first_seen"
    warmup_events: int = 100
    max_known: int = 256

    def observe(self, facts: Features, state: dict[str, Any]) -> list[Finding]:
        if not state:
            state.update(n=0, tool={}, ip={}, client={})
        state["n"] += 1
        tool, ip, client = facts.tool, facts.ip, facts.client
        # Nearly every event repeats values the user has: nothing to learn or report.
        if (
            (not tool or tool in state["tool"])
            and (not ip or ip in state["ip"])
            and (not client or client in state["client"])
        ):
            return []
        found = []
        for kind, value in (("tool", tool), ("ip", ip), ("client", client)):
            known = state[kind]
            if not value or value in known or len(known) >= self.max_known:
                continue
            known[value] = 1
            if state["n"] > self.warmup_events:
                found.append(self._finding(kind, value, facts))
        return found

    def _finding(self, kind: str, value: str, facts: Features) -> Finding:
        return Finding(
            f"first_seen_{kind}",
            _SEVERITY[kind],
            1.0,
            f"user {short(facts.user)} used {kind} {value!r} for the first time",
            facts.user,
            {kind: value},
        )
