"""Consumed batches are committed once, in order, after their delivery succeeded, whether
the loop hands them to the next consume or a revoke callback commits them.

No broker here: what is tested is which offsets each side gets and when;
tests/processors/test_loop.py commits for real through a rebalance.
"""

from __future__ import annotations

import asyncio

from confluent_kafka import TopicPartition

from processors.in_flight import Uncommitted, last_offsets, merged
from tests.processors.helpers import raw


def _offsets(offsets: list[TopicPartition]) -> list[tuple[int, int]]:
    return sorted((tp.partition, tp.offset) for tp in offsets)


async def test_delivered_batches_at_the_front_are_taken_once_in_order() -> None:
    batches = Uncommitted()
    first, second = batches.add([raw(b"x", 4)]), batches.add([raw(b"x", 9)])
    assert batches.take_delivered() == []
    second.delivered.set_result(None)
    assert batches.take_delivered() == []  # the first is not delivered: nothing yet
    first.delivered.set_result(None)
    assert _offsets(batches.take_delivered()) == [(0, 10)]  # the later offset wins
    assert batches.take_delivered() == []


async def test_a_failed_batch_holds_back_the_commit_of_those_after_it() -> None:
    batches = Uncommitted()
    failed, later = batches.add([raw(b"x", 4)]), batches.add([raw(b"x", 9)])
    failed.delivered.set_exception(RuntimeError("broker gone"))
    later.delivered.set_result(None)
    assert batches.take_delivered() == []


async def test_a_revoke_callback_waits_for_every_batch_then_commits_them() -> None:
    batches = Uncommitted()
    delivered, pending = batches.add([raw(b"x", 4)]), batches.add([raw(b"x", 9)])
    delivered.delivered.set_result(None)
    loop = asyncio.get_running_loop()
    loop.call_later(0.2, pending.delivered.set_result, None)  # delivered while it waits
    offsets = await asyncio.to_thread(batches.settle_from_thread, loop, 5.0)
    assert _offsets(offsets) == [(0, 10)]
    assert batches.take_delivered() == []  # the loop does not commit them again


async def test_a_revoke_callback_gives_up_on_a_batch_that_is_never_delivered() -> None:
    batches = Uncommitted()
    delivered, stuck = batches.add([raw(b"x", 4)]), batches.add([raw(b"x", 9)])
    delivered.delivered.set_result(None)
    loop = asyncio.get_running_loop()
    offsets = await asyncio.to_thread(batches.settle_from_thread, loop, 0.2)
    assert _offsets(offsets) == [(0, 5)]  # only what was delivered, in order
    batches.abandon()  # the loop stops: the stuck one counts as failed
    assert stuck.delivered.cancelled()
    assert await asyncio.to_thread(batches.settle_from_thread, loop, 5.0) == []


def test_offsets_are_one_past_the_last_message_of_each_partition() -> None:
    messages = [raw(b"x", 4), raw(b"x", 9), raw(b"x", 7)._replace(partition=2)]
    assert [(tp.partition, tp.offset) for tp in last_offsets(messages)] == [(0, 10), (2, 8)]


def test_merged_keeps_the_latest_offset_of_each_partition() -> None:
    earlier = [TopicPartition("raw", 0, 5), TopicPartition("raw", 1, 3)]
    later = [TopicPartition("raw", 0, 9)]
    assert _offsets(merged([earlier, later])) == [(0, 9), (1, 3)]
