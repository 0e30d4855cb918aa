"""The plain API records lineage, context operations and changes, with values only as digests."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers import api, runtime
from producers.actor import acting_as
from producers.auditor import Auditor
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
    assert events["PERMISSION_CHANGE"]["attributes"]["subject"] == "carol"


def test_a_sub_second_heartbeat_interval_is_reported_as_one_second(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    built = runtime.configure(producer_settings(tmp_path, heartbeat_interval_s=0.3), kafka_settings)
    assert built is not None
    try:
        beats = consume(kafka_settings, 2, heartbeats=True, timeout_s=20)
    finally:
        runtime.shutdown()
    assert len(beats) >= 2  # 0.3 s apart, not 1 s: the producer beats as configured
    assert {beat["heartbeat"]["interval_s"] for beat in beats} == {1}
