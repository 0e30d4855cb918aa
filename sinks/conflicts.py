"""A later copy of a stored event that differs from it: kept out, recorded, alerted.

The store keeps the first copy of each event (migration 120: a copy of a stored
event is not stored, but the processors' INCOMPLETE version of an attempt) and
records every copy whose ``content_hash`` differs in ``audit_conflicts``. After
each write of events the sink turns the new records into alerts on the alert
topic (detector ``stored_copy_conflict``), so security sees a replayed or
rewritten event the moment it is refused, and the alert is stored like any other.

Lifecycle: one :class:`ConflictAlerts` per sink, over the sink's client. It
starts after the newest conflict already recorded, so a restart does not alert
twice; a conflict recorded while no sink ran is alerted by the next one.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from clickhouse_connect.driver.client import Client
from confluent_kafka import Producer

from schemas.alert_record import alert_record
from schemas.kafka import KafkaSettings
from schemas.wire import SingleObjectSerializer
from sinks.errors import BrokerUnavailableError

log = logging.getLogger(__name__)
DETECTOR = "stored_copy_conflict"
_COLUMNS = (
    "toUnixTimestamp64Micro(detected_at), toString(event_id), user_id, stream_id, seq,"
    " kept_hash, refused_hash, kept_call_state, refused_call_state,"
    " kept_risk_level, refused_risk_level"
)


def conflict_alert(row: tuple[Any, ...], now_us: int) -> dict[str, Any]:
    """The Alert record for one ``audit_conflicts`` row (columns as in ``_COLUMNS``)."""
    _, event_id, user, stream, seq, kept, refused, kept_state, refused_state = row[:9]
    kept_risk, refused_risk = row[9:11]
    return alert_record(
        detector=DETECTOR,
        severity="CRITICAL",
        time_us=now_us,
        summary=(
            f"a different copy of stored event {event_id} (stream {stream} seq {seq}) was"
            f" refused: kept {kept_state}/{kept_risk}, refused {refused_state}/{refused_risk}"
        ),
        user=user or None,
        evidence=[event_id],
        attributes={
            "stream_id": stream,
            "seq": str(seq),
            "kept_hash": kept,
            "refused_hash": refused,
        },
    )


class ConflictAlerts:
    def __init__(self, client: Client, kafka: KafkaSettings) -> None:
        self.client = client
        self.topic = kafka.topic_alerts
        self._producer = Producer({**kafka.client_config(), "enable.idempotence": True})
        self._encode = SingleObjectSerializer("Alert")
        newest = client.query(
            "SELECT toUnixTimestamp64Micro(max(detected_at)),"
            " argMax(toString(event_id), detected_at) FROM audit_conflicts"
        ).result_rows[0]
        self._after: tuple[int, str] = (int(newest[0]), str(newest[1]))
        self.sent = 0

    def check(self) -> int:
        """Alert on conflicts recorded since the last check; returns how many."""
        rows = self.client.query(
            f"SELECT {_COLUMNS} FROM audit_conflicts"
            " WHERE (toUnixTimestamp64Micro(detected_at), toString(event_id))"
            " > ({at:Int64}, {id:String})"
            " ORDER BY detected_at, toString(event_id) LIMIT 10000",
            parameters={"at": self._after[0], "id": self._after[1]},
        ).result_rows
        if not rows:
            return 0
        now_us = time.time_ns() // 1000
        alerts = [conflict_alert(tuple(row), now_us) for row in rows]
        for alert in alerts:
            log.warning("refused a different copy of a stored event: %s", alert["summary"])
        self.send(alerts)
        self._after = (int(rows[-1][0]), str(rows[-1][1]))
        self.sent += len(rows)
        return len(rows)

    def send(self, alerts: list[dict[str, Any]]) -> None:
        """Put Alert records on the alert topic and wait for the broker to have them
        (:class:`BrokerUnavailableError` otherwise): the sink's own alerts."""
        for alert in alerts:
            key = alert["user_pseudonym"].encode() if alert["user_pseudonym"] else None
            self._producer.produce(self.topic, self._encode(alert), key)
        if self._producer.flush(30.0):
            raise BrokerUnavailableError("the sink's alerts not acknowledged", topic=self.topic)

    def close(self) -> None:
        self._producer.flush(10.0)
