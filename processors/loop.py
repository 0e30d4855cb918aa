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

Delivery and the state write wait on the broker, so they run as a task while
the next batch is consumed and enriched (enrichment yields between parts of the
batch to let that task move on). One such task at a time: each batch waits for
the previous one's and commits its offsets before starting its own, so output
and commits stay in order (:mod:`processors.in_flight`). A rebalance runs its
callbacks inside the consume call; the revoke callback first lets the batch in
flight finish and commits it, while the partitions are still this worker's,
and only then hands the partitions' state over.
Lifecycle: :meth:`run` until :meth:`stop`; the consumer is closed on the way out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

from confluent_kafka import Consumer, Message, TopicPartition

from processors.batch import BatchEnricher
from processors.delivery import Delivery
from processors.in_flight import BatchInFlight, last_offsets
from processors.messages import BatchOutput, Headers, RawMessage
from processors.stall import StallWatch
from processors.state import TableBackedState
from processors.timings import StepClock, StepTimings

log = logging.getLogger(__name__)
LAG_CHECK_S = 10.0
ENRICH_PART = 500  # events enriched between chances for the batch in flight to move on
SETTLE_TIMEOUT_S = 60.0


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
        self.state = state
        self.assigned: set[int] = set()
        self._adopt: set[int] = set()
        self._running = True
        self._next_lag_check = 0.0
        self.batches = 0
        self.timings = StepTimings()
        self._in_flight: BatchInFlight | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.consumer.subscribe(
            [self.raw_topic], on_assign=self._on_assign, on_revoke=self._on_revoke
        )
        try:
            while self._running:
                await self.step()
            await self.settle()
        finally:
            if self._in_flight is not None:  # cancelled or failed: its batch is redelivered
                self._in_flight.task.cancel()
            await asyncio.to_thread(self.consumer.close)

    def stop(self) -> None:
        self._running = False

    async def step(self) -> int:
        """Consume and enrich one batch, then hand it to a task that delivers it (the next
        step commits it); returns how many raw messages it consumed."""
        clock = StepClock()
        messages = await asyncio.to_thread(self.consumer.consume, self.batch_max, self.batch_wait_s)
        clock.lap("consume")
        self._adopt_assigned()
        raw = [_raw(m) for m in messages if m.error() is None]
        out = await self._enrich(raw, now_us())
        await self._check_lag(out)
        clock.lap("enrich")
        await self.settle()
        clock.lap("previous")
        task = asyncio.create_task(self._deliver(out, self._state_snapshot(), clock, len(raw)))
        self._in_flight = BatchInFlight(task, last_offsets(raw))
        self.batches += 1
        return len(raw)

    async def settle(self) -> None:
        """Wait until the batch in flight is delivered and its state written; commit it."""
        batch, self._in_flight = self._in_flight, None
        if batch is not None:
            await batch.settle(self._commit)

    async def _enrich(self, raw: list[RawMessage], now: int) -> BatchOutput:
        out = BatchOutput()
        for start in range(0, len(raw), ENRICH_PART):
            self.enricher.enrich(raw[start : start + ENRICH_PART], now, out)
            await asyncio.sleep(0)  # the batch in flight may have an ack to act on
        self.enricher.finish(now, out)
        return out

    async def _deliver(
        self, out: BatchOutput, state: list[tuple[str, Any]], clock: StepClock, events: int
    ) -> None:
        clock.lap("to start")
        await self.delivery.deliver(out)
        clock.lap("deliver")
        if self.state is not None and state:
            # Only now: state never runs ahead of acknowledged output (a first-seen
            # alert lost with its batch must be raised again when the batch is).
            await self.delivery.send(self.state.topic, self.state.messages(state))
        clock.lap("state")
        self.timings.add(clock, events)

    def _commit(self, offsets: list[TopicPartition]) -> None:
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except Exception:  # a rebalance can refuse it; the batch is then redelivered
            log.warning("offset commit refused; the batch will be redelivered", exc_info=True)

    def _state_snapshot(self) -> list[tuple[str, Any]]:
        detectors = self.enricher.detectors
        entries = []
        if self.state is not None:
            entries = self.state.snapshot(detectors.dirty_users, self.enricher.user_partitions)
        detectors.dirty_users.clear()
        return entries

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
        # Runs inside consume: the batch in flight goes out and is committed while
        # the partitions are still ours; only then is their state handed over.
        batch, loop = self._in_flight, self._loop
        if batch is not None and loop is not None:
            batch.settle_from_thread(loop, self._commit, SETTLE_TIMEOUT_S)
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
