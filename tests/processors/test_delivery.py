"""Output is retried until the broker takes it, never skipped: a frozen broker stalls delivery,
and once it thaws every message is there."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from mcp_audit.embedded.broker import EmbeddedBroker, free_port
from mcp_audit.topics import ensure_topics
from processors.delivery import Delivery
from processors.messages import BatchOutput, OutMessage
from schemas.kafka import KafkaSettings
from tests.processors.worker import read_until

pytestmark = [pytest.mark.broker, pytest.mark.slow]


async def test_refused_output_is_retried_until_accepted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A broker of its own: the test freezes it, which would disturb the session's.
    with EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log") as broker:
        kafka = KafkaSettings.load(environ={}, bootstrap_servers=broker.bootstrap_servers)
        ensure_topics(kafka)
        delivery = Delivery(
            {**kafka.client_config(), "message.timeout.ms": 1000},
            (kafka.topic_enriched, kafka.topic_alerts, kafka.topic_dead_letter, "watch"),
            retry_max_s=0.5,
        )
        out = BatchOutput(
            enriched=[OutMessage(b"k", f"e{i}".encode()) for i in range(50)],
            dead=[OutMessage(None, b"bad", [("mcp-audit.dlq.reason", b"empty")])],
        )
        caplog.set_level(logging.WARNING, logger="processors.delivery")
        broker.pause()
        try:
            sending = asyncio.create_task(delivery.deliver(out))
            await asyncio.sleep(3.0)  # several delivery timeouts and retries
            assert not sending.done(), "delivery returned while the broker accepted nothing"
            assert "broker refused" in caplog.text  # the timed-out messages were produced again
        finally:
            broker.resume()
        await asyncio.wait_for(sending, 30)
        delivery.close()
        enriched = read_until(kafka, kafka.topic_enriched, 50, timeout_s=20)
        assert {m.value() for m in enriched} == {f"e{i}".encode() for i in range(50)}
        [dead] = read_until(kafka, kafka.topic_dead_letter, 1, timeout_s=20)
        assert dead.headers() == [("mcp-audit.dlq.reason", b"empty")]
