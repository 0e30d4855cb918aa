"""Short-lived producers (a CLI, a proxy session) replay the whole spool before they exit.

Two runs while the broker is unreachable spool their events; the next run
against the live broker must deliver all of them exactly once and leave the
spool empty, and a run after it must send nothing again.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import pytest

from mcp_audit.embedded.broker import free_port
from producers import runtime
from producers.decorator import audit_tool
from schemas.kafka import KafkaSettings
from tests.producers.conftest import consume, producer_settings

pytestmark = pytest.mark.broker
CALLS = 30


@audit_tool
def lookup(item: int) -> int:
    return item


def _run(kafka: KafkaSettings, tmp_path: Path) -> None:
    settings = producer_settings(tmp_path, delivery_timeout_ms=1500)
    runtime.configure(settings, kafka)
    try:
        for item in range(CALLS):
            assert lookup(item) == item
    finally:
        runtime.shutdown()


def _segments(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "spool").glob("slot-*/*.seg"))


def test_spooled_runs_are_replayed_once_by_the_next_run(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    dead = kafka_settings.model_copy(update={"bootstrap_servers": f"127.0.0.1:{free_port()}"})
    _run(dead, tmp_path)
    _run(dead, tmp_path)
    assert len(_segments(tmp_path)) == 2
    assert all(s.stat().st_mode & 0o077 == 0 for s in _segments(tmp_path))

    _run(kafka_settings, tmp_path)
    _run(kafka_settings, tmp_path)

    events = consume(kafka_settings, 4 * 2 * CALLS + 1, timeout_s=20)
    per_stream = collections.Counter(e["integrity"]["stream_id"] for e in events)
    copies = collections.Counter(e["event_id"] for e in events)
    assert sorted(per_stream.values()) == [2 * CALLS] * 4
    assert set(copies.values()) == {1}
    assert _segments(tmp_path) == []
    # Each run ended cleanly, the two offline ones too: their final beat was spooled
    # with the rest and comes last in its stream, so the watch sees them stop.
    everything = consume(kafka_settings, 1000, timeout_s=3, heartbeats=True)
    last: dict[str, dict[str, Any]] = {}
    for event in sorted(everything, key=lambda e: e["integrity"]["seq"]):
        last[event["integrity"]["stream_id"]] = event
    assert len(last) == 4
    assert all(e["event_type"] == "HEARTBEAT" and e["heartbeat"]["final"] for e in last.values())
