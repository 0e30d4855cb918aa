"""Never lose an event: a frozen broker sends events to the spool, and they come back in order."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from mcp_audit.embedded.broker import EmbeddedBroker
from producers import runtime
from producers.auditor import Auditor
from producers.decorator import audit_tool
from producers.errors import AuditRefused
from producers.privacy.policy import Policy
from producers.settings import ProducerSettings
from producers.transport.counters import Counters
from producers.transport.publisher import _SERVE_EVERY, Publisher
from producers.transport.spool import Spool
from schemas.kafka import KafkaSettings
from tests.producers.conftest import OwnBroker, consume, producer_settings

pytestmark = pytest.mark.broker


def echo(n: int) -> int:
    return n


def _wait(predicate: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_paused_broker_spools_then_replays_every_event(
    auditor: Auditor, kafka_settings: KafkaSettings, broker: EmbeddedBroker
) -> None:
    tool = audit_tool(echo)
    for i in range(50):
        tool(i)
    assert auditor.publisher.flush(10) == 0
    broker.pause()
    try:
        for i in range(50, 150):
            assert tool(i) == i  # the call path never waits for the frozen broker
        spooled = _wait(lambda: auditor.counters.spooled >= 100, 20)
        assert spooled, (auditor.counters.spooled, auditor.counters.sent, auditor.counters.dropped)
        assert not auditor.publisher.healthy
    finally:
        broker.resume()
    assert _wait(lambda: auditor.counters.spool_bytes == 0 and auditor.publisher.flush(1) == 0, 30)
    events = consume(kafka_settings, 301, heartbeats=True)  # one heartbeat at start
    calls = {(e["call_id"], e["phase"]) for e in events if e["event_type"] == "TOOL_CALL"}
    assert len(calls) == 300  # every call's ATTEMPT and RESULT; duplicates are allowed
    assert {e["integrity"]["seq"] for e in events} == set(range(1, 302))


def _tool_calls(kafka: KafkaSettings, count: int) -> set[tuple[str, str]]:
    # Returns as soon as ``count`` arrived; the long bound is for a loaded CI machine.
    events = consume(kafka, count, timeout_s=60)  # heartbeats left out
    return {(e["call_id"], e["phase"]) for e in events if e["event_type"] == "TOOL_CALL"}


def _frozen(pid: int) -> bool:
    """The kernel's word that the process is stopped (state T), not only signalled."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] in "Tt"


_BEFORE_FREEZE = 3  # the start heartbeat and call 0's ATTEMPT and RESULT


def _calls_in_flight(settings: ProducerSettings, own_broker: OwnBroker) -> Auditor:
    """An Auditor whose calls 1-50 librdkafka has sent to the broker, now frozen."""
    auditor = runtime.configure(settings, own_broker.kafka)
    assert auditor is not None
    tool = audit_tool(echo)
    assert tool(0) == 0 and auditor.publisher.flush(10) == 0
    assert auditor.counters.sent == _BEFORE_FREEZE
    frozen = own_broker.started[-1]
    frozen.pause()
    assert frozen.pid is not None and _wait(lambda: _frozen(frozen.pid), 5)
    for i in range(1, 51):
        assert tool(i) == i
    time.sleep(0.3)  # linger is 1 ms: by now the requests are on the wire, unanswered
    return auditor


def _spooled_bytes(settings: ProducerSettings) -> int:
    return sum(p.stat().st_size for p in settings.spool_dir.glob("slot-*/*.seg"))


def _frozen_broker_dies(own_broker: OwnBroker) -> None:
    """It never answers those requests: only the spool can still bring them back.

    Callers first wait until the old producer has reported every event it held: a
    request still open when the fresh broker starts would be retried to it before its
    topics exist, and what an empty Tansu acknowledges then no reader of the topics sees
    (a harness artefact: a real cluster keeps its topics across a broker restart)."""
    own_broker.started[-1].kill()
    own_broker.start()


def _handed_back(counters: Counters) -> bool:
    """Calls 1-50 are each spooled or acknowledged: the old producer holds none."""
    return counters.spooled + counters.sent - _BEFORE_FREEZE >= 100


