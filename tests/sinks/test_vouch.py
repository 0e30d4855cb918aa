"""Enriched records the processors' key does not vouch for are refused by the sink, on the
real broker and real chDB: written straight to the enriched topic (no MAC), under a key id
the sink does not hold, or with a MAC that does not match, each goes to the dead-letter
topic with its reason and an alert; what the processors' own delivery sends is stored."""

from __future__ import annotations

import asyncio
import secrets
import stat
import uuid
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from confluent_kafka import Producer

from processors.delivery import Delivery, OutputTopics
from processors.messages import BatchOutput, OutMessage
from schemas.integrity import OriginKey
from schemas.kafka import HEADER_DLQ_DETAIL, HEADER_DLQ_REASON, KafkaSettings
from schemas.record_mac import HEADER, REASON, RecordSigner
from schemas.wire import Deserializer
from sinks.service import Sink
from sinks.settings import SinkSettings
from sinks.vouch import DETECTOR
from tests.sinks.helpers import ENCODE_ENRICHED, varied_event
from tests.sinks.kafka_helpers import read_all, running, wait_until

pytestmark = [pytest.mark.clickhouse, pytest.mark.broker]
KEY = OriginKey("p1", secrets.token_bytes(32))


def _settings(clickhouse_url: str, client: Client, keys: Path) -> SinkSettings:
    return SinkSettings.load(
        environ={}, clickhouse_url=clickhouse_url, database=client.database,
        consumer_group=f"sink-{uuid.uuid4().hex[:8]}", batch_rows=400, batch_seconds=0.3,
        session_timeout_ms=6000, processor_keys_dir=keys,
    )  # fmt: skip


def _keys(tmp_path: Path) -> Path:
    keys = tmp_path / "processor-keys"
    keys.mkdir(mode=0o700)
    (keys / "p1.key").write_text(KEY.key.hex())
    return keys


def _processors_deliver(kafka: KafkaSettings, values: list[bytes]) -> None:
    """As the processors send enriched records: their Delivery, with their signer."""
    topics = OutputTopics(
        kafka.topic_enriched, kafka.topic_alerts, kafka.topic_dead_letter, "watch"
    )
    delivery = Delivery(kafka.client_config(), topics, 0.5, RecordSigner(KEY))
    try:
        asyncio.run(delivery.deliver(BatchOutput(enriched=[OutMessage(None, v) for v in values])))
    finally:
        delivery.close()


Headers = list[tuple[str, str | bytes | None]]


def _attacker_writes(kafka: KafkaSettings, records: list[tuple[bytes, Headers]]) -> None:
    producer = Producer(kafka.client_config())  # the broker's credentials, not the key
    for value, headers in records:
        producer.produce(kafka.topic_enriched, value=value, headers=headers)
    assert producer.flush(30) == 0


def _stored_ids(client: Client) -> set[str]:
    rows = client.query("SELECT toString(event_id) FROM audit_events FINAL").result_rows
    return {str(r[0]) for r in rows}


def test_records_no_processors_key_vouches_for_are_dead_lettered_and_alerted(
    kafka_settings: KafkaSettings, clickhouse: Client, clickhouse_url: str, tmp_path: Path
) -> None:
    honest = [varied_event(i) for i in range(300)]
    forged = [varied_event(1000 + i) for i in range(3)]
    values = [ENCODE_ENRICHED(e) for e in forged]
    other = RecordSigner(OriginKey("p9", secrets.token_bytes(32)))
    wrong_mac = RecordSigner(OriginKey("p1", secrets.token_bytes(32)))  # the id, not the key
    genuine = RecordSigner(KEY).header(ENCODE_ENRICHED(honest[0]))  # lifted onto another record
    _processors_deliver(kafka_settings, [ENCODE_ENRICHED(e) for e in honest])
    _attacker_writes(
        kafka_settings,
        [
            (values[0], []),  # straight to the topic, no MAC
            (values[1], [other.header(values[1])]),  # a key id the sink does not hold
            (values[2], [wrong_mac.header(values[2])]),  # the right id, the wrong key
        ],
    )
    _attacker_writes(kafka_settings, [(ENCODE_ENRICHED(varied_event(2000)), [genuine])])

    settings = _settings(clickhouse_url, clickhouse, _keys(tmp_path))
    with Sink(settings, kafka_settings) as sink, running(sink.run):
        assert wait_until(lambda: len(_stored_ids(clickhouse)) >= 300)
        letters = read_all(kafka_settings, kafka_settings.topic_dead_letter, 4)
        alerts = read_all(kafka_settings, kafka_settings.topic_alerts, 1)

    assert _stored_ids(clickhouse) == {e["event"]["event_id"] for e in honest}
    headers = [dict(m.headers()) for m in letters]
    assert [h[HEADER_DLQ_REASON] for h in headers] == [REASON.encode()] * 4
    details = sorted(h[HEADER_DLQ_DETAIL].decode() for h in headers)
    assert any(d.startswith("no processor MAC") for d in details)
    assert any("does not hold ('p9')" in d for d in details)
    assert sum("under key 'p1' does not match" in d for d in details) == 2
    assert {m.value() for m in letters} >= set(values)  # the records themselves, replayable
    decode = Deserializer("Alert")
    found = [decode(m.value()) for m in alerts]
    [alert] = [a for a in found if a["detector"] == DETECTOR]
    assert alert["severity"] == "CRITICAL" and "4 enriched records refused" in alert["summary"]
    assert KEY.key.hex() not in repr(found) + "".join(details)  # the key is never echoed


def test_the_header_says_which_key_and_no_key(tmp_path: Path) -> None:
    name, value = RecordSigner(KEY).header(b"record")
    assert name == HEADER and value.startswith(b"p1:") and KEY.key.hex().encode() not in value


def test_up_makes_the_processors_key_private(tmp_path: Path) -> None:
    from mcp_audit.private_files import ensure_hex_key

    key = ensure_hex_key(tmp_path / "data" / "processor-keys" / "p1.key")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    first = key.read_text()
    assert len(bytes.fromhex(first)) == 32 and ensure_hex_key(key).read_text() == first
