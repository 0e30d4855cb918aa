"""A tool whose definition fingerprint changed on a server: a possible rug pull."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass

from processors.detectors.base import NOTHING, Finding, Findings
from processors.features import Features


@dataclass(frozen=True)
class ToolDefinitionChanged:
    """Always fires on a change, with the old and new fingerprints; never learns silently."""

    name: str = "tool_definition_changed"

    def observe(self, facts: Features, known: MutableMapping[str, str]) -> Findings:
        if not facts.tool or not facts.fingerprint:
            return NOTHING
        key = f"{facts.server}\x1f{facts.tool}"
        old = known.get(key)
        if old == facts.fingerprint:
            return NOTHING
        known[key] = facts.fingerprint
        if old is None:
            return NOTHING
        return (
            Finding(
                self.name,
                "CRITICAL",
                1.0,
                f"tool {facts.tool!r} on server {facts.server!r} changed its definition "
                f"({old[:12]} -> {facts.fingerprint[:12]})",
                f"{facts.server}/{facts.tool}",
                {"old_fingerprint": old, "new_fingerprint": facts.fingerprint},
            ),
        )
