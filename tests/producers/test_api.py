"""The plain API records lineage, context operations and changes, with values only as digests."""

from __future__ import annotations

import pytest

from producers import api
from producers.actor import acting_as
from producers.auditor import Auditor
from schemas.kafka import KafkaSettings
from tests.producers.conftest import CANARY, consume

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
