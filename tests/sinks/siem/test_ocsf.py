"""An alert as OCSF API Activity: class, severity, times, ai_tool, and nothing invented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from schemas.wire import Deserializer, SingleObjectSerializer
from sinks.siem.ocsf import OCSF_VERSION, epoch_ms, to_ocsf
from tests.schemas.factories import alert


def test_class_category_activity_and_type_uid() -> None:
    document = to_ocsf(alert())

    assert (document["class_uid"], document["category_uid"]) == (6003, 6)
    assert document["class_name"] == "API Activity"
    assert document["category_name"] == "Application Activity"
    assert document["type_uid"] == document["class_uid"] * 100 + document["activity_id"]
    assert document["type_uid"] == 600399
    assert document["type_name"] == "API Activity: Alert"


@pytest.mark.parametrize(
    ("severity", "severity_id", "caption"),
    [("LOW", 2, "Low"), ("MEDIUM", 3, "Medium"), ("HIGH", 4, "High"), ("CRITICAL", 5, "Critical")],
)
def test_severity_mapping(severity: str, severity_id: int, caption: str) -> None:
    document = to_ocsf(alert(severity=severity))
    assert (document["severity_id"], document["severity"]) == (severity_id, caption)


def test_a_severity_this_code_does_not_know_is_unknown_not_a_guess() -> None:
    document = to_ocsf(alert(severity="CATASTROPHIC"))
    assert (document["severity_id"], document["severity"]) == (0, "Unknown")


def test_times_are_epoch_milliseconds_and_the_window_is_start_and_end() -> None:
    document = to_ocsf(alert())

    assert document["time"] == 1795350660000  # 2026-11-22T12:31:00Z
    assert document["start_time"] == document["time"] - 60_000
    assert document["end_time"] == document["time"]


def test_int_microseconds_give_the_same_milliseconds_as_datetimes() -> None:
    when = datetime(2026, 11, 22, 12, 31, 5, 987654, tzinfo=UTC)
    micros = (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert epoch_ms(when) == epoch_ms(micros) == 1795350665987


def test_metadata_actor_api_and_message() -> None:
    record = alert()
    document = to_ocsf(record)

    assert document["metadata"] == {
        "version": OCSF_VERSION,
        "product": {"name": "mcp-audit", "vendor_name": "mcp-audit"},
        "uid": record["alert_id"],
        "event_code": "rate_spike",
        "profiles": ["ai_operation"],
        "tenant_uid": "acme",
    }
    assert document["actor"] == {"user": {"uid": "a" * 64}}
    assert document["api"] == {"operation": "read_file", "service": {"name": "files"}}
    assert document["message"] == record["summary"]
    assert document["count"] == 3


def test_ai_tool_names_the_mcp_tool_and_its_server() -> None:
    assert to_ocsf(alert())["ai_tool"] == {
        "name": "read_file",
        "uid": "files/read_file",
        "type_id": 1,
        "type": "Tool",
        "source_id": 1,
        "source": "MCP",
        "service": {"name": "files"},
    }


def test_detector_evidence_and_attributes_are_unmapped() -> None:
    record = alert()
    assert to_ocsf(record)["unmapped"] == {
        "detector": "rate_spike",
        "evidence_event_ids": record["evidence_event_ids"],
        "attributes": {"z_score": "9.1"},
    }


def test_an_alert_without_user_server_or_tool_invents_none() -> None:
    record = alert(
        detector="heartbeat_missing",
        user_pseudonym=None,
        server_id=None,
        tool_name=None,
        tenant_id=None,
    )
    document = to_ocsf(record)

    for absent in ("actor", "api", "ai_tool", "src_endpoint"):
        assert absent not in document
    assert "profiles" not in document["metadata"]
    assert "tenant_uid" not in document["metadata"]


def test_a_tool_without_a_server_has_no_uid_or_service() -> None:
    document = to_ocsf(alert(server_id=None))
    assert document["ai_tool"]["name"] == "read_file"
    assert "uid" not in document["ai_tool"] and "service" not in document["ai_tool"]
    assert document["api"] == {"operation": "read_file"}


def test_a_decoded_alert_maps_to_json() -> None:
    """What the forwarder does: wire bytes -> Alert dict -> OCSF -> JSON."""
    record = alert()
    decoded = Deserializer("Alert")(SingleObjectSerializer("Alert")(record))

    document = orjson.loads(orjson.dumps(to_ocsf(decoded)))

    assert document == orjson.loads(orjson.dumps(to_ocsf(record)))
    assert document["metadata"]["uid"] == record["alert_id"]


def test_the_sample_in_the_docs_is_what_the_code_makes() -> None:
    text = (Path(__file__).parents[3] / "docs" / "siem.md").read_text()
    sample = orjson.loads(text.split("```json\n", 1)[1].split("```", 1)[0])
    record = alert(
        alert_id="0b6f8f3e-4a57-4c8e-9a57-2f3c1d9e8b21",
        evidence_event_ids=["01937b2e-4c1a-7d3e-8f00-5a6b7c8d9e0f"],
    )
    assert sample == to_ocsf(record), "update the sample in docs/siem.md"
