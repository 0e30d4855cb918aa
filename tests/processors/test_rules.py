from __future__ import annotations

from pathlib import Path

import pytest

from processors.errors import RulesError
from processors.features import features
from processors.rules_file import default_rules_text, load_rules
from tests.schemas.factories import audit_event


def test_a_plain_read_is_low_risk() -> None:
    risk = load_rules().assess(features(audit_event()), [], incomplete=False)
    assert risk.level == "LOW"
    assert risk.reasons == ["classification:HIGH"]


def test_destructive_tool_on_critical_data_with_failures_is_critical() -> None:
    event = audit_event()
    event["target"].update(tool_name="delete_records", classification="CRITICAL")
    event["target"]["annotations"]["destructive"] = True
    event["outcome"]["status"] = "DENIED"
    risk = load_rules().assess(features(event), ["rate_spike"], incomplete=False)
    assert risk.level == "CRITICAL"
    assert risk.score == 100
    for reason in (
        "tool:destructive",
        "annotation:destructive",
        "outcome:DENIED",
        "anomaly:rate_spike",
    ):
        assert reason in risk.reasons


def test_auth_failure_privileged_scope_and_large_result_add_up() -> None:
    event = audit_event(event_type="AUTH_FAILURE")
    event["actor"]["scopes"] = ["files:read", "admin"]
    event["outcome"]["result_size"] = 5_000_000
    risk = load_rules().assess(features(event), [], incomplete=False)
    assert {"event:AUTH_FAILURE", "scope:privileged", "result:large"} <= set(risk.reasons)
    assert risk.score == 15 + 30 + 15 + 15


def test_incomplete_call_is_a_risk_signal() -> None:
    risk = load_rules().assess(features(audit_event()), [], incomplete=True)
    assert "call:incomplete" in risk.reasons


def test_custom_rules_file_changes_scores(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(default_rules_text().replace("HIGH = 15", "HIGH = 60", 1))
    risk = load_rules(path).assess(features(audit_event()), [], incomplete=False)
    assert risk.score == 60
    assert risk.level == "HIGH"


@pytest.mark.parametrize(
    "text",
    ["not toml [", "[levels]\nmedium = 90\nhigh = 50\ncritical = 75\n", "[levels]\n"],
)
def test_invalid_rules_are_a_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    with pytest.raises(RulesError) as raised:
        load_rules(path)
    assert raised.value.fields["path"] == str(path)


def test_unknown_compliance_framework_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(default_rules_text().replace('tag = "SOC2"', 'tag = "SOX"'))
    with pytest.raises(RulesError):
        load_rules(path)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("default_retention_days = 365", "default_retention_days = 65536"),
        ("default_retention_days = 365", "default_retention_days = 0"),
        ("default_retention_days = 365", 'default_retention_days = "365"'),
        ("retention_days = 2190", "retention_days = 70000"),
        ("retention_days = 2190", "retention_days = 2190.5"),
        ("retention_days = 2190", "retention_days = true"),
    ],
)
def test_retention_out_of_range_or_of_the_wrong_type_is_refused(
    tmp_path: Path, old: str, new: str
) -> None:
    path = tmp_path / "rules.toml"
    text = default_rules_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(RulesError) as raised:
        load_rules(path)
    assert "retention_days" in str(raised.value.__cause__)
