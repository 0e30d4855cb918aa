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

Three batches overlap: while one is enriched on the loop's thread, the next is
consumed in a thread and the previous one is delivered by a task (enrichment
yields between parts of the batch to let that task move on). One delivery task
at a time, so output stays in order. Offsets are committed in the consume
thread only (:mod:`processors.in_flight`): the next consume call commits the
delivered batches first. A rebalance runs its callbacks inside the consume
call, in that thread: the revoke callback waits until every batch consumed so
far is delivered and commits it, while the partitions are still this worker's;
changes to the enricher's state run on the loop's thread, between parts.
Lifecycle: :meth:`run` until :meth:`stop`; the consumer is closed on the way out.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, Message, TopicPartition

from processors.batch import BatchEnricher
from processors.delivery import Delivery
from processors.in_flight import InFlightBatch, Uncommitted, wait_on_loop
from processors.lag import positions
from processors.messages import BatchOutput, RawMessage
from processors.state import TableBackedState
from processors.timings import StepClock, StepTimings
from processors.watch.stall import StallWatch

log = logging.getLogger(__name__)
LAG_CHECK_S = 10.0
ENRICH_PART = 500  # events enriched between chances for the batch in flight to move on
SETTLE_TIMEOUT_S = 60.0


def now_us() -> int:
    return time.time_ns() // 1000


def loop_consumer(config: Mapping[str, Any]) -> Consumer:
    """A consumer for :class:`EnrichmentLoop` from ``config`` (client settings and group):
    offsets committed by the loop alone, after delivery, and fetches that return soon."""
    return Consumer(
        {
            **config,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            # Brokers that do not wake a waiting fetch when data arrives (Tansu) hold
            # it for this long: the default 500 ms alone would eat the alert budget.
            "fetch.wait.max.ms": 50,
        }
    )


