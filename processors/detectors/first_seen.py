"""First-seen tool, IP or client for a user who already has a history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from processors.detectors.base import NOTHING, Finding, Findings, short
from processors.features import Features
from processors.state import StateTokens

_SEVERITY = {"tool": "LOW", "ip": "MEDIUM", "client": "MEDIUM"}
TOKENS = 2  # state version: values kept as tokens


@dataclass(frozen=True)
class FirstSeen:
    """Remembers each user's tools, IPs and clients; a new one after warm-up is a finding.

    During the first ``warmup_events`` of a user everything is new, so nothing fires.
    Past ``max_known`` values of one kind the detector stops learning that kind
    and stays quiet for it (such a user has no useful "usual" set). The state
    holds keyed tokens of the values (an IP or a client id is personal data),
    never the values; a finding names the value, for the alert.
    """

    name: str = "first_seen"
    slot: str = "seen"
    warmup_events: int = 100
    max_known: int = 256
    token: Callable[[str], str] = field(default_factory=StateTokens.ephemeral)

    def observe(self, facts: Features, state: dict[str, Any]) -> Findings:
        if not state:
            state.update(n=0, tool={}, ip={}, client={}, v=TOKENS)
        elif state.get("v") != TOKENS:
            self._to_tokens(state)
        state["n"] += 1
        token = self.token
        tool = token(facts.tool) if facts.tool else None
        ip = token(facts.ip) if facts.ip else None
        client = token(facts.client) if facts.client else None
        # Nearly every event repeats values the user has: nothing to learn or report.
        if (
            (not tool or tool in state["tool"])
            and (not ip or ip in state["ip"])
            and (not client or client in state["client"])
        ):
            return NOTHING
        found = []
        for kind, key, value in (
            ("tool", tool, facts.tool), ("ip", ip, facts.ip), ("client", client, facts.client),
        ):  # fmt: skip
            known = state[kind]
            if not key or key in known or len(known) >= self.max_known:
                continue
            known[key] = 1
            if value and state["n"] > self.warmup_events:
                found.append(self._finding(kind, value, facts))
        return tuple(found)

    def _to_tokens(self, state: dict[str, Any]) -> None:
        """State written before tokens kept the values themselves: made tokens in place,
        so nothing the user already had looks new."""
        for kind in ("tool", "ip", "client"):
            state[kind] = {self.token(value): 1 for value in state.get(kind, {})}
        state["v"] = TOKENS

    def _finding(self, kind: str, value: str, facts: Features) -> Finding:
        return Finding(
            f"first_seen_{kind}",
            _SEVERITY[kind],
            1.0,
            f"user {short(facts.user)} used {kind} {value!r} for the first time",
            facts.user,
            {kind: value},
        )
