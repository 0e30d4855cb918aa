"""The plain API records lineage, context operations and changes, with values only as digests."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from producers import api, runtime
from producers.actor import acting_as
from producers.auditor import Auditor
from producers.errors import ProducerError
from schemas.kafka import KafkaSettings
from tests.producers.conftest import CANARY, consume, producer_settings

pytestmark = pytest.mark.broker


def test_api_events_arrive_with_lineage_and_digests(
    auditor: Auditor, kafka_settings: KafkaSettings
) -> None:
    actor = auditor.actor(user_id="alice@example.com", client_id="claude", on_behalf_of="bob")
    with acting_as(actor):
        api.resource_accessed(
            "db://patients/42", sources=["db://patients/42"], destinations=["context://agent-7"],
            data_categories=["phi"],
        )  # fmt: skip
        api.context_operation(
            "summarise", sources=["context://agent-7"], destinations=["mail://out"]
        )
        api.permission_changed("carol", "files:write", old=False, new=True)
        api.config_changed("smtp_password", old="hunter2", new=CANARY)
    assert auditor.publisher.flush(10) == 0
    raw = consume(kafka_settings, 4, raw=True, timeout_s=10)
    assert all(
        CANARY.encode() not in m.value() and b"alice@example.com" not in m.value() for m in raw
    )
    events = {e["event_type"]: e for e in consume(kafka_settings, 4, timeout_s=5)}
    read = events["RESOURCE_READ"]
    assert read["target"]["resource_uri"] == "db://patients/42"
    assert read["lineage"]["destinations"] == ["context://agent-7"]
    assert read["lineage"]["data_categories"] == ["phi"]
    assert read["actor"]["user_pseudonym"] == auditor.pseudonymise("alice@example.com")
    assert read["actor"]["delegation"]["delegator_pseudonym"] == auditor.pseudonymise("bob")
    assert events["CONTEXT_OPERATION"]["lineage"]["operation"] == "summarise"
    change = events["CONFIG_CHANGE"]["attributes"]
    assert change["attribute"] == "smtp_password" and len(change["new_digest"]) == 64
    subject = events["PERMISSION_CHANGE"]["attributes"]
    assert subject["subject"] == auditor.pseudonymise("carol")
    assert subject["subject_key_id"] == auditor.pseudonymise.key_id


def test_changed_values_are_keyed_digests_the_key_holder_checks(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    """A config password was one dictionary lookup away as unsalted SHA-256."""
    key = tmp_path / "digest.key"
    key.write_bytes(b"digest-key-0123456789abcdef\n")
    settings = producer_settings(tmp_path, value_digest_key_file=key, value_digest_key_id="d-2026")
    assert runtime.configure(settings, kafka_settings) is not None
    try:
        api.config_changed("db_password", old="hunter2", new="correct horse")
        api.permission_changed("carol", "admin", old=False, new=True)
        assert runtime.get_auditor().publisher.flush(10) == 0  # type: ignore[union-attr]
    finally:
        runtime.shutdown()
    events = {e["event_type"]: e for e in consume(kafka_settings, 2, timeout_s=10)}
    change = events["CONFIG_CHANGE"]
    assert change["compliance"]["value_digest_key_id"] == "d-2026"
    keyed = hmac.new(b"digest-key-0123456789abcdef", b'"hunter2"', hashlib.sha256).hexdigest()
    assert change["attributes"]["old_digest"] == keyed
    assert change["attributes"]["old_digest"] != hashlib.sha256(b'"hunter2"').hexdigest()
    assert "new_digest" in change["attributes"]
    grant = events["PERMISSION_CHANGE"]["attributes"]
    assert grant["new_digest"] != hashlib.sha256(b"true").hexdigest()
    assert (
        grant["new_digest"]
        == hmac.new(b"digest-key-0123456789abcdef", b"true", hashlib.sha256).hexdigest()
    )


def test_one_key_for_pseudonyms_and_digests_is_refused(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    key = tmp_path / "one.key"
    key.write_bytes(b"the-same-key-0123456789")
    settings = producer_settings(tmp_path, hmac_key_file=key, value_digest_key_file=key)
    with pytest.raises(ProducerError):
        runtime.build_auditor(settings, kafka_settings)


@pytest.mark.parametrize("role", ["hmac_key_file", "value_digest_key_file"])
@pytest.mark.parametrize("form", ["hex text", "raw bytes"])
def test_an_origin_key_equal_to_another_key_is_refused_unechoed(
    kafka_settings: KafkaSettings, tmp_path: Path, role: str, form: str
) -> None:
    # One key file copied for two jobs (the origin key is read as hex, the others as
    # raw bytes), or the same bytes: whoever holds the origin key (the processors too)
    # could recompute every pseudonym or value digest.
    secret = bytes(range(100, 132))
    origin = tmp_path / "origin.key"
    origin.write_text(secret.hex() + "\n")
    other = tmp_path / "other.key"
    other.write_bytes(secret.hex().upper().encode() + b"\n" if form == "hex text" else secret)
    fields = {role: other, "origin_key_file": origin, "origin_key_id": "o1"}
    settings = producer_settings(tmp_path, **fields)
    with pytest.raises(ProducerError) as refused:
        runtime.build_auditor(settings, kafka_settings)
    text = str(refused.value) + repr(refused.value.__dict__)
    assert "must differ from the" in text and "origin key" in text
    assert secret.hex() not in text.lower() and repr(secret) not in text
