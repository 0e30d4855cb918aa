"""Policy files classify tools by exact name, then first matching glob, then the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers.errors import PolicyError
from producers.policy import load_policy

POLICY = """
version = "2026-11"
default_class = "low"

[tools]
"charge_card" = "critical"
"patient_*" = "high"
"*_admin" = "Critical"

[classes.high]
keep_results = true
retention_days = 3000
"""


def test_classes_and_rules_from_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    policy = load_policy(path)
    assert policy.version == "2026-11"
    card = policy.rule_for("charge_card")
    assert (card.classification, card.fail_closed, card.keep_values, card.retention_days) == (
        "CRITICAL", True, False, 2555,
    )  # fmt: skip
    patient = policy.rule_for("patient_lookup")
    assert (patient.classification, patient.keep_results, patient.retention_days) == (
        "HIGH", True, 3000,
    )  # fmt: skip
    assert policy.rule_for("user_admin").classification == "CRITICAL"
    other = policy.rule_for("read_file")
    assert (other.classification, other.keep_values, other.retention_days) == ("LOW", True, 365)


def test_builtin_policy_is_medium_keeping_redacted_values() -> None:
    rule = load_policy(None).rule_for("anything")
    assert (rule.classification, rule.keep_values, rule.keep_results, rule.fail_closed) == (
        "MEDIUM", True, False, False,
    )  # fmt: skip


@pytest.mark.parametrize(
    "text",
    ['[tools]\n"x" = "secret"', "[classes.high]\nkeep_everything = true", "colour = 1", "[tools"],
)
def test_bad_policy_files_are_clear_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PolicyError):
        load_policy(path)
