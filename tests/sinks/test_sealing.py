"""The sealing schedule: a cycle now and every period after, a failed one tried again."""

from __future__ import annotations

import logging
import threading

import pytest

from schemas.digest import TreeHead
from sinks.sealing import seal_every


def test_cycles_now_then_every_period_and_a_failure_is_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop, results = threading.Event(), []
    calls = iter([RuntimeError("store gone"), (3, []), (0, [])])

    def cycle() -> tuple[int, list[TreeHead]]:
        outcome = next(calls)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def done(appended: int, heads: list[TreeHead]) -> None:
        results.append(appended)
        if len(results) == 2:
            stop.set()

    with caplog.at_level(logging.ERROR, "sinks.sealing"):
        seal_every(cycle, 0.01, stop, done)
    assert results == [3, 0]
    assert [r.getMessage() for r in caplog.records] == ["sealing failed; trying again in 0.01 s"]


def test_a_stop_already_set_still_runs_the_cycle_due_now() -> None:
    stop, ran = threading.Event(), []
    stop.set()
    seal_every(lambda: (1, []), 3600.0, stop, lambda appended, _: ran.append(appended))
    assert ran == [1]
