"""Producing to and reading from the real test broker."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from schemas.kafka import KafkaSettings


def produce(kafka: KafkaSettings, topic: str, values: list[bytes]) -> None:
    producer = Producer(kafka.client_config())
    for index, value in enumerate(values):
        producer.produce(topic, value=value, key=str(index).encode())
        if index % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(30) == 0


@contextmanager
def producing(
    kafka: KafkaSettings, topic: str, make: Callable[[int], bytes], per_second: int
) -> Iterator[None]:
    """Produces ``make(0)``, ``make(1)``, ... at about ``per_second`` on a thread until
    exit, then flushes: events that keep coming while a test does something else."""
    producer = Producer(kafka.client_config())
    stop = threading.Event()

    def run() -> None:
        index = 0
        while not stop.wait(0.1):
            for _ in range(max(1, per_second // 10)):
                producer.produce(topic, value=make(index))
                index += 1
            producer.poll(0)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(10)
    assert producer.flush(30) == 0


def read_all(kafka: KafkaSettings, topic: str, expected: int, timeout_s: float = 30) -> list[Any]:
    """Every message of ``topic`` from the start (assigned, no group to join: fast)."""
    consumer = Consumer({**kafka.client_config(), "group.id": uuid.uuid4().hex})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(kafka.partitions)])
    found: list[Any] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(found) < expected and time.monotonic() < deadline:
            found.extend(m for m in consumer.consume(100, 0.5) if m.error() is None)
    finally:
        consumer.close()
    return found


def committed(kafka: KafkaSettings, group: str, topic: str) -> dict[int, int]:
    consumer = Consumer({**kafka.client_config(), "group.id": group})
    try:
        parts = [TopicPartition(topic, p) for p in range(kafka.partitions)]
        return {tp.partition: tp.offset for tp in consumer.committed(parts, timeout=10)}
    finally:
        consumer.close()


def wait_until(condition: Callable[[], bool], timeout_s: float = 60) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@contextmanager
def running(target: Callable[[threading.Event], None]) -> Iterator[threading.Event]:
    """Runs ``target(stop)`` in a thread; stops and joins it on exit, also on failure."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            target(stop)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=guarded, daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(60)
    assert not thread.is_alive(), "sink thread did not stop"
    if errors:
        raise errors[0]
