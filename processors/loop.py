"""The batched enrichment route: raw topic in, enriched/alerts/dead-letter out, at least once.

Why not a Faust agent: measured here, Faust's stream delivers ~4,500 events/s
with or without ``stream.take()`` (docs/processors.md), far below the 50,000/s
bar, while a confluent-kafka consumer hands over whole batches. So the Faust
app runs this loop as a task and keeps Faust for the app, its tables and
changelogs, web and worker lifecycle.

Per batch: consume up to ``batch_max_records`` -> enrich (pure, no I/O) ->
deliver every output and wait for the broker's acks -> write changed detector
state to the table changelog -> commit the batch's offsets. A crash anywhere
before the commit redelivers the batch (event ids make duplicates harmless).
Lifecycle: :meth:`run` until :meth:`stop`; the consumer is closed on the way out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from confluent_kafka import Consumer, Message, TopicPartition

from processors.batch import BatchEnricher
from processors.delivery import Delivery
from processors.messages import BatchOutput, Headers, RawMessage
from processors.stall import StallWatch
from processors.state import TableBackedState
from processors.timings import StepClock, StepTimings

log = logging.getLogger(__name__)
LAG_CHECK_S = 10.0


def now_us() -> int:
    return time.time_ns() // 1000


class EnrichmentLoop:
    def __init__(
        self,
        consumer_config: dict[str, Any],
        raw_topic: str,
        enricher: BatchEnricher,
        delivery: Delivery,
        *,
        batch_max: int,
        batch_wait_s: float,
        stall: StallWatch,
        state: TableBackedState | None = None,
        flush_state: Callable[[], Awaitable[Any]] | None = None,
    ) -> None:
        self.consumer = Consumer(
            {
                **consumer_config,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                # Brokers that do not wake a waiting fetch when data arrives (Tansu) hold
                # it for this long: the default 500 ms alone would eat the alert budget.
                "fetch.wait.max.ms": 50,
            }
        )
        self.raw_topic = raw_topic
        self.enricher, self.delivery, self.stall = enricher, delivery, stall
        self.batch_max, self.batch_wait_s = batch_max, batch_wait_s
        self.state, self.flush_state = state, flush_state
        self.assigned: set[int] = set()
        self._adopt: set[int] = set()
        self._running = True
        self._next_lag_check = 0.0
        self.batches = 0
        self.timings = StepTimings()

    async def run(self) -> None:
        self.consumer.subscribe(
            [self.raw_topic], on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        try:
            while self._running:
                await self.step()
        finally:
            await asyncio.to_thread(self.consumer.close)

    def stop(self) -> None:
        self._running = False

    async def step(self) -> int:
        """One batch end to end; returns how many raw messages it consumed."""
        clock = StepClock()
        messages = await asyncio.to_thread(self.consumer.consume, self.batch_max, self.batch_wait_s)
        clock.lap("consume")
        self._adopt_assigned()
        raw = [_raw(m) for m in messages if m.error() is None]
        out = self.enricher.process(raw, now_us())
        await self._check_lag(out)
        clock.lap("enrich")
        await self.delivery.deliver(out)
        clock.lap("deliver")
        await self._persist_state()
        clock.lap("state")
        if raw:
            await asyncio.to_thread(self._commit, raw)
        clock.lap("commit")
        self.batches += 1
        self.timings.add(clock, len(raw))
        return len(raw)

    def _commit(self, raw: list[RawMessage]) -> None:
        last: dict[tuple[str, int], int] = {}
        for message in raw:
            last[(message.topic, message.partition)] = message.offset
        offsets = [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except Exception:  # a rebalance can refuse it; the batch is then redelivered
            log.warning("offset commit refused; the batch will be redelivered", exc_info=True)

    async def _persist_state(self) -> None:
        detectors = self.enricher.detectors
        if self.state is None:
            detectors.dirty_users.clear()
            return
        self.state.persist(detectors.dirty_users, self.enricher.user_partitions)
        self.state.persist_tools()
        detectors.dirty_users.clear()
        if self.flush_state is not None:
            await self.flush_state()

    async def _check_lag(self, out: BatchOutput) -> None:
        if time.monotonic() < self._next_lag_check or not self.assigned:
            return
        self._next_lag_check = time.monotonic() + LAG_CHECK_S
        lag = await asyncio.to_thread(self._lag)
        counters = self.enricher.counters
        finding = self.stall.check(lag, counters.events + counters.dead_letters, now_us())
        if finding is not None:
            self.enricher.alert(finding, None, now_us(), out)

    def _lag(self) -> int:
        total = 0
        for position in self.consumer.position(
            [TopicPartition(self.raw_topic, p) for p in self.assigned]
        ):
            _, high = self.consumer.get_watermark_offsets(position, timeout=2.0)
            total += max(0, high - max(position.offset, 0))
        return total

    def _on_assign(self, _: Consumer, partitions: list[TopicPartition]) -> None:
        new = {tp.partition for tp in partitions}
        self.assigned |= new
        self._adopt |= new
        log.info("assigned partitions %s", sorted(new))

    def _on_revoke(self, _: Consumer, partitions: list[TopicPartition]) -> None:
        gone = {tp.partition for tp in partitions}
        self.assigned -= gone
        dropped = self.enricher.correlator.forget_partitions(gone)
        if self.state is not None:
            self.state.release(gone)
        log.info("revoked partitions %s (%d pending attempts handed over)", sorted(gone), dropped)

    def _adopt_assigned(self) -> None:
        if self._adopt and self.state is not None:
            loaded = self.state.adopt(self._adopt)
            log.info("adopted detector state of %d users", loaded)
        self._adopt = set()


def _raw(message: Message) -> RawMessage:
    # A message without an error always has its topic, partition and offset.
    return RawMessage(
        cast(str, message.topic()),
        cast(int, message.partition()),
        cast(int, message.offset()),
        message.key(),
        message.value(),
        cast(Headers, message.headers() or []),
    )
