"""Put a batch's output on the broker and confirm it, retrying until it is accepted.

Nothing is ever skipped: a message the broker refuses is produced again after
a backoff (capped at ``retry_max_s``), for as long as it takes, so the caller
may commit the batch's input offsets once :meth:`Delivery.deliver` returns.
The producer is confluent-kafka's (librdkafka batches and compresses in C);
its blocking flush runs in a thread so Faust's event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any, cast

from confluent_kafka import KafkaError, Message, Producer

from processors.messages import BatchOutput, OutMessage

log = logging.getLogger(__name__)


class Delivery:
    def __init__(
        self, config: dict[str, Any], topics: tuple[str, str, str, str], retry_max_s: float
    ):
        self.producer = Producer(
            {
                "acks": "all",
                "enable.idempotence": True,
                "linger.ms": 5,
                "batch.num.messages": 10_000,
                "queue.buffering.max.messages": 500_000,
                # No compression: aiokafka (Faust, and many consumers) cannot read lz4
                # or zstd without extra libraries, and the watch agent reads this output.
                "compression.type": "none",
                # Only failures call back into Python: a report per delivered message
                # cost about a microsecond of the GIL each, for nothing.
                "delivery.report.only.error": True,
                **config,
            }
        )
        self.enriched_topic, self.alerts_topic, self.dead_topic, self.watch_topic = topics
        self.retry_max_s = retry_max_s
        self._failed: list[tuple[str, OutMessage]] = []

    async def deliver(self, out: BatchOutput) -> None:
        """Returns once every message of ``out`` is acknowledged by the broker."""
        pending = [(self.alerts_topic, m) for m in out.alerts]
        pending += [(self.enriched_topic, m) for m in out.enriched]
        pending += [(self.dead_topic, m) for m in out.dead]
        pending += [(self.watch_topic, m) for m in out.watch]
        backoff = 0.1
        while pending:
            pending = await self._attempt(pending)
            if pending:
                log.warning("broker refused %d messages; retrying in %.1fs", len(pending), backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.retry_max_s)

    async def _attempt(self, batch: list[tuple[str, OutMessage]]) -> list[tuple[str, OutMessage]]:
        self._failed = []
        for item in batch:
            self._produce(item)
        await asyncio.to_thread(self._flush)
        return self._failed

    def _produce(self, item: tuple[str, OutMessage]) -> None:
        topic, message = item
        # Delivery reports come back without headers, so a dead letter's callback
        # carries the original (a retry must keep its headers); the rest are rebuilt
        # from the report, which saves a partial per message.
        on_delivery = partial(self._on_delivery, item) if message.headers else self._on_report
        while True:
            try:
                self.producer.produce(
                    topic, message.value, message.key, headers=message.headers,
                    on_delivery=on_delivery,
                )  # fmt: skip
                return
            except BufferError:
                self.producer.poll(0.05)

    def _on_delivery(self, item: tuple[str, OutMessage], error: KafkaError | None, _: Any) -> None:
        if error is not None:
            self._failed.append(item)

    def _on_report(self, error: KafkaError | None, report: Message) -> None:
        if error is not None:
            # A report of a produced message always names its topic and holds its value.
            topic, value = cast(str, report.topic()), cast(bytes, report.value())
            self._failed.append((topic, OutMessage(report.key(), value)))

    def _flush(self) -> None:
        while self.producer.flush(1.0) > 0:
            log.warning("waiting for the broker to accept output")

    def close(self) -> None:
        self.producer.flush(10.0)
