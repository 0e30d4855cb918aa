"""The compliance report over a real store: measured checks, scores, and a page that renders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from mcp_audit.cli import main
from mcp_audit.commands.report import secret_count
from readside.report.build import build
from readside.report.checks import producers_lossless
from schemas import registry
from schemas.integrity import chain_hash
from sinks.enriched import ENRICHED
from sinks.migrate import apply_migrations
from sinks.ocf import container_file
from sinks.writer import AvroWriter
from tests.readside.dashboard.store import create_tables, insert_event
from tests.schemas.factories import audit_event, enriched_event
from tests.sinks.helpers import ENCODE_ENRICHED

pytestmark = pytest.mark.clickhouse
LEAK = "card 4111 1111 1111 1111 in the arguments"


def _store_events(client: Client, url: str, leak: bool) -> None:
    apply_migrations(client)
    events, previous = [], ""
    now = datetime.now(UTC) - timedelta(hours=1)
    for seq in range(1, 21):
        event = audit_event(event_id=str(uuid.uuid4()), event_time=now + timedelta(seconds=seq))
        if leak and seq == 5:
            event["payload"]["args_json"] = f'{{"note": "{LEAK}"}}'
        event["integrity"].update(stream_id="stream-r", seq=seq, prev_hash=previous)
        event["integrity"]["hash"] = previous = chain_hash(previous, event)
        events.append(enriched_event(event=event, risk_level="HIGH" if seq % 4 == 0 else "LOW"))
    writer = AvroWriter(client, url, parse_threads=1)
    try:
        body = container_file(
            registry.current("EnrichedEvent").fingerprint, [ENCODE_ENRICHED(e) for e in events]
        )
        writer.write(ENRICHED, [body], token=f"report-{uuid.uuid4()}")
    finally:
        writer.close()


def test_a_clean_store_passes_every_measured_check(clickhouse: Client, clickhouse_url: str) -> None:
    _store_events(clickhouse, clickhouse_url, leak=False)
    report = build(clickhouse, datetime.now(UTC) - timedelta(days=1), secret_count)
    assert {k: c.passed for k, c in report.checks.items() if not c.passed} == {}
    assert set(report.scores.values()) == {100}
    assert report.totals["events"] == 20 and report.totals["high_risk"] == 5


def test_a_leaked_card_fails_the_secret_scan(clickhouse: Client, clickhouse_url: str) -> None:
    _store_events(clickhouse, clickhouse_url, leak=True)
    report = build(clickhouse, datetime.now(UTC) - timedelta(days=1), secret_count)
    scan = report.checks["no_secrets_stored"]
    assert not scan.passed and scan.detail.startswith("1 secrets found")
    assert report.scores["GDPR"] == 75 and report.scores["HIPAA"] == 100


@pytest.mark.slow
def test_report_command_writes_html_and_pdf_that_render(
    clickhouse: Client,
    clickhouse_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    browser: Any,
) -> None:
    _store_events(clickhouse, clickhouse_url, leak=True)
    monkeypatch.setenv("MCP_AUDIT_SINK_CLICKHOUSE_URL", clickhouse_url)
    monkeypatch.setenv("MCP_AUDIT_SINK_DATABASE", clickhouse.database or "")
    html, pdf = tmp_path / "report.html", tmp_path / "report.pdf"

    assert main(["report", "--since", "1d", "--out", str(html), "--pdf", str(pdf)]) == 0

    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000
    assert LEAK not in html.read_text()
    browser.get(html.as_uri())
    js = browser.execute_script
    scores = js(
        "return Object.fromEntries([...document.querySelectorAll('.framework')]"
        ".map(s => [s.dataset.framework, s.querySelector('.score').textContent]))"
    )
    assert scores == {"GDPR": "75%", "HIPAA": "100%", "PCI-DSS": "80%", "SOC 2": "100%"}
    advice = js("return document.getElementById('recommendations').textContent")
    assert "No unredacted secret" in advice
    assert js("return document.querySelectorAll('#trend rect').length") >= 2
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []


def test_the_reports_drop_check_reads_each_streams_latest_heartbeat(clickhouse: Client) -> None:
    # The same definition of "a stream's latest heartbeat" (sinks.tables.latest_heartbeat)
    # as the status line's, over all time: an old drop stays reported.
    create_tables(clickhouse)
    now = datetime.now(UTC)
    for stream, seq, dropped, age in (("a", 1, 9, 30), ("a", 2, 3, 10), ("b", 4, 2, 7200)):
        insert_event(
            clickhouse, now - timedelta(seconds=age), event_type="HEARTBEAT", phase="EVENT",
            user="", tool="", duration_ms=0, stream_id=stream, seq=seq,
            heartbeat={"events_dropped": dropped},
        )  # fmt: skip
    check = producers_lossless(clickhouse)
    assert not check.passed and "5 dropped events" in check.detail
