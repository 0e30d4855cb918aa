"""A batch in flight is committed once, after its task succeeded, whether the loop or a
rebalance callback in the consume thread settles it.

The commit here records its offsets instead of reaching a broker: what is tested is
when and how often it is called; tests/processors/test_loop.py commits for real.
"""

from __future__ import annotations

import asyncio

import pytest
from confluent_kafka import TopicPartition

from processors.in_flight import BatchInFlight, last_offsets
from tests.processors.helpers import raw

OFFSETS = [TopicPartition("raw", 0, 8)]


class Commits:
    def __init__(self) -> None:
        self.made: list[list[TopicPartition]] = []

    def __call__(self, offsets: list[TopicPartition]) -> None:
        self.made.append(offsets)


async def test_a_callback_thread_waits_for_the_task_then_commits_once() -> None:
    release, commits = asyncio.Event(), Commits()
    batch = BatchInFlight(asyncio.create_task(release.wait()), OFFSETS)
    loop = asyncio.get_running_loop()
    loop.call_later(0.2, release.set)  # the task finishes while the callback waits
    await asyncio.to_thread(batch.settle_from_thread, loop, commits, 5.0)
    assert batch.task.done()
    assert commits.made == [OFFSETS]
    await batch.settle(commits)  # the loop settling afterwards does not commit again
    assert commits.made == [OFFSETS]


async def test_the_loop_settles_a_batch_no_callback_saw() -> None:
    commits = Commits()
    batch = BatchInFlight(asyncio.create_task(asyncio.sleep(0.05)), OFFSETS)
    await batch.settle(commits)
    assert commits.made == [OFFSETS]


async def test_a_failed_task_commits_nothing_and_its_error_reaches_the_loop() -> None:
    async def fails() -> None:
        raise RuntimeError("broker gone")

    commits = Commits()
    batch = BatchInFlight(asyncio.create_task(fails()), OFFSETS)
    await asyncio.to_thread(batch.settle_from_thread, asyncio.get_running_loop(), commits, 5.0)
    with pytest.raises(RuntimeError, match="broker gone"):
        await batch.settle(commits)
    assert commits.made == []


def test_offsets_are_one_past_the_last_message_of_each_partition() -> None:
    messages = [raw(b"x", 4), raw(b"x", 9), raw(b"x", 7)._replace(partition=2)]
    assert [(tp.partition, tp.offset) for tp in last_offsets(messages)] == [(0, 10), (2, 8)]
