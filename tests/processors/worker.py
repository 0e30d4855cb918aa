"""Run real processors workers (``mcp-audit processors``) against the test broker, and read
what they write. Every worker a test starts is stopped by the ``workers`` fixture (conftest)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, Producer, TopicPartition

from schemas.kafka import KafkaSettings
from schemas.wire import SingleObjectSerializer
from tests.conftest import child_env
from tests.schemas.factories import audit_event

READY_LINE = "assigned partitions"
ENCODE = SingleObjectSerializer("AuditEvent")


def worker_env(
    kafka: KafkaSettings, app_id: str, data_dir: Path, **settings: str
) -> dict[str, str]:
    """The environment of a worker on ``kafka``'s topics (see :func:`child_env`)."""
    return child_env(
        kafka,
        MCP_AUDIT_PROCESSORS_APP_ID=app_id,
        # Short, so the test broker forms consumer groups in seconds.
        MCP_AUDIT_PROCESSORS_SESSION_TIMEOUT_S="6",
        MCP_AUDIT_PROCESSORS_DATA_DIR=str(data_dir),
        **{f"MCP_AUDIT_PROCESSORS_{k.upper()}": v for k, v in settings.items()},
    )


class Worker:
    def __init__(self, kafka: KafkaSettings, app_id: str, log_path: Path, **settings: str) -> None:
        data_dir = log_path.parent / f"data-{log_path.stem}"
        env = worker_env(kafka, app_id, data_dir, **settings)
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mcp_audit.cli", "processors"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while READY_LINE not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"worker not ready:\n{self.log()[-3000:]}")
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit, as a crash."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()


class Workers:
    def __init__(self, kafka: KafkaSettings, tmp_path: Path) -> None:
        self.kafka, self.tmp_path = kafka, tmp_path
        self.app_id = f"test-processors-{uuid.uuid4().hex[:8]}"
        self.started: list[Worker] = []

    def start(self, **settings: str) -> Worker:
        path = self.tmp_path / f"worker-{len(self.started)}.log"
        worker = Worker(self.kafka, self.app_id, path, **settings)
        self.started.append(worker)
        return worker


def user_event(seq: int, user: str = "a" * 64, **overrides: Any) -> dict[str, Any]:
    """A realistic raw event of ``user``, timestamped now."""
    event = audit_event(seq=seq, event_time=datetime.now(UTC), **overrides)
    event["actor"]["user_pseudonym"] = user
    return event


def keyed(event: dict[str, Any]) -> tuple[bytes, bytes]:
    """The raw topic's message for ``event``: keyed by user pseudonym."""
    return event["actor"]["user_pseudonym"].encode(), ENCODE(event)


def produce(kafka: KafkaSettings, messages: list[tuple[bytes | None, bytes]]) -> None:
    producer = Producer({**kafka.client_config(), "acks": "all", "linger.ms": 5})
    for key, value in messages:
        producer.produce(kafka.topic_raw, value, key)
    assert producer.flush(30) == 0


def read_until(
    kafka: KafkaSettings, topic: str, count: int, timeout_s: float = 60.0
) -> list[Message]:
    """Messages of ``topic`` from the beginning, once ``count`` arrived (or the timeout)."""
    consumer = Consumer(
        {**kafka.client_config(), "group.id": "reader", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(kafka.partitions)])
    received: list[Message] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(received) < count and time.monotonic() < deadline:
            received += [m for m in consumer.consume(1000, 0.2) if m.error() is None]
    finally:
        consumer.close()
    return received
