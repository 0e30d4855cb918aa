"""Broker faults in the middle of a 100,000-event stream, checked where it counts: the store.

A real producer in this process (``@audit_tool``, 50,000 calls of an ATTEMPT and
a RESULT each) calls through ``mcp-audit up``'s pipeline: the embedded broker, a
supervised processor worker, the sink and chDB. Midway the broker is frozen past
the producer's delivery timeout, or killed; nothing else is told. Every call
must return at once throughout, and the store must end up holding each event id
exactly once, also before merges (``FINAL``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mcp_audit.embedded.broker import EmbeddedBroker, free_port
from mcp_audit.pipeline import Pipeline
from mcp_audit.settings import PlatformSettings
from producers import runtime
from producers.auditor import Auditor
from producers.decorator import audit_tool
from producers.event.model import CallEvent
from readside.settings import ReadSettings
from schemas.kafka import KafkaSettings
from sinks.settings import SinkSettings
from tests.producers.conftest import producer_settings
from tests.sinks.kafka_helpers import wait_until

pytestmark = [pytest.mark.broker, pytest.mark.clickhouse, pytest.mark.slow]

CALLS = 50_000  # the 100,000 events
CALLS_PER_S = 2_500  # paced, so that calls keep coming all through the fault
PAUSE_S = 8.0  # well past the producer's 3 s delivery timeout (producer_settings)
STORE_WAIT_S = 150.0
SLOW_CALL_S = 2.0  # far below the pause: a call that waited for the broker shows

TOOL_CALLS = "FROM audit_events WHERE event_type = 'TOOL_CALL'"
STORED = f"SELECT uniqExact(event_id) {TOOL_CALLS}"
STORED_IDS = f"SELECT toString(event_id) {TOOL_CALLS}"
ROWS = f"SELECT count() {TOOL_CALLS}"
ROWS_FINAL = "SELECT count() FROM audit_events FINAL WHERE event_type = 'TOOL_CALL'"
HEARTBEATS = "SELECT count() FROM audit_events WHERE event_type = 'HEARTBEAT'"


def echo(n: int) -> int:
    return n


@dataclass
class Recorded:
    auditor: Auditor
    sent: list[str] = field(default_factory=list)  # tool-call event ids, in the order sent


@pytest.fixture
def pipeline(tmp_path: Path, clickhouse_url: str) -> Iterator[Pipeline]:
    platform = PlatformSettings.load(
        environ={}, data_dir=tmp_path / "up", broker_port=free_port(), dashboard_port=0
    )
    sink = SinkSettings.load(
        environ={}, clickhouse_url=clickhouse_url, database=f"faults_{uuid.uuid4().hex[:12]}"
    )
    read = ReadSettings.load(environ={}, port=0)
    running = Pipeline(platform, KafkaSettings.load(environ={}), sink, read)
    try:  # stop() also when start() fails half-way: no broker or worker left behind
        yield running.start()
    finally:
        running.stop()


@pytest.fixture
def producer(
    pipeline: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Recorded]:
    """The process-wide Auditor on the pipeline's broker, recording what it sends."""
    auditor = runtime.configure(producer_settings(tmp_path), pipeline.kafka)
    assert auditor is not None
    recorded = Recorded(auditor)
    emit = auditor.emit

    def recording(event: CallEvent) -> None:
        emit(event)
        if event.event_type == "TOOL_CALL":
            recorded.sent.append(event.event_id)

    monkeypatch.setattr(auditor, "emit", recording)
    try:
        # Its first heartbeat, stored: the whole pipeline is up, end to end.
        assert wait_until(lambda: _count(pipeline, HEARTBEATS) > 0, 90)
        yield recorded
    finally:
        runtime.shutdown()


def _count(pipeline: Pipeline, sql: str) -> int:
    return int(pipeline.run_query(lambda client: client.command(sql)))


def _stored_ids(pipeline: Pipeline) -> set[str]:
    rows = pipeline.run_query(lambda client: client.query(STORED_IDS).result_rows)
    return {row[0] for row in rows}


def _broker(pipeline: Pipeline) -> EmbeddedBroker:
    assert pipeline.platform.broker is not None
    return pipeline.platform.broker


def _call_paced(fault: Callable[[int], None]) -> float:
    """``fault(i)`` then the i-th call, CALLS of them at CALLS_PER_S; each must return its
    value. Returns the slowest call's seconds."""
    tool, slowest, started = audit_tool(echo), 0.0, time.monotonic()
    for i in range(CALLS):
        fault(i)
        before = time.perf_counter()
        assert tool(i) == i
        slowest = max(slowest, time.perf_counter() - before)
        ahead = started + i / CALLS_PER_S - time.monotonic()
        if ahead > 0.002:  # sleep only when ahead of time, never to catch up
            time.sleep(ahead)
    return slowest


