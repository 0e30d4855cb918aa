"""Consumed batches until their offsets are committed, and who commits them.

The enrichment loop consumes the next batch (in a thread) while it enriches the
current one, and delivers a batch (in a task) while it enriches the next. So
several batches can be between consume and commit; :class:`Uncommitted` keeps
them in order, each with a future that its delivery task resolves.

Commits happen only in the consume thread: the loop hands the offsets of the
delivered batches to its next consume call, which commits them first, and a
revoke callback (which runs inside consume) waits for every batch it was given
to be delivered and commits them itself, so their partitions move with nothing
left to redeliver. librdkafka holds a commit made from another thread while a
rebalance callback runs, so a commit from anywhere else could wait for ever on
a callback that waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from confluent_kafka import TopicPartition

from processors.messages import RawMessage

log = logging.getLogger(__name__)


@dataclass
class InFlightBatch:
    """One consumed batch between consume and commit (not :class:`sinks.batch.Batch`)."""

    offsets: list[TopicPartition]
    delivered: asyncio.Future[None]  # resolved by the delivery task; failed if it failed
    committed: bool = False

    def succeeded(self) -> bool:
        done = self.delivered
        return done.done() and not done.cancelled() and done.exception() is None


class Uncommitted:
    """Batches consumed and not yet committed, oldest first."""

    def __init__(self) -> None:
        self._batches: list[InFlightBatch] = []

    def add(self, raw: list[RawMessage]) -> InFlightBatch:
        """On the loop: track a batch just consumed (its delivery resolves ``delivered``)."""
        batch = InFlightBatch(last_offsets(raw), asyncio.get_running_loop().create_future())
        self._batches.append(batch)
        return batch

    def take_delivered(self) -> list[TopicPartition]:
        """On the loop: the offsets to commit for the delivered batches at the front, which
        stop being tracked. A batch a revoke callback committed adds nothing."""
        offsets: list[list[TopicPartition]] = []
        while self._batches and self._batches[0].succeeded():
            batch = self._batches.pop(0)
            if not batch.committed:
                batch.committed = True
                offsets.append(batch.offsets)
        return merged(offsets)

    def abandon(self) -> None:
        """On the loop, when it stops: batches whose delivery will never end count as
        failed (so a revoke callback at close does not wait for them); they are
        redelivered to whoever next owns their partitions."""
        for batch in self._batches:
            if not batch.delivered.done():
                batch.delivered.cancel()

    def settle_from_thread(
        self, loop: asyncio.AbstractEventLoop, timeout_s: float
    ) -> list[TopicPartition]:
        """In a revoke callback (consume thread): wait for every batch tracked now to be
        delivered, and return the offsets to commit there for those delivered in order.
        A batch still undelivered after ``timeout_s`` is left to be redelivered."""
        batches = [b for b in list(self._batches) if not b.committed]
        if batches:
            wait_on_loop(loop, _all_done(batches), timeout_s, "batches in flight at a rebalance")
        offsets = []
        for batch in batches:
            if not batch.succeeded():
                break
            batch.committed = True
            offsets.append(batch.offsets)
        return merged(offsets)


def wait_on_loop(
    loop: asyncio.AbstractEventLoop,
    coroutine: Coroutine[Any, Any, None],
    timeout_s: float,
    what: str,
) -> bool:
    """From another thread (a rebalance callback's): run ``coroutine`` on ``loop`` and wait
    for it. False, the coroutine not run, where waiting would never end (the loop is
    closed, or this is a loop's thread); False, with a warning naming ``what``, after
    ``timeout_s`` (the coroutine may still run later)."""
    if loop.is_closed() or _on_a_loop():
        coroutine.close()
        return False
    try:
        asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout_s)
    except TimeoutError:
        log.warning("%s not done after %.0fs", what, timeout_s)
        return False
    return True


def _on_a_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _all_done(batches: list[InFlightBatch]) -> None:
    await asyncio.wait([b.delivered for b in batches])


def merged(offsets: list[list[TopicPartition]]) -> list[TopicPartition]:
    """One offset per partition: the latest batch's."""
    latest: dict[tuple[str, int], TopicPartition] = {}
    for batch in offsets:
        for tp in batch:
            latest[(tp.topic, tp.partition)] = tp
    return list(latest.values())


def last_offsets(raw: list[RawMessage]) -> list[TopicPartition]:
    """What to commit after ``raw``: one past its last offset in each partition."""
    last: dict[tuple[str, int], int] = {}
    for message in raw:
        last[(message.topic, message.partition)] = message.offset
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]