def test_a_replaced_producer_hands_back_the_events_it_had_in_flight(
    tmp_path: Path, own_broker: OwnBroker, caplog: pytest.LogCaptureFixture
) -> None:
    auditor = _calls_in_flight(producer_settings(tmp_path), own_broker)
    auditor.publisher._fatal = True  # what a fenced or fatally failed producer reports
    assert _wait(lambda: "replacing it" in caplog.text, 5)
    c = auditor.counters
    assert _wait(lambda: _handed_back(c), 20), (c.sent, c.spooled, c.dropped)
    acked = c.sent - _BEFORE_FREEZE  # died with the old broker: not the producer's to resend
    _frozen_broker_dies(own_broker)
    assert _wait(lambda: auditor.counters.spool_bytes == 0, 20)
    assert auditor.publisher.flush(10) == 0
    found = len(_tool_calls(own_broker.kafka, 100 - acked))
    assert found == 100 - acked, (acked, c.sent, c.spooled, c.dropped, c.audit_failures)


def test_events_in_flight_at_exit_are_spooled(tmp_path: Path, own_broker: OwnBroker) -> None:
    settings = producer_settings(tmp_path)
    first = _calls_in_flight(settings, own_broker)
    runtime.shutdown(timeout_s=0.5)  # no answer in time: purged, to the spool
    c1 = first.counters
    assert _handed_back(c1), (c1.sent, c1.spooled, c1.dropped)
    acked = c1.sent - _BEFORE_FREEZE  # died with the old broker: not the producer's to resend
    _frozen_broker_dies(own_broker)
    assert _spooled_bytes(settings) > 0
    second = runtime.configure(settings, own_broker.kafka)
    assert second is not None
    # On disk, not the new auditor's counter: that reads 0 until its I/O thread first looks.
    assert _wait(lambda: _spooled_bytes(settings) == 0, 60)
    assert second.publisher.flush(10) == 0
    c2 = second.counters
    found = len(_tool_calls(own_broker.kafka, 100 - acked))
    assert found == 100 - acked, (acked, c1.spooled, c1.dropped, c2.sent, c2.spooled)


