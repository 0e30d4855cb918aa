"""A known investigation, stored as the pipeline stores it: chained events written by the
sink's writer (Avro, keep-first views), sealed by the real sealer, and an alert naming
evidence. Every test of the investigation views reads this one shape."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from mcp_audit.embedded.broker import free_port
from readside.dashboard.app import build_app
from readside.session import ReadSide
from readside.tokens import Tokens
from schemas import registry
from schemas.ids import uuid7
from schemas.integrity import chain_hash
from sinks.migrate import apply_migrations
from sinks.ocf import container_file
from sinks.settings import SinkSettings
from sinks.tables import alerts_spec
from sinks.writer import AvroWriter
from tests.conftest import serving
from tests.readside.conftest import LIMITS
from tests.schemas.factories import alert, audit_event, enriched_event
from tests.sinks.helpers import ENCODE_ALERT, ENCODE_ENRICHED
from tests.sinks.test_digests import Sealed, _hour, _now

ALICE = "a1" * 32  # pseudonyms as the producers make them: 64 hex digits
MALLORY = "b2" * 32
STREAM = "stream-inv"
TRACE = "0af7651916cd43dd8448eb211c80319c"


@dataclass
class Investigation:
    client: Client
    keys: Path
    start: datetime
    events: list[dict[str, Any]] = field(default_factory=list)  # enriched records, in seq order
    alert_id: str = ""
    bare_alert_id: str = ""  # an alert naming no evidence

    def by(self, **match: Any) -> list[dict[str, Any]]:
        """The Avro events whose fields (top level, actor or target) equal ``match``."""
        out = []
        for record in self.events:
            event = record["event"]
            flat = {**event, **event["actor"], **event["target"]}
            if all(flat.get(k) == v for k, v in match.items()):
                out.append(event)
        return out


def _event(
    when: datetime, user: str, kind: str, phase: str, call: str, **target: Any
) -> dict[str, Any]:
    # Ids as the producers make them (a UUIDv7 of the event's time), but the heartbeat's:
    # the record is found by either (record.event_record looks in the id's time first).
    ns = int(when.timestamp()) * 10**9 + when.microsecond * 1000
    event_id = str(uuid.uuid4()) if kind == "HEARTBEAT" else uuid7(ns)
    event = audit_event(event_id=event_id, event_time=when, event_type=kind, phase=phase,
                        call_id=call)  # fmt: skip
    event["actor"].update(user_pseudonym=user, session_id=f"s-{user[:2]}", session_digest=None)
    event["target"].update(target)
    event["context"]["trace_id"] = TRACE if user == MALLORY else None
    if phase == "ATTEMPT" or kind != "TOOL_CALL":
        event["outcome"] = None
    return event


def build(client: Client, url: str, keys: Path) -> Investigation:
    """Alice's three calls (ATTEMPT and RESULT each), a heartbeat and her session start;
    Mallory's two failed high-risk deletions; one stream, chained; sealed; two alerts."""
    apply_migrations(client)
    start = _hour() - timedelta(hours=2)
    inv = Investigation(client, keys, start)
    plan: list[tuple[str, str, str, str, dict[str, Any], dict[str, Any]]] = [
        (ALICE, "SESSION_START", "EVENT", "", {}, {}),
    ]
    for i, tool in enumerate(["read_file", "read_file", "list_dir"]):
        call = f"call-alice-{i}"
        plan.append((ALICE, "TOOL_CALL", "ATTEMPT", call, {"tool_name": tool}, {}))
        plan.append((ALICE, "TOOL_CALL", "RESULT", call, {"tool_name": tool},
                     {"risk_score": 10, "risk_level": "LOW", "risk_reasons": []}))  # fmt: skip
    plan.append((ALICE, "HEARTBEAT", "EVENT", "", {}, {}))
    for i in range(2):
        call = f"call-mallory-{i}"
        plan.append((MALLORY, "TOOL_CALL", "ATTEMPT", call, {"tool_name": "delete_records"}, {}))
        plan.append((MALLORY, "TOOL_CALL", "RESULT", call, {"tool_name": "delete_records"},
                     {"risk_score": 95, "risk_level": "CRITICAL",
                      "risk_reasons": ["destructive tool", "classification:HIGH"]}))  # fmt: skip
    previous = ""
    for seq, (user, kind, phase, call, target, enrich) in enumerate(plan, 1):
        event = _event(start + timedelta(minutes=seq), user, kind, phase, call, **target)
        if phase == "RESULT":
            event["outcome"]["status"] = "ERROR" if user == MALLORY else "SUCCESS"
            event["payload"].update(args_json='{"path": "/etc/[REDACTED]"}',
                                    result_json='{"rows": 3}', redactions=1)  # fmt: skip
        event["integrity"].update(stream_id=STREAM, seq=seq, prev_hash=previous)
        event["integrity"]["hash"] = previous = chain_hash(previous, event)
        state = "ATTEMPT" if phase == "ATTEMPT" else "COMPLETE"
        inv.events.append(enriched_event(event=event, call_state=state,
                                         enriched_time=event["event_time"], **enrich))  # fmt: skip
    _write(client, url, "EnrichedEvent", [ENCODE_ENRICHED(r) for r in inv.events], None)
    evidence = [e["event_id"] for e in inv.by(user_pseudonym=MALLORY, phase="RESULT")]
    raised = start + timedelta(minutes=30)
    named = alert(alert_time=raised, window_start=start, window_end=raised, count=2,
                  detector="destructive_burst", summary="mallory deleted twice",
                  user_pseudonym=MALLORY, evidence_event_ids=evidence)  # fmt: skip
    bare = alert(alert_id=str(uuid.uuid4()), alert_time=raised, window_start=start,
                 window_end=raised, detector="rate_spike", summary="alice: many calls",
                 user_pseudonym=ALICE, evidence_event_ids=[])  # fmt: skip
    inv.alert_id, inv.bare_alert_id = named["alert_id"], bare["alert_id"]
    _write(client, url, "Alert", [ENCODE_ALERT(a) for a in (named, bare)], alerts_spec(365))
    Sealed(client, keys).sealer.cycle(now=_now())
    return inv


def _write(client: Client, url: str, record: str, encoded: list[bytes], spec: Any) -> None:
    from sinks.enriched import ENRICHED

    writer = AvroWriter(client, url, parse_threads=1)
    try:
        body = container_file(registry.current(record).fingerprint, encoded)
        writer.write(spec or ENRICHED, [body], token=str(uuid.uuid4()))
    finally:
        writer.close()


@contextmanager
def served(inv: Investigation, clickhouse_url: str, tokens: Tokens) -> Iterator[tuple[int, str]]:
    """The dashboard over ``inv``'s store on a free loopback port: (port, base URL)."""
    sink = SinkSettings.load(environ={}, clickhouse_url=clickhouse_url,
                             database=inv.client.database, signing_key_dir=inv.keys)  # fmt: skip
    side = ReadSide(inv.client, sink, LIMITS)
    port = free_port()
    try:
        with serving(build_app(side, tokens, port), port) as base:
            yield port, base
    finally:
        side.close()
