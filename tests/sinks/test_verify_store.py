"""Verification over the real store: events written by the sink verify clean; tampering is named."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from schemas import registry
from schemas.integrity import chain_hash
from sinks.enriched import ENRICHED
from sinks.migrate import apply_migrations
from sinks.ocf import container_file
from sinks.verify_store import verify_store
from sinks.writer import AvroWriter
from tests.schemas.factories import audit_event, enriched_event
from tests.sinks.helpers import ENCODE_ENRICHED

pytestmark = pytest.mark.clickhouse
FINGERPRINT = registry.current("EnrichedEvent").fingerprint
Stored = tuple[Client, list[dict[str, Any]]]


def _chain(count: int) -> list[dict[str, Any]]:
    """A stream as a producer writes it: attempts without outcome, results, a heartbeat."""
    events, previous = [], ""
    for seq in range(1, count + 1):
        event = audit_event(event_id=str(uuid.uuid4()))
        if seq % 2:
            event.update(phase="ATTEMPT", outcome=None)
        if seq == count:
            event.update(event_type="HEARTBEAT", phase="EVENT", outcome=None, call_id="")
        event["integrity"].update(stream_id="stream-v", seq=seq, prev_hash=previous)
        event["integrity"]["hash"] = previous = chain_hash(previous, event)
        events.append(event)
    return events


@pytest.fixture
def stored(
    clickhouse: Client, clickhouse_url: str
) -> Iterator[tuple[Client, list[dict[str, Any]]]]:
    apply_migrations(clickhouse)
    writer = AvroWriter(clickhouse, clickhouse_url, parse_threads=1)
    events = _chain(40)
    bodies = [ENCODE_ENRICHED(enriched_event(event=e)) for e in events]
    try:
        writer.write(ENRICHED, [container_file(FINGERPRINT, bodies)], token="verify-1")
        yield clickhouse, events
    finally:
        writer.close()


def _findings(client: Client) -> set[tuple[str, int]]:
    return {(f.kind, f.seq) for _, _, found in verify_store(client) for f in found}


def test_stored_stream_verifies_clean(stored: Stored) -> None:
    client, events = stored
    [(stream_id, checked, findings)] = list(verify_store(client))
    assert (stream_id, checked, findings) == ("stream-v", len(events), [])


def test_deleted_and_altered_rows_are_named(stored: Stored) -> None:
    client, _ = stored
    settings = {"mutations_sync": 2}
    client.command("ALTER TABLE audit_events DELETE WHERE seq = 7", settings=settings)
    client.command(
        "ALTER TABLE audit_events UPDATE status = 'DENIED' WHERE seq = 12", settings=settings
    )
    assert _findings(client) == {("missing", 7), ("altered", 12)}


def test_verify_command_reports_and_fails_on_tampering(
    stored: Stored, clickhouse_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from mcp_audit.cli import main

    client, events = stored
    monkeypatch.setenv("MCP_AUDIT_SINK_CLICKHOUSE_URL", clickhouse_url)
    monkeypatch.setenv("MCP_AUDIT_SINK_DATABASE", client.database or "")
    assert main(["verify"]) == 0
    assert f"1 streams, {len(events)} events, 0 problems" in capsys.readouterr().out

    client.command("ALTER TABLE audit_events DELETE WHERE seq = 3", settings={"mutations_sync": 2})
    assert main(["verify", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "missing     seq 3" in out and "1 problems" in out
