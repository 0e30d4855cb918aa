"""One batch of raw messages in, enriched events, alerts and dead letters out. No I/O.

Lifecycle: one :class:`BatchEnricher` per worker, holding the correlator,
detectors, alert folder and self-watch. :meth:`process` never raises for a bad
message: it becomes a dead letter with the reason. Every good raw message
yields exactly one enriched message (attempts included, as ATTEMPT), so the
store receives every event the integrity chain covers; an expired attempt
yields one more, INCOMPLETE, under the same event id.
"""

from __future__ import annotations

import logging
from typing import Any

from processors.alerts import AlertFolder
from processors.correlation import CallCorrelator, PendingAttempt, call_key
from processors.detectors.base import Finding
from processors.detectors.suite import DetectorSuite
from processors.enrich import enrichment_fields
from processors.enriched_wire import EnrichedWriter
from processors.errors import InvalidEventError, UnverifiedOriginError
from processors.features import EVENT_PROJECTION, FeatureReader, Features
from processors.messages import BatchOutput, EnrichCounters, OutMessage, RawMessage, dead_letter
from processors.origin import OriginCheck
from processors.rules import RiskRules
from processors.validate import check_event
from processors.watch.facts import StreamFactsCollector
from schemas.errors import DeserializationError
from schemas.models import INCOMPLETE_DETECTOR
from schemas.wire import Deserializer, SingleObjectSerializer

log = logging.getLogger(__name__)


