"""Two real workers share the raw topic's partitions; killing one mid-stream loses no event."""

from __future__ import annotations

import ast
import re
import time

import pytest

from schemas.kafka import KafkaSettings
from schemas.wire import Deserializer
from tests.processors.worker import Worker, Workers, keyed, produce, read_until, user_event

pytestmark = [pytest.mark.broker, pytest.mark.slow]
ENRICHED = Deserializer("EnrichedEvent")


def _owned(worker: Worker) -> set[int]:
    """Partitions the worker holds now, from its assign/revoke log lines."""
    owned: set[int] = set()
    for verb, listed in re.findall(r"(assigned|revoked) partitions (\[[0-9, ]*\])", worker.log()):
        parts = set(ast.literal_eval(listed))
        owned = owned | parts if verb == "assigned" else owned - parts
    return owned


def _wait_shared(first: Worker, second: Worker, partitions: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        a, b = _owned(first), _owned(second)
        if a and b and not a & b and len(a | b) == partitions:
            return
        time.sleep(0.3)
    pytest.fail(f"partitions not shared: {_owned(first)} / {_owned(second)}")


def test_two_workers_share_partitions_and_a_killed_one_loses_nothing(
    kafka_settings: KafkaSettings, workers: Workers
) -> None:
    first, second = workers.start(), workers.start()
    first.wait_ready()
    second.wait_ready()
    _wait_shared(first, second, kafka_settings.partitions)

    events = [user_event(seq + 1, user=f"{seq % 60:064d}") for seq in range(3000)]
    produce(kafka_settings, [keyed(e) for e in events[:1500]])
    assert len(read_until(kafka_settings, kafka_settings.topic_enriched, 1500)) >= 1500
    second.kill()
    produce(kafka_settings, [keyed(e) for e in events[1500:]])

    wanted = {e["event_id"] for e in events}
    # A takeover waits out the session timeout and a rebalance: seconds alone, a
    # minute or more on a 2-core machine under load. Time bound only, not a loss bound.
    deadline = time.monotonic() + 120
    seen: set[str] = set()
    while not wanted <= seen and time.monotonic() < deadline:
        messages = read_until(kafka_settings, kafka_settings.topic_enriched, 3000, timeout_s=5)
        seen = {ENRICHED(m.value())["event"]["event_id"] for m in messages}
    assert wanted <= seen, f"{len(wanted - seen)} events lost"
    assert first.process.poll() is None
    assert _owned(first) == set(range(kafka_settings.partitions))
