"""Sealed periods in the real store: clean seals check out; truncating the newest events shows."""

from __future__ import annotations

import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from mcp_audit.cli import main
from schemas import registry
from schemas.integrity import chain_hash
from sinks.digests import check_digests, load_or_create_key, seal_closed_periods
from sinks.enriched import ENRICHED
from sinks.migrate import apply_migrations
from sinks.ocf import container_file
from sinks.writer import AvroWriter
from tests.schemas.factories import audit_event, enriched_event
from tests.sinks.helpers import ENCODE_ENRICHED

pytestmark = pytest.mark.clickhouse
HOUR = 3600


def _store_three_hours(client: Client, url: str, days_ago: int = 0) -> None:
    """Thirty events over three closed hours, ``days_ago``; with ``days_ago``, one more event
    (another stream) of a 30-day class, so the store has used a 30-day period."""
    apply_migrations(client)
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)
    start -= timedelta(days=days_ago)
    events, previous = [], ""
    for seq in range(1, 31):  # ten events in each of three hours
        when = start + timedelta(minutes=6 * seq - 3)
        event = audit_event(event_id=str(uuid.uuid4()), event_time=when)
        event["integrity"].update(stream_id="stream-d", seq=seq, prev_hash=previous)
        event["integrity"]["hash"] = previous = chain_hash(previous, event)
        events.append(enriched_event(event=event, retention_days=365))
    if days_ago:
        short = audit_event(event_id=str(uuid.uuid4()))
        short["integrity"].update(stream_id="stream-short", seq=1, prev_hash="")
        short["integrity"]["hash"] = chain_hash("", short)
        events.append(enriched_event(event=short, retention_days=30))
    writer = AvroWriter(client, url, parse_threads=1)
    try:
        fingerprint = registry.current("EnrichedEvent").fingerprint
        body = container_file(fingerprint, [ENCODE_ENRICHED(e) for e in events])
        writer.write(ENRICHED, [body], token=f"digest-{uuid.uuid4()}")
    finally:
        writer.close()


def test_sealed_periods_check_and_truncation_is_caught(
    clickhouse: Client, clickhouse_url: str, tmp_path: Path
) -> None:
    _store_three_hours(clickhouse, clickhouse_url)
    key = load_or_create_key(tmp_path / "digest-key.pem")
    assert stat.S_IMODE((tmp_path / "digest-key.pem").stat().st_mode) == 0o600
    public = key.public_key()

    assert seal_closed_periods(clickhouse, key, HOUR) == 3
    assert seal_closed_periods(clickhouse, key, HOUR) == 0  # sealed once
    assert check_digests(clickhouse, public, HOUR) == []

    # The newest events deleted: the chain alone cannot see it, the last digest does.
    clickhouse.command(
        "ALTER TABLE audit_events DELETE WHERE seq >= 28", settings={"mutations_sync": 2}
    )
    problems = check_digests(clickhouse, public, HOUR)
    assert any("10 events sealed, 7 stored" in p for p in problems), problems


def test_periods_retention_thinned_are_not_reported(
    clickhouse: Client, clickhouse_url: str, tmp_path: Path
) -> None:
    _store_three_hours(clickhouse, clickhouse_url, days_ago=100)
    key = load_or_create_key(tmp_path / "digest-key.pem")
    assert seal_closed_periods(clickhouse, key, HOUR) == 4  # stream-short's hour too
    # What 30-day events among these would have become by now: gone. (ClickHouse drops
    # rows already expired on insert, so the sealed events are deleted by hand instead.)
    clickhouse.command(
        "ALTER TABLE audit_events DELETE WHERE stream_id = 'stream-d' AND seq % 2 = 1",
        settings={"mutations_sync": 2},
    )
    assert check_digests(clickhouse, key.public_key(), HOUR) == []
    # A recent period short of events is still a problem.
    clickhouse.command(
        "ALTER TABLE audit_events DELETE WHERE stream_id = 'stream-short'",
        settings={"mutations_sync": 2},
    )
    problems = check_digests(clickhouse, key.public_key(), HOUR)
    assert problems and all("stream-short" in p for p in problems), problems


def test_verify_command_checks_digests(
    clickhouse: Client,
    clickhouse_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    _store_three_hours(clickhouse, clickhouse_url)
    monkeypatch.setenv("MCP_AUDIT_SINK_CLICKHOUSE_URL", clickhouse_url)
    monkeypatch.setenv("MCP_AUDIT_SINK_DATABASE", clickhouse.database or "")
    monkeypatch.setenv("MCP_AUDIT_SINK_DIGEST_KEY_FILE", str(tmp_path / "k.pem"))
    assert main(["digest"]) == 0
    assert main(["verify", "--quiet"]) == 0
    assert "3 signed digests, 0 problems" in capsys.readouterr().out

    clickhouse.command(
        "ALTER TABLE audit_digests UPDATE event_count = 9 WHERE 1", settings={"mutations_sync": 2}
    )
    assert main(["verify", "--quiet"]) == 1
    assert "digest content was altered" in capsys.readouterr().out
