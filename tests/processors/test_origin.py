"""Origin: what no key the processors hold vouches for is dead-lettered and alerted.

Written as the attacker of issue 14 would: a new, validly chained stream crediting a
real user's pseudonym with ``delete_records`` SUCCESS, published straight to the raw
topic of the real broker, unkeyed, under an unknown key id, or under the right key id
with the attacker's own key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from typing import Any

import pytest

from processors.errors import UnverifiedOriginError
from processors.origin import DETECTOR, OriginCheck
from processors.settings import ProcessorSettings
from processors.wiring import build_enricher, record_signer
from schemas.errors import ConfigError
from schemas.integrity import OriginKey, chain_hash
from schemas.integrity import load_key_dir as load_keys
from schemas.kafka import HEADER_DLQ_REASON, KafkaSettings
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.processors.helpers import raw
from tests.processors.worker import Workers, keyed, produce, read_until, user_event

ENCODE = SingleObjectSerializer("AuditEvent")
ENRICHED = Deserializer("EnrichedEvent")
ALERT = Deserializer("Alert")
KEY = OriginKey("o1", bytes(range(32)))
VICTIM = "f" * 64  # a real user's pseudonym


def signed(event: dict[str, Any], key: OriginKey = KEY) -> dict[str, Any]:
    """What a producer holding ``key`` sends: the stdlib HMAC of the link's bytes."""
    link = bytes.fromhex(event["integrity"]["hash"])
    event["integrity"]["key_id"] = key.key_id
    event["integrity"]["mac"] = hmac.new(key.key, link, hashlib.sha256).hexdigest()
    return event


def forged_stream(
    count: int, stream: str = "forged-stream", tool: str = "delete_records"
) -> list[dict[str, Any]]:
    """A validly chained stream: every hash recomputes, as verify checks it."""
    events, previous = [], ""
    for seq in range(1, count + 1):
        event = user_event(seq, user=VICTIM, phase="RESULT", call_id=f"{stream}-{seq}")
        event["target"]["tool_name"] = tool
        event["integrity"].update(stream_id=stream, seq=seq, prev_hash=previous)
        event["integrity"]["hash"] = chain_hash(previous, event)
        previous = event["integrity"]["hash"]
        events.append(event)
    return events


def keys_dir(tmp_path: Path, *keys: OriginKey) -> Path:
    directory = tmp_path / "origin-keys"
    directory.mkdir()
    for key in keys:
        path = directory / f"{key.key_id}.key"
        path.write_text(key.key.hex() + "\n")
        path.chmod(0o600)
    return directory


def test_a_held_key_vouches_and_everything_else_is_refused_with_why() -> None:
    check = OriginCheck([KEY, OriginKey("o2", b"\x07" * 40)])
    genuine = signed(forged_stream(1)[0])
    check.check(genuine)
    check.check(signed(forged_stream(1)[0], OriginKey("o2", b"\x07" * 40)))  # rotated key
    attackers = OriginKey("o1", os.urandom(32))
    cases = {
        "unsigned": forged_stream(1)[0],
        "unknown-key": signed(forged_stream(1)[0], OriginKey("o9", os.urandom(32))),
        "bad-mac": signed(forged_stream(1)[0], attackers),
    }
    relinked = signed(forged_stream(1)[0])
    relinked["integrity"]["hash"] = "0" * 64  # a MAC lifted onto another link
    cases["bad-mac "] = relinked
    for why, event in cases.items():
        with pytest.raises(UnverifiedOriginError) as refused:
            check.check(event)
        assert refused.value.fields["why"] == why.strip()
        assert refused.value.reason == "unverified-origin"
        assert KEY.key.hex() not in str(refused.value.fields)  # never echoes a key


