"""Put a batch's output on the broker and confirm it, retrying until it is accepted.

Nothing is ever skipped: a message the broker refuses is produced again after
a backoff (capped at ``retry_max_s``), for as long as it takes, so the caller
may commit the batch's input offsets once :meth:`Delivery.deliver` returns.
The producer is confluent-kafka's (librdkafka batches and compresses in C).
Acknowledgements are awaited on the event loop, by polling the producer
between short sleeps, not by a blocking flush in a thread: with the loop's
thread busy enriching (holding the GIL), a 5,000-message flush in a thread
took 100-800 ms instead of about 15 (measured here), and was the worker's
bottleneck.
When the broker accepts nothing in attempt after attempt, the producer is
replaced: an idempotent producer whose broker died and came back empty (the
embedded broker keeps no state) otherwise times out every message for ever.
With a schema registry (:meth:`Delivery.frame_with_registry`) the enriched and
alert messages leave with Confluent framing once the registry has given their
schemas' ids, and single-object until then (:mod:`schemas.framing`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import Any, NamedTuple, cast

from confluent_kafka import KafkaError, Message, Producer

from processors.messages import BatchOutput, OutMessage
from schemas.backoff import Backoff
from schemas.framing import Framer, RegistryFraming
from schemas.record_mac import RecordSigner

log = logging.getLogger(__name__)
RENEW_AFTER = 2  # attempts in a row in which the broker accepted nothing
POLL_S = 0.002  # between looks at the producer's outstanding count
WAIT_LOG_S = 1.0  # how often a long wait for acknowledgements is logged


class OutputTopics(NamedTuple):
    """Where each kind of a batch's output (:class:`~processors.messages.BatchOutput`) goes."""

    enriched: str
    alerts: str
    dead_letter: str
    watch: str  # the self-watch's stream facts (processors.watch_agent)


class Delivery:
    def __init__(
        self,
        config: dict[str, Any],
        topics: OutputTopics,
        retry_max_s: float,
        signer: RecordSigner | None = None,
    ):
        self._config: dict[str, Any] = {
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
            # A refused batch is retried by deliver(); waiting librdkafka's default
            # 5 minutes per attempt would hold a stuck producer that long.
            "message.timeout.ms": 30_000,
            # One callback for the producer, not one per message: passing a callback
            # with each produce() cost ~0.55 us a message here.
            "on_delivery": self._on_report,
            **config,
        }
        self.producer = Producer(self._config)
        self.topics = topics
        self.retry_max_s = retry_max_s
        # Each enriched record leaves with the processors' MAC over its bytes as sent
        # (framed), which the sink checks (schemas.record_mac); a retry signs again.
        self._signer = signer
        self._failed: list[tuple[str, OutMessage]] = []
        self._reason = ""
        self._framers: dict[str, Framer] = {}
        self._framings: list[RegistryFraming] = []

    def frame_with_registry(self, registry_url: str, records: dict[str, str]) -> None:
        """Confluent framing for each topic's messages (topic: record name) once the
        registry gives the record's id under the topic's subject; asked in the background."""
        for topic, record in records.items():
            framer = self._framers[topic] = Framer(record)
            self._framings.append(RegistryFraming(record, registry_url, topic, framer.use).start())

    async def deliver(self, out: BatchOutput) -> None:
        """Returns once every message of ``out`` is acknowledged by the broker."""
        await self._until_accepted(
            [
                (self.topics.alerts, out.alerts),
                (self.topics.enriched, out.enriched),
                (self.topics.dead_letter, out.dead),
                (self.topics.watch, out.watch),
            ]
        )

    async def send(self, topic: str, messages: list[OutMessage]) -> None:
        """Returns once every one of ``messages`` to ``topic`` is acknowledged."""
        await self._until_accepted([(topic, messages)])

    async def _until_accepted(self, groups: list[tuple[str, list[OutMessage]]]) -> None:
        # Grouped by topic: no (topic, message) pair is built per message, only per
        # failure, which a retry then sends one by one.
        backoff, refused_in_a_row = Backoff(0.1, self.retry_max_s), 0
        tried = sum(len(messages) for _, messages in groups)
        pending = await self._attempt(groups)
        while pending:
            refused_in_a_row = refused_in_a_row + 1 if len(pending) == tried else 0
            if refused_in_a_row >= RENEW_AFTER:
                self._renew()
                refused_in_a_row = 0
            log.warning(
                "broker refused %d messages (%s); retrying in %.1fs",
                len(pending), self._reason, backoff.peek(),
            )  # fmt: skip
            await asyncio.sleep(backoff.wait())
            tried = len(pending)
            pending = await self._attempt([(topic, [message]) for topic, message in pending])

    def _renew(self) -> None:
        """A new producer (new id, new connections); the old one holds nothing: every
        message it had was reported before the attempt returned."""
        log.warning(
            "broker accepted nothing %d times in a row; starting a new producer", RENEW_AFTER
        )
        old, self.producer = self.producer, Producer(self._config)
        old.purge()
        old.flush(0)

    async def _attempt(
        self, groups: list[tuple[str, list[OutMessage]]]
    ) -> list[tuple[str, OutMessage]]:
        self._failed = []
        produce = self.producer.produce
        framers = self._framers
        for topic, messages in groups:
            frame = framers.get(topic)
            signer = self._signer if topic == self.topics.enriched else None
            for message in messages:
                value = message.value if frame is None else frame(message.value)
                while True:
                    try:
                        if message.headers:
                            self._produce_with_headers(topic, message)
                        elif signer is not None:
                            produce(topic, value, message.key, headers=[signer.header(value)])
                        else:  # a failure comes back through the producer's callback
                            produce(topic, value, message.key)
                        break
                    except BufferError:  # the local queue is full: let it drain
                        self.producer.poll(0.05)
        await self._acknowledged()
        return self._failed

    def _produce_with_headers(self, topic: str, message: OutMessage) -> None:
        # Delivery reports come back without headers, so a dead letter's callback
        # carries the original: a retry must keep its headers.
        self.producer.produce(
            topic, message.value, message.key, headers=message.headers,
            on_delivery=partial(self._on_delivery, (topic, message)),
        )  # fmt: skip

    def _on_delivery(self, item: tuple[str, OutMessage], error: KafkaError | None, _: Any) -> None:
        if error is not None:
            self._reason = error.str()
            self._failed.append(item)

    def _on_report(self, error: KafkaError | None, report: Message) -> None:
        if error is not None:
            self._reason = error.str()
            # A report of a produced message always names its topic and holds its value.
            topic, value = cast(str, report.topic()), cast(bytes, report.value())
            self._failed.append((topic, OutMessage(report.key(), value)))

    async def _acknowledged(self) -> None:
        """Until every message produced is acknowledged or reported failed (then in
        ``_failed``): the producer's outstanding count includes unserved reports."""
        log_at = time.monotonic() + WAIT_LOG_S
        while True:
            self.producer.poll(0)  # serves the reports, which fills _failed
            if len(self.producer) == 0:
                return
            await asyncio.sleep(POLL_S)
            if time.monotonic() >= log_at:
                log_at = time.monotonic() + WAIT_LOG_S
                log.warning("waiting for the broker to accept output")

    def close(self) -> None:
        for framing in self._framings:
            framing.stop()
        self.producer.flush(10.0)
