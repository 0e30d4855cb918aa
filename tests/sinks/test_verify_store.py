"""Verification over the real store: events written by the sink verify clean; tampering is named."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
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
from tests.sinks.helpers import ENCODE_ENRICHED, point_cli_at

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


@pytest.fixture
def sealed_cli(
    stored: Stored, clickhouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[[list[str]], int]:
    """``mcp-audit`` on the stored stream, sealed first (closed periods unsealed would
    fail verify)."""
    from mcp_audit.cli import main

    point_cli_at(monkeypatch, clickhouse_url, stored[0].database, tmp_path / "keys")
    assert main(["digest", "--no-alerts"]) == 0
    return main


def test_verify_command_reports_and_fails_on_tampering(
    stored: Stored, sealed_cli: Callable[[list[str]], int], capsys: Any
) -> None:
    main, (client, events) = sealed_cli, stored
    assert main(["verify"]) == 0
    out = capsys.readouterr().out
    assert f"stream stream-v: {len(events)} events, ok" in out and " 0 problems" in out

    client.command("ALTER TABLE audit_events DELETE WHERE seq = 3", settings={"mutations_sync": 2})
    assert main(["verify", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "missing     seq 3" in out and "1 problems" in out


def test_verify_command_names_a_row_whose_enrichment_was_altered(
    stored: Stored, sealed_cli: Callable[[list[str]], int], capsys: Any
) -> None:
    # Risk is outside the chain: before row hashes, lowering it passed verify (issue 14).
    main, (client, events) = sealed_cli, stored
    assert main(["verify", "--quiet"]) == 0
    # Every event row plus the digest command's own access record, all hashed:
    assert f"{len(events) + 1} rows hashed, 0 altered" in capsys.readouterr().out

    victim = events[4]["event_id"]
    client.command(
        "ALTER TABLE audit_events UPDATE risk_score = 0, risk_level = 'LOW'"
        " WHERE event_id = toUUID({e:String})",
        parameters={"e": victim},
        settings={"mutations_sync": 2},
    )
    assert main(["verify", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert f"row: audit_events {victim}: values outside the personal ones changed" in out
    assert "stream stream-v" not in out  # the chain itself still verifies


def test_gaps_retention_made_are_expired_and_a_younger_gap_is_still_missing(
    clickhouse: Client, clickhouse_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A stream mixing a 30-day class with a 365-day class, 100 days old, then recent: once
    TTL has deleted the old 30-day rows, verify calls their sequence numbers expired, not
    missing, and still names a recent event deleted by hand."""
    from mcp_audit.cli import main

    apply_migrations(clickhouse)
    now = datetime.now(UTC)
    events, previous, retention = [], "", []
    for seq in range(1, 31):
        old = seq <= 20
        event = audit_event(
            event_id=str(uuid.uuid4()),
            event_time=now - timedelta(days=100 if old else 1) + timedelta(milliseconds=seq),
        )
        event["integrity"].update(stream_id="stream-r", seq=seq, prev_hash=previous)
        event["integrity"]["hash"] = previous = chain_hash(previous, event)
        events.append(event)
        retention.append(30 if old and seq % 2 else 365)
    writer = AvroWriter(clickhouse, clickhouse_url, parse_threads=1)
    try:
        bodies = [
            ENCODE_ENRICHED(enriched_event(event=e, retention_days=days))
            for e, days in zip(events, retention, strict=True)
        ]
        writer.write(ENRICHED, [container_file(FINGERPRINT, bodies)], token="verify-ttl")
    finally:
        writer.close()
    sync = {"mutations_sync": 2}
    clickhouse.command("ALTER TABLE audit_events MATERIALIZE TTL", settings=sync)
    clickhouse.command("ALTER TABLE audit_events DELETE WHERE seq = 25", settings=sync)
    assert clickhouse.query("SELECT count() FROM audit_events").result_rows == [(19,)]

    expired = {("expired", s) for s in range(1, 20, 2)}
    assert _findings(clickhouse) == expired | {("missing", 25)}
    monkeypatch.setenv("MCP_AUDIT_SINK_CLICKHOUSE_URL", clickhouse_url)
    monkeypatch.setenv("MCP_AUDIT_SINK_DATABASE", clickhouse.database or "")
    assert main(["verify", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "1 problems" in out and "missing     seq 25" in out
    assert "10 older sequence numbers absent, as retention deletes them" in out
