"""The chain covers keyed digests of the personal identifiers, not the identifiers.

Session id, resource URI and prompt name are chained as HMAC-SHA256 under the value
digest key (schemas.integrity.DIGESTED), so erasure can clear them and verify still
passes. Here the events as published (the compiled sealer where built), decoded by the
official Apache Avro library, carry digests the standard library's ``hmac`` recomputes
from the values, and the contract's chain hash over that decoding is each event's hash.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path

import pytest

from producers import api, runtime
from producers.actor import acting_as
from producers.auditor import Auditor
from producers.event.origin import producer_info
from schemas.integrity import chain_hash
from schemas.kafka import KafkaSettings
from tests.producers.conftest import producer_settings
from tests.producers.privacy.test_redact_fields import Published
from tests.schemas.oracle import official_decode

pytestmark = pytest.mark.broker
KEY = b"value-digest-key-for-this-test-0123"


@pytest.fixture
def keyed_auditor(kafka_settings: KafkaSettings, tmp_path: Path) -> Iterator[Auditor]:
    (tmp_path / "digest.key").write_bytes(KEY)
    settings = producer_settings(tmp_path, value_digest_key_file=tmp_path / "digest.key")
    built = runtime.configure(settings, kafka_settings)
    assert built is not None
    try:
        yield built
    finally:
        runtime.shutdown()


def _oracle(value: str) -> str:
    return hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()


def test_personal_chained_values_are_chained_as_keyed_digests(
    keyed_auditor: Auditor, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = Published(keyed_auditor, monkeypatch)
    actor = keyed_auditor.actor(user_id="alice", session_id="sess-alice-laptop-1")
    with acting_as(actor):
        for _ in range(2):  # the second time from the caches
            api.resource_accessed("file:///home/alice/diary.txt")
            api.prompt_executed("alice-medical-summary")
    keyed_auditor.record("SESSION_START", producer_info("api"), actor=actor)

    events = [official_decode(v, "AuditEvent") for v in published.take()]
    assert len(events) == 5
    for event in events:
        assert event["actor"]["session_digest"] == _oracle("sess-alice-laptop-1")
        target = event["target"]
        for name in ("resource_uri", "prompt_name"):
            expected = None if target[name] is None else _oracle(target[name])
            assert target[f"{name}_digest"] == expected
        integrity = event["integrity"]
        assert chain_hash(integrity["prev_hash"], event) == integrity["hash"]
        # The clear values are outside the chain: erasing them keeps the hash.
        event["actor"]["session_id"] = ""
        target["resource_uri"] = target["prompt_name"] = ""
        assert chain_hash(integrity["prev_hash"], event) == integrity["hash"]
    assert {e["target"]["resource_uri_digest"] for e in events[::2][:2]} == {
        _oracle("file:///home/alice/diary.txt")
    }
