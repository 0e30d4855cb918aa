"""The sink as people run it: waits for ClickHouse, runs as `mcp-audit sink`, stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from mcp_audit.embedded.broker import free_port
from schemas.kafka import KafkaSettings
from sinks.service import wait_for_store
from sinks.settings import SinkSettings
from tests.sinks.helpers import ENCODE_ENRICHED, varied_event
from tests.sinks.kafka_helpers import committed, produce, wait_until


def test_waits_for_an_unreachable_clickhouse_until_stopped() -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = SinkSettings.load(
        environ={}, clickhouse_url=closed, retry_initial_seconds=0.05, retry_max_seconds=0.1
    )
    stop = threading.Event()
    timer = threading.Timer(1.0, stop.set)
    timer.start()
    started = time.monotonic()

    assert wait_for_store(settings, stop) is None
    assert 0.9 < time.monotonic() - started < 10
    timer.cancel()


@pytest.mark.broker
@pytest.mark.slow
def test_sink_command_stores_commits_and_stops_on_sigterm(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    group = f"cmd-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "MCP_AUDIT_KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
        "MCP_AUDIT_KAFKA_TOPIC_ENRICHED": kafka_settings.topic_enriched,
        "MCP_AUDIT_KAFKA_TOPIC_ALERTS": kafka_settings.topic_alerts,
        "MCP_AUDIT_KAFKA_TOPIC_DEAD_LETTER": kafka_settings.topic_dead_letter,
        # Another process, so its own chDB directory is allowed.
        "MCP_AUDIT_SINK_CLICKHOUSE_URL": f"chdb://{tmp_path / 'store'}",
        "MCP_AUDIT_SINK_CONSUMER_GROUP": group,
        "MCP_AUDIT_SINK_SESSION_TIMEOUT_MS": "6000",
        "MCP_AUDIT_SINK_BATCH_SECONDS": "0.2",
    }
    produce(
        kafka_settings,
        kafka_settings.topic_enriched,
        [ENCODE_ENRICHED(varied_event(i)) for i in range(300)],
    )
    log = (tmp_path / "sink.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "mcp_audit.cli", "sink"], env=env, stdout=log, stderr=log
    )
    try:
        topic = kafka_settings.topic_enriched
        stored = wait_until(
            lambda: sum(max(0, o) for o in committed(kafka_settings, group, topic).values()) == 300,
            60,
        )
        assert stored
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()
