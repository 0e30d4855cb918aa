"""mcp-audit up --demo: real MCP servers and an SDK client produce audited traffic and alerts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from mcp_audit.embedded.broker import free_port
from mcp_audit.pipeline import Pipeline
from mcp_audit.settings import PlatformSettings
from readside.settings import ReadSettings
from schemas.kafka import KafkaSettings
from sinks.settings import SinkSettings

pytestmark = [pytest.mark.broker, pytest.mark.clickhouse, pytest.mark.mcp, pytest.mark.slow]
SEEN = """
SELECT (SELECT groupUniqArray(detector) FROM audit_alerts),
       (SELECT uniqExact(user_id) FROM audit_events WHERE user_id != ''),
       (SELECT groupUniqArray(tool_name) FROM audit_events WHERE tool_name != '')
"""
# The demo's producers sign with its origin key and its processors check it: every
# producer event stored is vouched for (access records are written by the read side).
UNSIGNED = """
SELECT count() FROM audit_events
WHERE stream_id != 'mcp-audit.access' AND origin_key_id != 'demo'
"""


def test_demo_traffic_is_audited_and_raises_alerts(tmp_path: Path, clickhouse_url: str) -> None:
    platform = PlatformSettings.load(
        environ={}, data_dir=tmp_path, broker_port=free_port(), dashboard_port=0
    )
    sink = SinkSettings.load(environ={}, clickhouse_url=clickhouse_url, database="demo_test")
    read = ReadSettings.load(environ={}, port=0)
    with Pipeline(platform, KafkaSettings.load(environ={}), sink, read, demo=True) as pipeline:
        detectors: list[str] = []
        users, tools = 0, []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            [(detectors, users, tools)] = pipeline.run_query(lambda c: c.query(SEEN).result_rows)
            if {"enumeration", "error_burst"} <= set(detectors) and "git_status" in tools:
                break
            time.sleep(2)
        [(unsigned,)] = pipeline.run_query(lambda c: c.query(UNSIGNED).result_rows)
        children = list(pipeline.supervisor.children)
    assert {"enumeration", "error_burst"} <= set(detectors)
    assert unsigned == 0
    assert users == 4  # alice, bob, carol, mallory: pseudonyms, not names
    assert {"charge_card", "delete_records", "get_current_time", "git_status"} <= set(tools)
    assert all(c.process is not None and c.process.poll() is not None for c in children)
