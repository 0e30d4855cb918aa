"""All per-event detectors together, over per-user and per-tool state mappings.

Lifecycle: one :class:`DetectorSuite` per worker. ``users`` maps a user
pseudonym to that user's JSON-able state (one sub-dict per detector); ``tools``
maps server+tool to the last definition fingerprint; ``token`` makes the keyed
tokens the detectors remember instead of values that name people. Plain dicts in tests, the
app's tables in a worker. :attr:`dirty_users` names users whose state changed
since the caller last cleared it, so only those are written back.

Heartbeats feed the per-stream audit-failure detector. A producer keys them by
its stream, so all of one stream's beats reach one worker; that state is kept in
memory (:attr:`streams`), kept past a final beat (a spool replayed later may hold
older beats of the stream) and bounded: past ``MAX_STREAMS`` the oldest goes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from processors.detectors.audit_failures import AuditFailures
from processors.detectors.base import Finding
from processors.detectors.bursts import FailureBurst
from processors.detectors.enumeration import Enumeration
from processors.detectors.first_seen import FirstSeen
from processors.detectors.hours import UnusualHour
from processors.detectors.rate import RateSpike
from processors.detectors.result_size import ResultSizeJump
from processors.detectors.tool_definition import ToolDefinitionChanged
from processors.features import Features
from processors.state import StateTokens

# Events that are a user's own activity; heartbeats and sessions are not.
ACTIVITY_TYPES = frozenset({"TOOL_CALL", "RESOURCE_READ", "PROMPT_GET", "AUTH_FAILURE"})
MAX_STREAMS = 100_000  # producer streams remembered; past it the oldest is forgotten


class DetectorSuite:
    def __init__(
        self,
        users: MutableMapping[str, dict[str, Any]],
        tools: MutableMapping[str, str],
        token: Callable[[str], str] | None = None,
    ) -> None:
        # The keyed tokens detectors keep instead of values (processors/state.py);
        # a random key when none is given, so state means something to this suite only.
        token = token or StateTokens.ephemeral()
        self.users = users
        self.tools = tools
        self.dirty_users: set[str] = set()
        self.rate = RateSpike()
        self.first_seen = FirstSeen(token=token)
        self.bursts = FailureBurst()
        self.hours = UnusualHour()
        self.enumeration = Enumeration(token=token)
        self.result_size = ResultSizeJump()
        self.tool_definition = ToolDefinitionChanged()
        self.audit_failures = AuditFailures()
        self.streams: dict[str, dict[str, Any]] = {}

    def observe(self, facts: Features, event: Mapping[str, Any] | None = None) -> list[Finding]:
        """Findings for one event; attempts only feed the tool-definition check. ``event``,
        the decoded event, is read only for a heartbeat's counters."""
        found: list[Finding] = []
        changed = self.tool_definition.observe(facts, self.tools)
        if changed is not None:
            found.append(changed)
        if facts.phase == "ATTEMPT":
            return found
        if not facts.user or facts.event_type not in ACTIVITY_TYPES:
            if facts.event_type == "HEARTBEAT" and event is not None:
                failed = self._heartbeat(facts, event)
                if failed is not None:
                    found.append(failed)
            return found
        user = facts.user
        state = self.users.get(user)
        if state is None:
            state = {"rate": {}, "seen": {}, "burst": {}, "hour": {}, "enum": {}, "size": {}}
        # Each detector called by name, not through a loop over (detector, slot)
        # pairs: this runs for every event and the loop's overhead was measurable.
        found += self.first_seen.observe(facts, state["seen"])
        for finding in (
            self.rate.observe(facts, state["rate"]),
            self.bursts.observe(facts, state["burst"]),
            self.hours.observe(facts, state["hour"]),
            self.enumeration.observe(facts, state["enum"]),
            self.result_size.observe(facts, state["size"]),
        ):
            if finding is not None:
                found.append(finding)
        self.users[user] = state
        self.dirty_users.add(user)
        return found

    def _heartbeat(self, facts: Features, event: Mapping[str, Any]) -> Finding | None:
        beat = event.get("heartbeat")
        if beat is None:
            return None
        stream = event["integrity"]["stream_id"]
        state = self.streams.get(stream)
        if state is None:
            if len(self.streams) >= MAX_STREAMS:
                del self.streams[next(iter(self.streams))]
            state = self.streams[stream] = {}
        host = event["context"]["producer"]["host"]
        count = beat.get("audit_failures") or 0
        return self.audit_failures.observe(facts, stream, host, count, state)
