"""The hash chain covers identifiers and digests, not raw personal data."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

from schemas.integrity import chain_hash, to_micros
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.schemas.factories import audit_event


def test_hash_changes_when_a_chained_field_changes() -> None:
    event = audit_event()
    altered = copy.deepcopy(event)
    altered["outcome"]["status"] = "ERROR"
    assert chain_hash("", altered) != chain_hash("", event)


def test_hash_depends_on_the_previous_hash() -> None:
    event = audit_event()
    assert chain_hash("a" * 64, event) != chain_hash("b" * 64, event)


def test_erasing_personal_data_keeps_the_hash() -> None:
    event = audit_event()
    erased = copy.deepcopy(event)
    erased["actor"]["ip"] = None
    erased["actor"]["user_agent"] = None
    erased["payload"]["args_json"] = None
    assert chain_hash("", erased) == event["integrity"]["hash"]


def test_hash_survives_the_wire_round_trip() -> None:
    event = audit_event()
    decoded = Deserializer("AuditEvent")(SingleObjectSerializer("AuditEvent")(event))
    assert chain_hash("", decoded) == event["integrity"]["hash"]


def test_naive_utc_and_aware_times_hash_alike() -> None:
    aware = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert to_micros(aware.replace(tzinfo=None)) == to_micros(aware) == 1767323045000006
