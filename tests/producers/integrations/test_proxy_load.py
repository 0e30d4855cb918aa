"""Load: 50 concurrent MCP sessions call a real server through mcp-audit proxy for a fixed time.

Pass: no client error, every call audited (an ATTEMPT and a RESULT each), and
the proxy's added latency is reported against direct sessions to the same
server in the same run (printed; docs/reliability.md records a run).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from producers import runtime
from schemas.kafka import KafkaSettings
from tests.producers.conftest import consume, producer_settings

pytestmark = [pytest.mark.broker, pytest.mark.mcp, pytest.mark.slow]
SESSIONS = 50
SECONDS = 8.0


def _server() -> list[str]:
    path = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))
    assert path is not None, "mcp-server-time is a test dependency"
    return [path, "--local-timezone", "UTC"]


def _params(
    kafka: KafkaSettings, tmp_path: Path, proxied: bool, index: int
) -> StdioServerParameters:
    if not proxied:
        return StdioServerParameters(command=_server()[0], args=_server()[1:])
    env = {
        **os.environ,
        "MCP_AUDIT_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "MCP_AUDIT_KAFKA_TOPIC_RAW": kafka.topic_raw,
        "MCP_AUDIT_PRODUCER_SERVER_ID": "time-server",
        "MCP_AUDIT_PRODUCER_SPOOL_DIR": str(tmp_path / f"spool-{index}"),
        "MCP_AUDIT_PRODUCER_LINGER_MS": "1",
    }
    args = ["-m", "mcp_audit.cli", "proxy", "--", *_server()]
    return StdioServerParameters(command=sys.executable, args=args, env=env)


class _Clock:
    """Sessions report ready; timing starts when all are, so start-up is not measured."""

    def __init__(self) -> None:
        self.ready = 0
        self.go = asyncio.Event()
        self.stop_at = 0.0


async def _session(params: StdioServerParameters, clock: _Clock) -> list[float]:
    latencies = []
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        clock.ready += 1
        await clock.go.wait()
        while time.monotonic() < clock.stop_at:
            began = time.perf_counter()
            result = await session.call_tool("get_current_time", {"timezone": "Europe/Paris"})
            latencies.append(time.perf_counter() - began)
            assert not result.is_error
    return latencies


async def _phase(kafka: KafkaSettings, tmp_path: Path, proxied: bool) -> list[float]:
    clock = _Clock()
    sessions = [_session(_params(kafka, tmp_path, proxied, i), clock) for i in range(SESSIONS)]
    tasks = [asyncio.create_task(s) for s in sessions]
    deadline = time.monotonic() + 180
    while clock.ready < SESSIONS and time.monotonic() < deadline:
        assert not any(t.done() for t in tasks), "a session ended before the run"
        await asyncio.sleep(0.2)
    clock.stop_at = time.monotonic() + SECONDS
    clock.go.set()
    results = await asyncio.gather(*tasks)
    return [x for session in results for x in session]


def _replay_spools(kafka: KafkaSettings, tmp_path: Path) -> int:
    """A proxy killed at session end spools what the broker had not taken; the next
    producer on that spool replays it. Returns how many spools held events."""
    held = [d for d in tmp_path.glob("spool-*") if any(d.glob("slot-*/*.seg"))]
    for spool in held:
        runtime.configure(producer_settings(spool.parent, spool_dir=spool), kafka)
        runtime.shutdown()
    return len(held)


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def test_fifty_sessions_through_the_proxy(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    direct = await _phase(kafka_settings, tmp_path, proxied=False)
    proxied = await _phase(kafka_settings, tmp_path, proxied=True)
    spooled = _replay_spools(kafka_settings, tmp_path)

    events = consume(kafka_settings, 2 * len(proxied) + 2 * SESSIONS, timeout_s=60)
    calls = [e for e in events if e["event_type"] == "TOOL_CALL"]
    phases = {p: sum(1 for e in calls if e["phase"] == p) for p in ("ATTEMPT", "RESULT")}
    assert phases == {"ATTEMPT": len(proxied), "RESULT": len(proxied)}, (len(direct), phases)
    print(
        f"\n{SESSIONS} sessions x {SECONDS:.0f} s: direct {len(direct)} calls,"
        f" p50 {_ms(direct, 0.5):.1f} ms p99 {_ms(direct, 0.99):.1f} ms;"
        f" proxied {len(proxied)} calls, p50 {_ms(proxied, 0.5):.1f} ms"
        f" p99 {_ms(proxied, 0.99):.1f} ms; added p50"
        f" {_ms(proxied, 0.5) - _ms(direct, 0.5):.1f} ms,"
        f" mean ratio {statistics.mean(proxied) / statistics.mean(direct):.2f}x;"
        f" {spooled} session spools held events, replayed"
    )
