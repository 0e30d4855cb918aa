"""An alert as OCSF API Activity: class, severity, times, ai_tool, placeholders, and every
document valid OCSF as pydantic-ocsf judges it (tests/sinks/siem/ocsf_oracle.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from schemas import registry
from schemas.wire import Deserializer, SingleObjectSerializer
from sinks.siem.ocsf import (
    ANONYMOUS_USER,
    OCSF_VERSION,
    PIPELINE_SOURCE,
    PIPELINE_USER,
    UNKNOWN_OPERATION,
    UNKNOWN_SOURCE,
    epoch_ms,
    to_ocsf,
)
from tests.schemas.factories import alert
from tests.schemas.strategies import for_schema
from tests.sinks.siem.ocsf_oracle import COMPLETE, VERSIONS, ocsf_problems

PIPELINE = {"user_pseudonym": None, "server_id": None, "tool_name": None, "tenant_id": None}
# Every shape of alert the processors raise: a user's call, a call by no known
# user, one naming no tool, a tool without a server, the detectors that name an
# address or a host, and the pipeline's own alerts.
SHAPES: dict[str, dict[str, Any]] = {
    "user-server-tool": {},
    "anonymous": {"user_pseudonym": None},
    "server-no-tool": {"tool_name": None, "detector": "enumeration"},
    "tool-no-server": {"server_id": None},
    "no-tenant": {"tenant_id": None},
    "first-seen-ip": {"detector": "first_seen_ip", "attributes": {"ip": "203.0.113.7"}},
    "first-seen-ipv6": {"detector": "first_seen_ip", "attributes": {"ip": "2001:db8::7"}},
    "not-an-ip": {"detector": "first_seen_ip", "attributes": {"ip": "10.0.0.300"}},
    "heartbeat-missing": {
        **PIPELINE,
        "detector": "heartbeat_missing",
        "attributes": {"stream_id": "s1", "host": "web-1", "silent_s": "95"},
    },
    "sequence-gap": {
        **PIPELINE,
        "detector": "sequence_gap",
        "attributes": {"stream_id": "s1", "first_missing": "7", "missing": "2"},
    },
    "consumer-stall": {**PIPELINE, "detector": "consumer_stall", "attributes": {"lag": "9"}},
    "unknown-severity": {"severity": "CATASTROPHIC"},
}


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


@pytest.mark.parametrize("version", COMPLETE)
@pytest.mark.parametrize("shape", SHAPES)
def test_every_kind_of_alert_is_valid_ocsf(version: str, shape: str) -> None:
    """The class's required src_endpoint, actor and api.operation are always there."""
    document = orjson.loads(orjson.dumps(to_ocsf(alert(**SHAPES[shape]))))
    assert ocsf_problems(document, version) == []


@pytest.mark.parametrize("version", sorted(set(VERSIONS) - set(COMPLETE) - {"1.0.0"}))
@pytest.mark.parametrize("shape", SHAPES)
def test_older_models_accept_every_kind_of_alert(version: str, shape: str) -> None:
    """1.1.0-1.3.0: required attributes, types and constraints (see ocsf_oracle)."""
    assert ocsf_problems(to_ocsf(alert(**SHAPES[shape])), version) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=for_schema(registry.current("Alert").schema))
def test_any_alert_the_contract_allows_is_valid_ocsf(record: dict[str, Any]) -> None:
    document = orjson.loads(orjson.dumps(to_ocsf(record)))
    assert ocsf_problems(document, "1.7.0") == []


def test_the_oracle_refuses_what_the_class_requires_or_does_not_know() -> None:
    """The judge can fail: without src_endpoint, with an empty one, a misspelt attribute."""
    document = to_ocsf(alert())
    assert ocsf_problems(document, "1.7.0") == []
    changes: list[Callable[[dict[str, Any]], object]] = [
        lambda d: d.pop("src_endpoint"),
        lambda d: d.update(src_endpoint={"port": 443}),
        lambda d: d["api"].pop("operation"),
        lambda d: d.pop("actor"),
        lambda d: d["api"].update(servce={"name": "files"}),
        lambda d: d.update(src_endpoint_ip="203.0.113.7"),
    ]
    for change in changes:
        broken = orjson.loads(orjson.dumps(document))
        change(broken)
        assert ocsf_problems(broken, "1.7.0"), broken


def test_a_pipeline_alert_names_the_pipeline_as_actor_operation_and_source() -> None:
    document = to_ocsf(alert(**SHAPES["sequence-gap"]))

    assert document["actor"] == {"user": PIPELINE_USER}
    assert document["api"] == {"operation": "pipeline", "service": {"name": "mcp-audit"}}
    assert document["src_endpoint"] == PIPELINE_SOURCE
    for absent in ("ai_tool",):
        assert absent not in document
    assert "profiles" not in document["metadata"]
    assert "tenant_uid" not in document["metadata"]


def test_a_producer_host_a_detector_names_is_the_source() -> None:
    document = to_ocsf(alert(**SHAPES["heartbeat-missing"]))
    assert document["src_endpoint"] == {"hostname": "web-1"}


def test_an_address_a_detector_names_is_the_source_and_anything_else_is_unknown() -> None:
    assert to_ocsf(alert(**SHAPES["first-seen-ip"]))["src_endpoint"] == {"ip": "203.0.113.7"}
    assert to_ocsf(alert(**SHAPES["not-an-ip"]))["src_endpoint"] == UNKNOWN_SOURCE
    assert to_ocsf(alert())["src_endpoint"] == UNKNOWN_SOURCE


def test_the_anonymous_user_is_an_actor_too() -> None:
    document = to_ocsf(alert(user_pseudonym=None))
    assert document["actor"] == {"user": ANONYMOUS_USER}
    assert document["api"] == {"operation": "read_file", "service": {"name": "files"}}


def test_an_alert_with_a_server_but_no_tool_has_an_operation() -> None:
    document = to_ocsf(alert(tool_name=None))
    assert document["api"] == {"operation": UNKNOWN_OPERATION, "service": {"name": "files"}}
    assert "ai_tool" not in document


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
