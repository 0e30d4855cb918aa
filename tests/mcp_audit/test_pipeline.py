"""mcp-audit up's pipeline end to end: raw events in, enriched rows stored, dashboard answers."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest
from confluent_kafka import Producer

from mcp_audit.embedded.broker import free_port
from mcp_audit.pipeline import Pipeline
from mcp_audit.settings import PlatformSettings
from readside.settings import ReadSettings
from schemas.integrity import chain_hash
from schemas.kafka import KafkaSettings
from schemas.wire import SingleObjectSerializer
from sinks.settings import SinkSettings
from tests.schemas.factories import audit_event

EVENTS = 300


def _stream(count: int) -> list[dict[str, Any]]:
    events, previous = [], ""
    for seq in range(1, count + 1):
        # now, not the factory's fixed date: the dashboard shows the last 24 hours
        event = audit_event(seq=seq, prev_hash=previous, event_time=datetime.now(UTC))
        event["event_id"] = str(uuid.uuid4())
        event["integrity"]["hash"] = previous = chain_hash(previous, event)
        events.append(event)
    return events


def _get(link: str, path: str) -> Any:
    """``path`` of the dashboard whose link (as ``up`` prints it) is ``link``."""
    base, _, token = link.partition("#token=")
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_the_processors_watch_the_sinks_actual_group(tmp_path: Path) -> None:
    platform = PlatformSettings.load(environ={}, data_dir=tmp_path)
    sink = SinkSettings.load(environ={}, consumer_group="audit-store-eu")
    pipeline = Pipeline(platform, KafkaSettings.load(environ={}), sink, ReadSettings.load({}))
    child = pipeline._processor_child(0)
    assert child.env["MCP_AUDIT_PROCESSORS_SINK_GROUP"] == "audit-store-eu"


@pytest.mark.broker
@pytest.mark.clickhouse
@pytest.mark.slow
def test_events_flow_through_to_the_store_and_dashboard(
    tmp_path: Path, clickhouse_url: str
) -> None:
    platform = PlatformSettings.load(
        environ={}, data_dir=tmp_path, broker_port=free_port(), dashboard_port=free_port()
    )
    sink = SinkSettings.load(environ={}, clickhouse_url=clickhouse_url, database="pipeline_test")
    read = ReadSettings.load(environ={}, port=free_port())
    with Pipeline(platform, KafkaSettings.load(environ={}), sink, read) as pipeline:
        producer = Producer(pipeline.kafka.client_config())
        encode = SingleObjectSerializer("AuditEvent")
        for event in _stream(EVENTS):
            producer.produce(pipeline.kafka.topic_raw, encode(event), key=b"user-a")
        assert producer.flush(10) == 0

        stored = 0
        deadline = time.monotonic() + 90
        while stored < EVENTS and time.monotonic() < deadline:
            time.sleep(1)
            stored = pipeline.run_query(
                lambda c: c.command("SELECT uniqExact(event_id) FROM audit_events")
            )
        assert stored == EVENTS
        assert pipeline.dashboard_url
        summary = _get(pipeline.dashboard_url, "api/page?hours=24")["summary"]
        assert summary["calls"] == EVENTS
        assert summary["tools"] == 1
        token = pipeline.dashboard_url.partition("#token=")[2]
        reader = clickhouse_connect.get_client(host="127.0.0.1", port=read.port, password=token)
        assert reader.query("SELECT uniqExact(event_id) FROM audit_events WHERE"
                            " event_type = 'TOOL_CALL'").result_rows == [(EVENTS,)]  # fmt: skip
    workers = [child.process for child in pipeline.supervisor.children]
    assert workers and all(w is not None and w.poll() is not None for w in workers)
