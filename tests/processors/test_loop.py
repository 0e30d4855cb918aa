"""The enrichment loop delivers a batch while it enriches the next, and through a rebalance
in the middle of the stream every event is enriched once and every offset is committed.

Two loops in one process on the test broker, each with its own consumer and producer.
Their delivery waits a second before producing, a broker slow to acknowledge, so a
batch is nearly always in flight when the rebalance comes (a real broker cannot be made
slow on purpose without stalling the group's rebalance too). The test broker takes
about 3 s to rebalance and accepts a late commit meanwhile, so here the outcome would
be the same if the revoke did not wait for the batch in flight; test_in_flight.py
checks that wait itself.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import pytest
from confluent_kafka import Consumer, TopicPartition

from processors.delivery import Delivery, OutputTopics
from processors.loop import EnrichmentLoop, loop_consumer
from processors.messages import BatchOutput
from processors.settings import ProcessorSettings
from processors.watch.stall import StallWatch
from processors.wiring import build_enricher
from schemas.kafka import KafkaSettings
from schemas.wire import Deserializer
from tests.processors.worker import keyed, produce, read_until, user_event

pytestmark = [pytest.mark.broker, pytest.mark.slow]
EVENTS = 1000
ACK_DELAY_S = 1.0
DECODE = Deserializer("EnrichedEvent")


class SlowDelivery(Delivery):
    async def deliver(self, out: BatchOutput) -> None:
        await asyncio.sleep(ACK_DELAY_S)
        await super().deliver(out)


def _loop(kafka: KafkaSettings, group: str) -> EnrichmentLoop:
    settings = ProcessorSettings.load(environ={}, batch_max_records=100)
    client = kafka.client_config()
    delivery = SlowDelivery(
        client,
        OutputTopics(
            enriched=kafka.topic_enriched,
            alerts=kafka.topic_alerts,
            dead_letter=kafka.topic_dead_letter,
            watch=f"{group}-watch",
        ),
        retry_max_s=1.0,
    )
    return EnrichmentLoop(
        loop_consumer({**client, "group.id": group, "session.timeout.ms": 6000}),
        kafka.topic_raw, build_enricher(settings, None), delivery,
        batch_max=100, batch_wait_s=0.02, stall=StallWatch(60_000_000),
    )  # fmt: skip


def _committed(kafka: KafkaSettings, group: str) -> dict[int, int]:
    consumer = Consumer({**kafka.client_config(), "group.id": group})
    try:
        partitions = [TopicPartition(kafka.topic_raw, p) for p in range(kafka.partitions)]
        return {tp.partition: tp.offset for tp in consumer.committed(partitions, timeout=10)}
    finally:
        consumer.close()


def _ends(kafka: KafkaSettings) -> dict[int, int]:
    """One past the last raw message of each partition (read, not the watermark: the
    test broker's high watermark can trail the end)."""
    ends: dict[int, int] = {}
    for message in read_until(kafka, kafka.topic_raw, EVENTS, timeout_s=30):
        partition, offset = message.partition() or 0, message.offset() or 0
        ends[partition] = max(ends.get(partition, 0), offset + 1)
    return ends


def _enriched(*loops: EnrichmentLoop) -> int:
    return sum(loop.enricher.counters.events for loop in loops)


async def _until(condition: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(condition):  # type: ignore[arg-type]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def test_a_rebalance_commits_the_batch_in_flight_before_partitions_move(
    kafka_settings: KafkaSettings,
) -> None:
    kafka, group = kafka_settings, f"test-loop-{uuid.uuid4().hex[:8]}"
    users = [f"{u:064d}" for u in range(30)]
    produce(kafka, [keyed(user_event(i + 1, users[i % 30])) for i in range(EVENTS)])
    first, second = _loop(kafka, group), _loop(kafka, group)
    running = [asyncio.create_task(first.run())]
    try:
        await _until(lambda: first.batches > 2 and first.assigned, 60, "the first loop's batches")
        running.append(asyncio.create_task(second.run()))
        await _until(lambda: second.assigned and len(first.assigned) < 3, 60, "a rebalance")
        await _until(lambda: _enriched(first, second) >= EVENTS, 90, "every event enriched")
    finally:
        for loop in (first, second):
            loop.stop()
        await asyncio.wait_for(asyncio.gather(*running), 60)
        for loop in (first, second):
            loop.delivery.close()
    enriched = await asyncio.to_thread(
        read_until, kafka, kafka.topic_enriched, EVENTS + 1, timeout_s=5
    )
    ids = Counter(DECODE(m.value())["event"]["event_id"] for m in enriched)
    assert len(ids) == EVENTS
    assert await asyncio.to_thread(_committed, kafka, group) == await asyncio.to_thread(
        _ends, kafka
    )
    assert [i for i, n in ids.items() if n > 1] == []  # nothing redelivered by the rebalance
    assert second.batches > 0 and second.enricher.counters.events > 0
