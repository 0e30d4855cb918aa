"""mcp-audit up's platform: embedded defaults under one private data directory."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mcp_audit.embedded.broker import free_port
from mcp_audit.platform import Platform
from mcp_audit.settings import PlatformSettings
from schemas.kafka import KafkaSettings
from sinks.settings import SinkSettings

pytestmark = [pytest.mark.broker, pytest.mark.clickhouse]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_platform_starts_everything_private_and_stops(tmp_path: Path, clickhouse_url: str) -> None:
    data_dir = tmp_path / "data"
    platform = Platform(
        PlatformSettings.load(environ={}, data_dir=data_dir, broker_port=free_port()),
        KafkaSettings.load(environ={}),
        # chDB allows one directory per process: reuse the test session's.
        SinkSettings.load(environ={}, clickhouse_url=clickhouse_url, database="platform_test"),
    )
    with platform:
        assert platform.broker is not None
        assert platform.kafka.bootstrap_servers == platform.broker.bootstrap_servers
        assert platform.store is not None
        assert platform.store.command("SELECT 1") == 1
        pid = platform.broker.pid
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "broker.log") == 0o600
    assert platform.broker is None and pid is not None
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)


def test_a_named_cluster_skips_the_embedded_broker(tmp_path: Path, broker: object) -> None:
    kafka = KafkaSettings.load(environ={}, bootstrap_servers="kafka.invalid:9092")
    platform = Platform(PlatformSettings.load(environ={}, data_dir=tmp_path), kafka, SinkSettings())
    assert not platform.runs_embedded_broker
    assert platform.kafka.bootstrap_servers == "kafka.invalid:9092"
