"""mcp-audit up's pipeline end to end: raw events in, enriched rows stored, dashboard answers."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer

from mcp_audit.embedded.broker import free_port
from mcp_audit.pipeline import Pipeline
from mcp_audit.settings import PlatformSettings
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


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_the_processors_watch_the_sinks_actual_group(tmp_path: Path) -> None:
    platform = PlatformSettings.load(environ={}, data_dir=tmp_path)
    sink = SinkSettings.load(environ={}, consumer_group="audit-store-eu")
    pipeline = Pipeline(platform, KafkaSettings.load(environ={}), sink)
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
    with Pipeline(platform, KafkaSettings.load(environ={}), sink) as pipeline:
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
        summary = _get(f"{pipeline.dashboard_url}api/summary")
        assert summary["calls"] == EVENTS
        assert summary["tools"] == 1
    workers = [child.process for child in pipeline.supervisor.children]
    assert workers and all(w is not None and w.poll() is not None for w in workers)