def test_the_enricher_dead_letters_a_forged_stream_and_raises_one_counted_alert(
    tmp_path: Path,
) -> None:
    settings = ProcessorSettings.load(environ={}, origin_keys_dir=keys_dir(tmp_path, KEY))
    enricher = build_enricher(settings, state=None)
    forged = forged_stream(5)
    genuine = signed(user_event(1, user=VICTIM, phase="EVENT", call_id=""))
    genuine["integrity"]["stream_id"] = "genuine-stream"
    genuine["integrity"]["hash"] = chain_hash("", genuine)
    signed(genuine)
    messages = [raw(ENCODE(e), offset=i) for i, e in enumerate([*forged, genuine])]

    out = enricher.process(messages, now_us=time.time_ns() // 1000)

    assert [ENRICHED(m.value)["event"]["event_id"] for m in out.enriched] == [genuine["event_id"]]
    assert [dict(m.headers)[HEADER_DLQ_REASON] for m in out.dead] == [b"unverified-origin"] * 5
    [alert] = [a for a in map(ALERT, (m.value for m in out.alerts)) if a["detector"] == DETECTOR]
    assert alert["detector"] == "unverified_origin" and alert["severity"] == "CRITICAL"
    assert alert["user_pseudonym"] == VICTIM  # whom the forgery claims
    assert "forged-stream" in alert["summary"]


def test_a_keys_directory_without_keys_stops_the_processors_from_starting(
    tmp_path: Path,
) -> None:
    empty = tmp_path / "none"
    empty.mkdir()
    (empty / "o1.key").write_text("not hex")
    with pytest.raises(ConfigError) as bad:
        load_keys(empty)
    assert "not hex" not in str(bad.value)
    (empty / "o1.key").unlink()
    with pytest.raises(ConfigError):
        load_keys(empty)


@pytest.mark.broker
@pytest.mark.slow
def test_a_forged_stream_on_the_real_broker_is_dead_lettered_and_alerted(
    kafka_settings: KafkaSettings, workers: Workers, tmp_path: Path
) -> None:
    worker = workers.start(origin_keys_dir=str(keys_dir(tmp_path, KEY)))
    worker.wait_ready()
    genuine = [signed(e) for e in forged_stream(3, stream="genuine", tool="read_file")]
    unkeyed = forged_stream(4)
    wrong_key = [signed(e, OriginKey("o1", os.urandom(32))) for e in forged_stream(2, "forged-2")]
    produce(kafka_settings, [keyed(e) for e in [*unkeyed, *genuine, *wrong_key]])

    dead = read_until(kafka_settings, kafka_settings.topic_dead_letter, 6)
    assert sorted(m.value() for m in dead) == sorted(ENCODE(e) for e in [*unkeyed, *wrong_key])
    assert {dict(m.headers())[HEADER_DLQ_REASON] for m in dead} == {b"unverified-origin"}
    enriched = read_until(kafka_settings, kafka_settings.topic_enriched, 3, timeout_s=10)
    stored = {ENRICHED(m.value())["event"]["event_id"] for m in enriched}
    assert stored == {e["event_id"] for e in genuine}
    alerts = [ALERT(m.value()) for m in read_until(kafka_settings, kafka_settings.topic_alerts, 2)]
    origin = [a for a in alerts if a["detector"] == DETECTOR]
    assert {a["attributes"]["stream_id"] for a in origin} == {"forged-stream", "forged-2"}
    assert all(a["user_pseudonym"] == VICTIM and a["severity"] == "CRITICAL" for a in origin)


def test_the_processors_key_signs_enriched_records_and_must_not_be_an_origin_key(
    tmp_path: Path,
) -> None:
    origin_dir = tmp_path / "origin"
    origin_dir.mkdir()
    key = secrets.token_hex(32)
    (origin_dir / "o1.key").write_text(key)
    (tmp_path / "p1.key").write_text(key)
    settings = ProcessorSettings.load(
        environ={}, key_file=tmp_path / "p1.key", origin_keys_dir=origin_dir
    )
    with pytest.raises(ConfigError) as shared:
        record_signer(settings)
    assert key not in str(shared.value)
    (tmp_path / "p1.key").write_text(secrets.token_hex(32))
    signer = record_signer(settings)
    assert signer is not None and signer.key_id == "p1"
    assert record_signer(ProcessorSettings.load(environ={})) is None
