from __future__ import annotations

from processors.watch.stall import StallWatch

S = 1_000_000


def test_consumer_stall_needs_lag_and_no_progress() -> None:
    stall = StallWatch(stall_after_us=60 * S)
    assert stall.check(lag=100, processed=5, now_us=0) is None
    assert stall.check(lag=100, processed=5, now_us=59 * S) is None
    finding = stall.check(lag=100, processed=5, now_us=61 * S)
    assert finding is not None and finding.detector == "consumer_stall"
    assert stall.check(lag=100, processed=5, now_us=90 * S) is None
    assert stall.check(lag=0, processed=5, now_us=200 * S) is None
