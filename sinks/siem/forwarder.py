"""The forwarder loop: consume alerts, map to OCSF, deliver, dead-letter the rest, commit.

Lifecycle: ``with open_forwarder(settings, kafka) as forwarder: forwarder.run(stop)``.
One thread does everything, a batch at a time: polled, decoded, mapped and
delivered before the next is polled, so alerts reach the SIEM in order per
partition. Offsets are committed only when the webhook accepted every alert of
the batch (2xx) and the dead-letter topic acknowledged the others (alerts that
do not decode, alerts the webhook rejects). While the webhook is away the
consumer is held (:meth:`KafkaSource.hold`): still in the group, fetching
nothing. A stop during a wait leaves the batch uncommitted; the next run sends
it again (at least once: ``metadata.uid`` is the alert id, so a SIEM can drop
the duplicate).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from schemas.backoff import Backoff
from schemas.errors import DeserializationError
from schemas.kafka import KafkaSettings
from schemas.wire import Deserializer
from sinks.batch import Batch
from sinks.consumer import KafkaSource
from sinks.dead_letter import DeadLetters
from sinks.errors import BrokerUnavailableError
from sinks.loop import Source
from sinks.siem.delivery import WebhookDelivery
from sinks.siem.ocsf import to_ocsf
from sinks.siem.settings import SiemSettings
from sinks.siem.webhook import Poster, Webhook

log = logging.getLogger(__name__)
REASON_REJECTED = "rejected-by-siem"
_POLL_TIMEOUT_S = 0.5
# hold() pauses for this long at most, so a stop is noticed within about a second.
_HOLD_SLICE_S = 1.0


class Forwarder:
    def __init__(
        self,
        source: Source,
        webhook: Poster,
        dead_letters: DeadLetters,
        settings: SiemSettings,
        registry_url: str | None = None,
    ) -> None:
        self.source = source
        self.dead_letters = dead_letters
        self.settings = settings
        self.delivery = WebhookDelivery(webhook, settings, self._wait)
        self._decode = Deserializer("Alert", registry_url)
        self.stop = threading.Event()
        self.delivered = 0

    def run(self, stop: threading.Event) -> None:
        """Forward until ``stop`` is set; the batch in hand is finished or left uncommitted."""
        self.stop = stop
        while not stop.is_set():
            self.step()

    def step(self) -> bool:
        """One batch: False if stopped before it was committed (it will be read again)."""
        messages: list[Any] = self.source.poll(self.settings.batch_size, _POLL_TIMEOUT_S)
        if not messages:
            return True
        documents: list[dict[str, Any]] = []
        carried: list[Any] = []
        for message in messages:
            try:
                alert = self._decode(message.value())
            except DeserializationError as exc:
                self.dead_letters.send(message, exc.reason, str(exc))
                continue
            documents.append(to_ocsf(alert))
            carried.append(message)
        rejected = self.delivery.deliver(documents)
        if rejected is None:
            log.info("stopped with %d undelivered alerts; they will be read again", len(messages))
            return False
        for index, detail in rejected:
            self.dead_letters.send(carried[index], REASON_REJECTED, detail)
        if not self._flush_dead_letters():
            return False
        batch = Batch()
        batch.add(messages)
        self.source.commit(batch.commit_offsets())
        self.delivered += len(documents) - len(rejected)
        return True

    def _wait(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
            self.source.hold(min(left, _HOLD_SLICE_S))
        return not self.stop.is_set()

    def _flush_dead_letters(self) -> bool:
        backoff = Backoff(self.settings.backoff_base_s, self.settings.backoff_cap_s)
        while True:
            try:
                self.dead_letters.flush()
                return True
            except BrokerUnavailableError as exc:
                wait = backoff.wait()
                log.warning("dead letters not acknowledged, retrying in %.1fs: %s", wait, exc)
                if not self._wait(wait):
                    return False


@contextmanager
def open_forwarder(settings: SiemSettings, kafka: KafkaSettings) -> Iterator[Forwarder]:
    """A forwarder on the alerts topic; on exit the consumer leaves its group cleanly."""
    webhook = Webhook(settings)  # a missing URL fails before any Kafka client is made
    dead_letters = DeadLetters(kafka)
    source = KafkaSource(
        kafka, settings.consumer_group, [kafka.topic_alerts], settings.session_timeout_ms
    )
    try:
        yield Forwarder(source, webhook, dead_letters, settings, kafka.schema_registry_url)
    finally:
        source.close()
        dead_letters.close()