def _each_stored_once(pipeline: Pipeline, expected: int) -> None:
    """As many rows as event ids, right now and before merges."""
    assert _count(pipeline, STORED) == _count(pipeline, ROWS_FINAL) == expected


@dataclass
class Freeze:
    """Freezes the broker before the middle call, thaws it PAUSE_S later."""

    broker: EmbeddedBroker
    paused_at: float = 0.0
    resumed_at: float = 0.0
    calls_while_frozen: int = 0

    def __call__(self, i: int) -> None:
        if i == CALLS // 2:
            self.broker.pause()
            self.paused_at = time.monotonic()
        if self.paused_at and not self.resumed_at:
            if time.monotonic() - self.paused_at < PAUSE_S:
                self.calls_while_frozen += 1
            else:
                self.thaw()

    def thaw(self) -> None:
        if self.paused_at and not self.resumed_at:
            self.broker.resume()
            self.resumed_at = time.monotonic()


def test_broker_frozen_mid_stream_every_event_stored_once(
    pipeline: Pipeline, producer: Recorded
) -> None:
    freeze, started = Freeze(_broker(pipeline)), time.monotonic()
    try:
        slowest = _call_paced(freeze)
    finally:
        freeze.thaw()
    sent_s, spooled = time.monotonic() - started, producer.auditor.counters.spooled

    everything = wait_until(lambda: _count(pipeline, STORED) == 2 * CALLS, STORE_WAIT_S)
    recovered_s = time.monotonic() - freeze.resumed_at
    assert everything, (_count(pipeline, STORED), producer.auditor.counters.spooled)
    assert freeze.calls_while_frozen > 0 and spooled > 0  # the fault hit mid-stream
    assert slowest < SLOW_CALL_S
    assert len(set(producer.sent)) == 2 * CALLS
    assert _stored_ids(pipeline) == set(producer.sent)
    _each_stored_once(pipeline, 2 * CALLS)
    print(
        f"\nfrozen: {2 * CALLS} events sent in {sent_s:.1f} s; broker frozen"
        f" {freeze.resumed_at - freeze.paused_at:.1f} s during {freeze.calls_while_frozen}"
        f" calls; {spooled} events spooled; every id stored {recovered_s:.1f} s after the"
        f" thaw; {_count(pipeline, ROWS)} rows before merges; slowest call"
        f" {slowest * 1000:.0f} ms"
    )


@dataclass
class Crash:
    """Kills the broker before the middle call; notes what was sent and stored by then."""

    pipeline: Pipeline
    producer: Recorded
    killed_at: float = 0.0
    sent: int = 0  # tool-call events sent before the kill
    seq: int = 0  # the producer stream's position at the kill
    stored: set[str] = field(default_factory=set)

    def __call__(self, i: int) -> None:
        if i != CALLS // 2:
            return
        _broker(self.pipeline).kill()
        self.killed_at = time.monotonic()
        self.sent, self.seq = len(self.producer.sent), self.producer.auditor.sealer.seq
        self.stored = _stored_ids(self.pipeline)


def test_broker_killed_mid_stream_every_later_event_stored_once(
    pipeline: Pipeline, producer: Recorded
) -> None:
    broker, crash = _broker(pipeline), Crash(pipeline, producer)
    first_pid = broker.pid
    slowest = _call_paced(crash)
    later = set(producer.sent[crash.sent :])
    stored_later = f"{STORED} AND seq > {crash.seq}"

    everything = wait_until(lambda: _count(pipeline, stored_later) == len(later), STORE_WAIT_S)
    recovered_s = time.monotonic() - crash.killed_at
    assert everything, (_count(pipeline, stored_later), len(later))
    assert broker.running and broker.pid != first_pid  # `up` started a new one
    assert slowest < SLOW_CALL_S
    stored = _stored_ids(pipeline)
    # The new broker started empty: what the dead one held but the sink had not stored
    # is gone. Everything else is promised: what was stored, and every later event.
    assert crash.stored <= stored and later <= stored <= set(producer.sent)
    _each_stored_once(pipeline, len(stored))
    lost = len(set(producer.sent[: crash.sent]) - stored)
    print(
        f"\nkilled: {2 * CALLS} events, {crash.sent} sent before the kill, of them"
        f" {len(crash.stored)} stored by then and {lost} lost with the broker; all"
        f" {len(later)} later events stored {recovered_s:.1f} s after the kill;"
        f" {producer.auditor.counters.spooled} events spooled; slowest call"
        f" {slowest * 1000:.0f} ms"
    )