def test_spool_left_by_a_crash_is_replayed_at_next_start(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    settings = producer_settings(tmp_path)
    first = runtime.configure(settings, kafka_settings)
    assert first is not None
    tool = audit_tool(echo)
    # What a crashed process leaves behind: encoded events in its spool slot, never sent.
    first.publisher.publish = lambda key, value: crashed.append(value)  # type: ignore[method-assign]
    crashed: list[bytes] = []
    for i in range(20):
        tool(i)
    runtime.shutdown()
    spool = Spool(settings.spool_dir, max_bytes=10**6)
    for value in crashed:
        spool.append(None, value)
    spool.close()
    second = runtime.configure(settings, kafka_settings)
    assert second is not None
    try:
        assert _wait(
            lambda: second.counters.spool_bytes == 0 and not list(spool.dir.glob("*.seg")), 20
        )
        events = consume(kafka_settings, 40)
        assert {e["event_id"] for e in events} >= set() and len(events) == 40
    finally:
        runtime.shutdown()


def test_fail_closed_call_is_refused_and_the_refusal_audited(
    auditor: Auditor, kafka_settings: KafkaSettings
) -> None:
    auditor.policy = Policy(tools={"echo": "critical"})
    ran: list[int] = []

    @audit_tool(name="echo")
    def guarded(n: int) -> int:
        ran.append(n)
        return n

    assert guarded(1) == 1
    auditor.publisher.healthy = False  # what a failed delivery or a lost broker sets
    with pytest.raises(AuditRefused) as refused:
        guarded(2)
    assert ran == [1] and refused.value.classification == "CRITICAL"
    auditor.publisher.healthy = True
    assert auditor.publisher.flush(10) == 0
    events = consume(kafka_settings, 4)
    statuses = sorted((e["outcome"] or {}).get("status", "-") for e in events)
    assert statuses == ["-", "-", "DENIED", "SUCCESS"]
    assert all(
        e["compliance"]["fail_closed"] and e["compliance"]["retention_days"] == 2555 for e in events
    )


@pytest.mark.slow
def test_killed_broker_replaced_by_a_fresh_one_gets_every_later_event(
    tmp_path: Path, own_broker: OwnBroker
) -> None:
    kafka = own_broker.kafka
    auditor = runtime.configure(producer_settings(tmp_path), kafka)
    assert auditor is not None
    tool = audit_tool(echo)
    for i in range(25):
        tool(i)
    assert auditor.publisher.flush(10) == 0
    assert len(consume(kafka, 50, timeout_s=10)) == 50  # read before the crash
    own_broker.started[0].kill()
    for i in range(25, 50):
        assert tool(i) == i
    assert _wait(lambda: auditor.counters.spooled >= 50, 20)
    own_broker.start()  # in-memory: the fresh one starts empty, on the same port
    assert _wait(lambda: auditor.counters.spool_bytes == 0, 30)
    assert auditor.publisher.flush(10) == 0
    later = consume(kafka, 50, timeout_s=15)
    assert all(e["integrity"]["seq"] > 51 for e in later)  # heartbeat + 50 came before
    assert len({(e["call_id"], e["phase"]) for e in later}) == 50


def test_heartbeats_carry_the_counters_and_a_clean_close_sends_a_final_one(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    auditor = runtime.configure(
        producer_settings(tmp_path, heartbeat_interval_s=0.3), kafka_settings
    )
    assert auditor is not None
    try:
        tool = audit_tool(echo)
        for i in range(5):
            tool(i)
        assert _wait(lambda: auditor.counters.sent >= 10, 10)
        time.sleep(0.7)  # at least one more heartbeat after the deliveries
    finally:
        runtime.shutdown()
    events = consume(kafka_settings, 100, timeout_s=5, heartbeats=True)
    events.sort(key=lambda e: e["integrity"]["seq"])
    beats = [e["heartbeat"] for e in events if e["event_type"] == "HEARTBEAT"]
    # Whole seconds, rounded up: 0.3 s as 0 would make the watch call it silent at once.
    assert len(beats) >= 2 and all(b["interval_s"] == 1 for b in beats)
    assert max(b["events_sent"] for b in beats) >= 10
    assert all(b["audit_failures"] == 0 and b["events_dropped"] == 0 for b in beats)
    # runtime.shutdown() is a clean stop: exactly one final beat, and nothing after it
    assert [b["final"] for b in beats].count(True) == 1
    assert events[-1]["heartbeat"] is beats[-1] and beats[-1]["final"]


def test_no_heartbeat_follows_the_final_one(auditor: Auditor) -> None:
    auditor.close(timeout_s=5)
    sealed = auditor.sealer.seq
    auditor.heartbeat()  # an I/O-thread tick that lost the race with close
    auditor.close(timeout_s=1)  # and a second close, e.g. atexit after an explicit one
    assert auditor.sealer.seq == sealed


def test_spool_nearing_its_bound_is_logged_once(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    settings = producer_settings(tmp_path, spool_max_bytes=1000, spool_warn_fraction=0.8)
    counters = Counters()
    with caplog.at_level("INFO", logger="producers"):
        for size in (100, 850, 900, 950, 100):
            counters.check_spool(size, settings)
    messages = [r.getMessage() for r in caplog.records]
    assert messages == ["audit spool is 850 of 1000 bytes", "audit spool back to 100 bytes"]


def test_the_caller_serves_delivery_reports_while_the_io_thread_cannot(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    # In a busy server the calling thread keeps the GIL and the I/O thread's reports wait
    # behind it; here the I/O thread is held in its tick hook, which is easier to arrange.
    held = threading.Event()
    settings = producer_settings(tmp_path)
    spool = Spool(settings.spool_dir, max_bytes=settings.spool_max_bytes, fsync=settings.fsync)
    publisher = Publisher(settings, kafka_settings, Counters(), spool).start(on_tick=held.wait)
    try:
        for i in range(1000):
            publisher.publish(b"k", b"event %d" % i)

        def served() -> bool:
            for _ in range(_SERVE_EVERY):
                publisher.publish(b"k", b"more")
            return publisher.counters.sent >= 1000

        assert _wait(served, 15), publisher.counters.sent
    finally:
        held.set()
        publisher.close()


def test_a_failing_io_step_is_counted_and_the_io_thread_goes_on(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    def broken_tick() -> None:
        raise RuntimeError("a heartbeat that cannot be made")

    settings = producer_settings(tmp_path)
    spool = Spool(settings.spool_dir, max_bytes=settings.spool_max_bytes, fsync=settings.fsync)
    publisher = Publisher(settings, kafka_settings, Counters(), spool).start(on_tick=broken_tick)
    try:
        for i in range(10):
            publisher.publish(b"k", b"event %d" % i)
        # Only the I/O thread serves delivery reports here (fewer than _SERVE_EVERY events).
        assert _wait(lambda: publisher.counters.sent >= 10, 15), publisher.counters.sent
        assert publisher.counters.audit_failures >= 1
    finally:
        publisher.close()
