"""alert_record: the one builder of Alert records, read back by the official Avro library."""

from __future__ import annotations

from schemas.alert_record import alert_record
from schemas.wire import SingleObjectSerializer
from tests.schemas.oracle import official_decode

T = 1_765_000_000_000_000


def test_a_system_alert_about_no_user_encodes_and_decodes_as_written() -> None:
    record = alert_record(
        detector="unverified_enriched", severity="CRITICAL", summary="2 refused", time_us=T,
        attributes={"refused": "2"},
    )  # fmt: skip
    decoded = official_decode(SingleObjectSerializer("Alert")(record), "Alert")
    assert decoded["count"] == 1  # a first version: verify names a higher count forged
    assert decoded["user_pseudonym"] is None and decoded["evidence_event_ids"] == []
    assert decoded["attributes"] == {"refused": "2"}
    assert decoded["window_start"] == decoded["window_end"] == decoded["alert_time"]


def test_a_window_and_evidence_are_kept() -> None:
    record = alert_record(
        detector="rate", severity="HIGH", summary="s", time_us=T, window=(T - 60, T),
        user="u1", server="srv", tool="t", tenant="acme", evidence=["e1", "e2"],
        alert_id="0194f0c8-0000-7000-8000-000000000000",
    )  # fmt: skip
    decoded = official_decode(SingleObjectSerializer("Alert")(record), "Alert")
    assert decoded["alert_id"] == "0194f0c8-0000-7000-8000-000000000000"
    assert (decoded["user_pseudonym"], decoded["tool_name"]) == ("u1", "t")
    assert decoded["evidence_event_ids"] == ["e1", "e2"]
    start, end = decoded["window_start"], decoded["window_end"]
    assert (end - start).microseconds == 60 and end == decoded["alert_time"]