class EnrichmentLoop:
    def __init__(
        self,
        consumer: Consumer,
        raw_topic: str,
        enricher: BatchEnricher,
        delivery: Delivery,
        *,
        batch_max: int,
        batch_wait_s: float,
        stall: StallWatch,
        state: TableBackedState | None = None,
    ) -> None:
        """``consumer``: not yet subscribed, made by :func:`loop_consumer` (the loop commits
        offsets itself); :meth:`run` subscribes it and closes it on the way out."""
        self.consumer = consumer
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
        self._uncommitted = Uncommitted()
        self._delivering: asyncio.Task[None] | None = None
        self._next: asyncio.Future[list[Message]] | None = None  # the consume running ahead
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
            if self._delivering is not None:  # cancelled or failed: its batch is redelivered
                self._delivering.cancel()
            self._uncommitted.abandon()
            if self._next is not None:  # the consume thread must be out before close
                await asyncio.wait({self._next})
            await asyncio.to_thread(self.consumer.close)

    def stop(self) -> None:
        self._running = False

    async def step(self) -> int:
        """Take the batch consumed ahead and start consuming the next; enrich it, then hand
        it to a task that delivers it; returns how many raw messages it consumed."""
        clock = StepClock()
        messages = await self._consumed()
        clock.lap("consume")
        self._adopt_assigned()
        raw = [_raw(m) for m in messages if m.error() is None]
        batch = self._uncommitted.add(raw) if raw else None
        self._consume_ahead()
        out = await self._enrich(raw, now_us())
        await self._check_lag(out)
        clock.lap("enrich")
        await self._previous_delivered()
        clock.lap("previous")
        self._delivering = asyncio.create_task(
            self._deliver(out, self._state_snapshot(), clock, len(raw), batch)
        )
        self.batches += 1
        return len(raw)

    async def settle(self) -> None:
        """Wait until every batch is delivered, then commit them (the consume ahead, if
        any, is left to finish; its messages are not enriched, so not committed)."""
        await self._previous_delivered()
        if self._next is not None:
            await asyncio.wait({self._next})
        await asyncio.to_thread(self._commit, self._uncommitted.take_delivered())

    async def _consumed(self) -> list[Message]:
        if self._next is None:
            self._consume_ahead()
        assert self._next is not None
        messages, self._next = await self._next, None
        return messages

    def _consume_ahead(self) -> None:
        offsets = self._uncommitted.take_delivered()
        self._next = asyncio.ensure_future(asyncio.to_thread(self._commit_and_consume, offsets))

    def _commit_and_consume(self, offsets: list[TopicPartition]) -> list[Message]:
        self._commit(offsets)
        return self.consumer.consume(self.batch_max, self.batch_wait_s)

    async def _previous_delivered(self) -> None:
        task, self._delivering = self._delivering, None
        if task is not None:
            await task

    async def _enrich(self, raw: list[RawMessage], now: int) -> BatchOutput:
        out = BatchOutput()
        for start in range(0, len(raw), ENRICH_PART):
            self.enricher.enrich(raw[start : start + ENRICH_PART], now, out)
            await asyncio.sleep(0)  # the batch in flight may have an ack to act on
        self.enricher.finish(now, out)
        return out

    async def _deliver(
        self,
        out: BatchOutput,
        state: list[tuple[str, bytes]],
        clock: StepClock,
        events: int,
        batch: InFlightBatch | None,
    ) -> None:
        try:
            await self._deliver_all(out, state, clock, events)
        except asyncio.CancelledError:
            if batch is not None:
                batch.delivered.cancel()
            raise
        except Exception as exc:
            if batch is not None:
                batch.delivered.set_exception(exc)
                batch.delivered.exception()  # seen: the loop raises it from the task
            raise
        if batch is not None:
            batch.delivered.set_result(None)

    async def _deliver_all(
        self, out: BatchOutput, state: list[tuple[str, bytes]], clock: StepClock, events: int
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

    def _state_snapshot(self) -> list[tuple[str, bytes]]:
        users = self.enricher.take_changed_users()
        if self.state is None:
            return []
        return self.state.snapshot(users, self.enricher.user_partitions)

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
        consumed = self.consumer.position(
            [TopicPartition(self.raw_topic, p) for p in self.assigned]
        )
        return sum(p.behind for p in positions(self.consumer, consumed, timeout_s=2.0))

    def _on_assign(self, _: Consumer, partitions: list[TopicPartition]) -> None:
        self._on_loop(self._assigned, {tp.partition for tp in partitions})

    def _assigned(self, new: set[int]) -> None:
        self.assigned |= new
        self._adopt |= new
        log.info("assigned partitions %s", sorted(new))

    def _on_revoke(self, _: Consumer, partitions: list[TopicPartition]) -> None:
        # Runs inside consume: every batch consumed so far goes out and is committed
        # while the partitions are still ours; only then is their state handed over.
        if self._loop is not None:
            self._commit(self._uncommitted.settle_from_thread(self._loop, SETTLE_TIMEOUT_S))
        self._on_loop(self._revoked, {tp.partition for tp in partitions})

    def _revoked(self, gone: set[int]) -> None:
        self.assigned -= gone
        dropped = self.enricher.forget_partitions(gone)
        if self.state is not None:
            self.state.release(gone)
        log.info("revoked partitions %s (%d pending attempts handed over)", sorted(gone), dropped)

    def _on_loop(self, change: Callable[[set[int]], None], partitions: set[int]) -> None:
        """Apply ``change`` on the loop's thread, which owns the enricher's state; from a
        callback in the consume thread, that is between two parts of a batch."""
        loop = self._loop
        if loop is not None and wait_on_loop(
            loop, _call(change, partitions), SETTLE_TIMEOUT_S, "a rebalance's change"
        ):
            return
        change(partitions)  # no loop to wait for, or it did not take it in time

    def _adopt_assigned(self) -> None:
        if self._adopt and self.state is not None:
            loaded = self.state.adopt(self._adopt)
            log.info("adopted detector state of %d users", loaded)
        self._adopt = set()


def _raw(message: Message) -> RawMessage:
    # A message without an error always has its topic, partition and offset; no cast()
    # calls, which cost a fifth of this function, run for every message.
    return RawMessage(
        message.topic(),  # type: ignore[arg-type]
        message.partition(),  # type: ignore[arg-type]
        message.offset(),  # type: ignore[arg-type]
        message.key(),
        message.value(),
        message.headers() or [],  # type: ignore[arg-type]
    )


async def _call(change: Callable[[set[int]], None], partitions: set[int]) -> None:
    change(partitions)