class BatchEnricher:
    def __init__(
        self,
        rules: RiskRules,
        detectors: DetectorSuite,
        correlator: CallCorrelator,
        folder: AlertFolder,
        *,
        max_future_us: int,
        max_age_us: int,
        version: str,
        registry_url: str | None = None,
        origin: OriginCheck | None = None,
    ) -> None:
        self.rules, self.detectors, self.correlator = rules, detectors, correlator
        self.origin = origin  # None: origin not checked
        self.folder = folder
        self.streams = StreamFactsCollector()
        self.max_future_us, self.max_age_us, self.version = max_future_us, max_age_us, version
        # Both framings: single-object, and Confluent's when a registry is configured.
        # Only the fields enrichment reads: the writer reuses the raw bytes for the rest.
        self.decode = Deserializer("AuditEvent", registry_url, projection=EVENT_PROJECTION)
        self.features = FeatureReader()
        self.writer = EnrichedWriter()
        self.encode_alert = SingleObjectSerializer("Alert")
        self.counters = EnrichCounters()
        self.user_partitions: dict[str, int] = {}

    def process(self, messages: list[RawMessage], now_us: int) -> BatchOutput:
        """Enrich every message; bad ones become dead letters. Also runs :meth:`tick`."""
        out = BatchOutput()
        self.enrich(messages, now_us, out)
        self.finish(now_us, out)
        return out

    def enrich(self, messages: list[RawMessage], now_us: int, out: BatchOutput) -> None:
        """Part of a batch into ``out`` (a caller may split a batch to yield between parts)."""
        for message in messages:
            try:
                self._one(message, now_us, out)
            except (DeserializationError, InvalidEventError) as exc:
                self._dead(message, exc.reason, str(exc), out)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self._dead(message, "invalid-value", repr(exc), out)

    def finish(self, now_us: int, out: BatchOutput) -> None:
        """Close a batch: :meth:`tick`, and the self-watch's facts of the batch."""
        self.tick(now_us, out)
        out.watch = self.streams.drain()

    def tick(self, now_us: int, out: BatchOutput) -> None:
        """Time-driven output: expired attempts, closed alert windows, pipeline findings."""
        for pending in self.correlator.expired(now_us):
            self._incomplete(pending, now_us, out)
        for alert in self.folder.close_expired(now_us):
            out.alerts.append(OutMessage(_alert_key(alert), self.encode_alert(alert)))

    def take_changed_users(self) -> set[str]:
        """The users whose detector state changed since the last call, whose changelog
        entries are due; the next call starts a new set."""
        users, self.detectors.dirty_users = self.detectors.dirty_users, set()
        return users

    def forget_partitions(self, partitions: set[int]) -> int:
        """Drop the pending attempts of ``partitions``, revoked from this worker (their new
        owner correlates the results); returns how many were dropped."""
        return self.correlator.forget_partitions(partitions)

    def _one(self, message: RawMessage, now_us: int, out: BatchOutput) -> None:
        event = self.decode(message.value)
        facts = self.features(event)
        check_event(event, facts, now_us, self.max_future_us, self.max_age_us)
        if self.origin is not None:
            try:  # before any state: a forged event changes none of it
                self.origin.check(event)
            except UnverifiedOriginError as exc:
                self.alert(exc.finding, facts, now_us, out)  # the alert names whom it claims
                raise
        self.user_partitions[facts.user] = message.partition
        self.streams.add(event)
        findings = self.detectors.observe(facts, event)
        attempt = self._correlate(message, event, facts, now_us)
        anomalies = [_anomaly(f) for f in findings] if findings else []  # most have none
        fields = enrichment_fields(
            event, facts, self.rules, anomalies=anomalies,
            attempt=attempt, incomplete=False, now_us=now_us, version=self.version,
        )  # fmt: skip
        raw = message.value or b""
        out.enriched.append(OutMessage(message.key, self.writer.write(raw, event, fields)))
        self.counters.events += 1
        for finding in findings:
            self.alert(finding, facts, now_us, out)

    def _correlate(
        self, message: RawMessage, event: dict[str, Any], facts: Features, now_us: int
    ) -> PendingAttempt | None:
        """Remember an attempt; for a result, the attempt it answers (None if unseen)."""
        if facts.phase == "RESULT":
            return self.correlator.result(call_key(facts.server, event["call_id"]))
        if facts.phase == "ATTEMPT":
            key = call_key(facts.server, event["call_id"])
            raw = message.value or b""
            self.correlator.attempt(
                key, event, facts.time_us, now_us, raw, message.key, message.partition
            )
        return None

    def _incomplete(self, pending: PendingAttempt, now_us: int, out: BatchOutput) -> None:
        facts = self.features(pending.event)
        finding = Finding(
            INCOMPLETE_DETECTOR,
            "MEDIUM",
            1.0,
            f"call {pending.event['call_id']} to {facts.server}/{facts.tool} never returned",
            facts.user or facts.server,
            {"call_id": pending.event["call_id"]},
        )
        fields = enrichment_fields(
            pending.event,
            facts,
            self.rules,
            anomalies=[_anomaly(finding)],
            attempt=None,
            incomplete=True,
            now_us=now_us,
            version=self.version,
        )
        out.enriched.append(
            OutMessage(pending.key, self.writer.write(pending.message, pending.event, fields))
        )
        self.counters.incomplete += 1
        self.alert(finding, facts, now_us, out)

    def alert(
        self, finding: Finding, facts: Features | None, now_us: int, out: BatchOutput
    ) -> None:
        alert = self.folder.add(finding, facts, now_us)
        if alert is not None:
            out.alerts.append(OutMessage(_alert_key(alert), self.encode_alert(alert)))
            self.counters.alerts += 1

    def _dead(self, message: RawMessage, reason: str, detail: str, out: BatchOutput) -> None:
        out.dead.append(dead_letter(message, reason, detail))
        self.counters.count_dead(reason)
        log.warning(
            "dead letter %s at %s[%d]@%d: %s",
            reason, message.topic, message.partition, message.offset, detail,
        )  # fmt: skip


def _anomaly(finding: Finding) -> dict[str, Any]:
    return {"detector": finding.detector, "score": float(finding.score), "detail": finding.summary}


def _alert_key(alert: dict[str, Any]) -> bytes | None:
    user = alert["user_pseudonym"]
    return user.encode() if user else None
