"""Writes a batch to the audit tables: events and alerts, rejects to the dead-letter topic.

Lifecycle: :meth:`AuditStore.prepare` turns a :class:`~sinks.batch.Batch` into
files once; :meth:`AuditStore.write` may then be called again and again until
it returns (ClickHouse unavailable raises :class:`StoreUnavailableError`; dead letters or
conflict alerts the broker does not acknowledge, :class:`BrokerUnavailableError`).
Tables already written are skipped on a retry, and each table's insert carries
the batch's token, so a retry never doubles rows. When ``write`` returns, every
message is either stored or queued on the dead-letter topic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from schemas.errors import ConfigError, DeserializationError, SerializationError
from schemas.kafka import KafkaSettings
from schemas.record_mac import REASON
from schemas.wire import Deserializer, SingleObjectSerializer
from sinks.batch import Batch
from sinks.conflicts import ConflictAlerts
from sinks.dead_letter import DeadLetters
from sinks.enriched import ENRICHED
from sinks.errors import BatchRejectedError
from sinks.prepare import Prepared, Rejection, prepare
from sinks.salvage import salvage
from sinks.settings import SinkSettings
from sinks.tables import TableSpec, alerts_spec
from sinks.vouch import Vouching, refusal_alert
from sinks.writer import AvroWriter

log = logging.getLogger(__name__)


@dataclass
class PreparedBatch:
    batch: Batch
    tables: dict[str, tuple[TableSpec, Prepared]]
    written: set[str] = field(default_factory=set)


def reencoder(record: str, registry_url: str | None) -> Callable[[bytes], bytes]:
    """Any framing in, single-object out: the slow path for Confluent-framed messages."""
    decode = Deserializer(record, registry_url)
    encode = SingleObjectSerializer(record)

    def reencode(data: bytes) -> bytes:
        try:
            return encode(decode(data))
        except SerializationError as exc:
            raise DeserializationError(str(exc), reason="invalid") from exc

    return reencode


class AuditStore:
    def __init__(
        self,
        writer: AvroWriter,
        dead_letters: DeadLetters,
        kafka: KafkaSettings,
        settings: SinkSettings,
        conflicts: ConflictAlerts | None = None,
        vouching: Vouching | None = None,
    ) -> None:
        self.writer = writer
        self.dead_letters = dead_letters
        self.conflicts = conflicts  # alerts on refused copies of stored events (and below)
        self.vouching = vouching  # enriched records only a processors' key vouches for
        self.specs = {
            kafka.topic_enriched: ENRICHED,
            kafka.topic_alerts: alerts_spec(settings.alert_retention_days),
        }
        self._parts = settings.parse_files
        self._reencoders = {
            spec.record: reencoder(spec.record, kafka.schema_registry_url)
            for spec in self.specs.values()
        }
        self.rows_written = 0

    def topics(self) -> list[str]:
        return list(self.specs)

    def prepare(self, batch: Batch) -> PreparedBatch:
        tables = {}
        for topic, messages in batch.by_topic.items():
            spec = self.specs.get(topic)
            if spec is None:
                raise ConfigError("no table for topic", topic=topic)
            refused: list[Rejection] = []
            if spec is ENRICHED and self.vouching is not None:
                messages, refused = self.vouching.split(messages)
            files = prepare(spec.record, messages, self._parts, self._reencoders[spec.record])
            files.rejected[:0] = refused
            tables[topic] = (spec, files)
        return PreparedBatch(batch, tables)

    def write(self, prepared: PreparedBatch) -> None:
        for topic, (spec, files) in prepared.tables.items():
            if topic in prepared.written:
                continue
            self._write_table(spec, files, prepared.batch.token(topic))
            for rejection in files.rejected:
                self.dead_letters.send(rejection.message, rejection.reason, rejection.detail)
            unvouched = [r for r in files.rejected if r.reason == REASON]
            if unvouched:
                self._alert_unvouched(unvouched)
            prepared.written.add(topic)
            if self.conflicts is not None and spec is ENRICHED and files.accepted:
                self.conflicts.check()

    def _alert_unvouched(self, refused: list[Rejection]) -> None:
        alert = refusal_alert(refused)
        log.warning("%s", alert["summary"])
        if self.conflicts is not None:
            self.conflicts.send([alert])

    def _write_table(self, spec: TableSpec, files: Prepared, token: str) -> None:
        try:
            self.writer.write(spec, files.files, token)
            self.rows_written += len(files.accepted)
        except BatchRejectedError:
            lost = salvage(
                spec.record,
                files.accepted,
                token,
                lambda messages, sub_token: self._insert(spec, messages, sub_token),
                self.dead_letters.send,
            )
            self.rows_written += len(files.accepted) - lost

    def _insert(self, spec: TableSpec, messages: Sequence[Any], token: str) -> None:
        again = prepare(spec.record, messages, 1, self._reencoders[spec.record])
        self.writer.write(spec, again.files, token)
