"""The one batch whose output is still on its way to the broker, and its offsets to commit.

The enrichment loop hands each enriched batch to a task that delivers its output
and writes its detector state, and goes on with the next batch meanwhile. The
batch's offsets are committed by whoever settles it: the loop, before it starts
the next batch's task, or the revoke callback of a rebalance. The commit never
comes from the task itself: librdkafka holds a commit made from another thread
while the consume thread is inside a rebalance callback, so a task committing
while the callback waited for it would wait for ever.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import TopicPartition

from processors.messages import RawMessage

log = logging.getLogger(__name__)
Commit = Callable[[list[TopicPartition]], None]


@dataclass
class BatchInFlight:
    task: asyncio.Task[None]
    offsets: list[TopicPartition]
    committed: bool = False

    async def settle(self, commit: Commit) -> None:
        """On the event loop: wait for the task (raising what it raised), then commit."""
        await self.task
        if not self.committed:
            self.committed = True
            await asyncio.to_thread(commit, self.offsets)

    def settle_from_thread(
        self, loop: asyncio.AbstractEventLoop, commit: Commit, timeout_s: float
    ) -> None:
        """In a rebalance callback (consume thread, the loop awaiting it): let the loop
        finish the task, then commit here. A failed or cancelled task commits nothing;
        the loop's :meth:`settle` raises its error."""
        if not self.task.done() and not _on_a_loop() and not loop.is_closed():
            waiting = asyncio.run_coroutine_threadsafe(asyncio.wait({self.task}), loop)
            try:
                waiting.result(timeout_s)
            except TimeoutError:  # the new owner will redeliver the batch
                log.warning("batch in flight not done after %.0fs of a rebalance", timeout_s)
        if not self.committed and self._succeeded():
            self.committed = True
            commit(self.offsets)

    def _succeeded(self) -> bool:
        task = self.task
        return task.done() and not task.cancelled() and task.exception() is None


def last_offsets(raw: list[RawMessage]) -> list[TopicPartition]:
    """What to commit after ``raw``: one past its last offset in each partition."""
    last: dict[tuple[str, int], int] = {}
    for message in raw:
        last[(message.topic, message.partition)] = message.offset
    return [TopicPartition(t, p, o + 1) for (t, p), o in last.items()]


def _on_a_loop() -> bool:
    """True in an event loop's thread, where waiting for that loop would never end."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
