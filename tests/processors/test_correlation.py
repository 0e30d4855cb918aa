from __future__ import annotations

from processors.correlation import CallCorrelator, call_key
from tests.schemas.factories import audit_event


def _attempt(correlator: CallCorrelator, call_id: str, now_us: int) -> str:
    event = audit_event(phase="ATTEMPT", call_id=call_id, outcome=None)
    correlator.attempt(call_key("files", call_id), event, 5, now_us, b"raw", b"k", 1)
    return str(event["event_id"])


def test_result_finds_its_attempt_once() -> None:
    correlator = CallCorrelator(timeout_us=1_000, max_pending=10)
    attempt_id = _attempt(correlator, "c1", now_us=0)
    pending = correlator.result(call_key("files", "c1"))
    assert pending is not None
    assert (pending.event_id, pending.time_us, pending.partition) == (attempt_id, 5, 1)
    assert correlator.result(call_key("files", "c1")) is None
    assert correlator.expired(10_000) == []


def test_unanswered_attempt_expires_after_timeout() -> None:
    correlator = CallCorrelator(timeout_us=1_000, max_pending=10)
    _attempt(correlator, "c1", now_us=0)
    _attempt(correlator, "c2", now_us=500)
    assert correlator.expired(999) == []
    assert [p.event["call_id"] for p in correlator.expired(1_200)] == ["c1"]
    assert [p.event["call_id"] for p in correlator.expired(1_600)] == ["c2"]
    assert len(correlator) == 0


def test_same_call_id_on_two_servers_does_not_collide() -> None:
    assert call_key("a", "1") != call_key("b", "1")


def test_pending_bound_expires_oldest_early() -> None:
    correlator = CallCorrelator(timeout_us=1_000_000, max_pending=2)
    for i in range(3):
        _attempt(correlator, f"c{i}", now_us=i)
    assert [p.event["call_id"] for p in correlator.expired(3)] == ["c0"]
