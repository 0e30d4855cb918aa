"""Policy files classify tools by exact name, then first matching glob, then the default."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from producers.errors import PolicyError
from producers.privacy.policy import BUILTIN_RULES, load_policy

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


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[classes.high]\nkeep_values = "false"', "classes.high.keep_values"),
        ("[classes.high]\nkeep_results = 0", "classes.high.keep_results"),
        ('[classes.critical]\nfail_closed = "no"', "classes.critical.fail_closed"),
        ("[classes.low]\nretention_days = 65536", "classes.low.retention_days"),
        ("[classes.low]\nretention_days = 0", "classes.low.retention_days"),
        ("[classes.low]\nretention_days = -1", "classes.low.retention_days"),
        ('[classes.low]\nretention_days = "365"', "classes.low.retention_days"),
        ("[classes.low]\nretention_days = 365.0", "classes.low.retention_days"),
        ("[classes.low]\nretention_days = true", "classes.low.retention_days"),
        ("version = 2026", "version"),
        ("default_class = 1", "default_class"),
        ('default_class = "secret"', "default_class"),
        ('[tools]\n"x" = 1', "tools.x"),
        ('[classes]\nhigh = "strict"', "classes.high"),
        ("[classes.topsecret]\nkeep_values = false", "classes.topsecret"),
        ("tools = []", "tools"),
    ],
)
def test_policy_values_of_the_wrong_type_or_range_are_refused_by_key(
    tmp_path: Path, text: str, key: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert key in raised.value.fields["keys"]


def test_a_refusal_names_the_key_and_never_echoes_the_value(tmp_path: Path) -> None:
    secret = "hunter2-Sup3rSecret"
    path = tmp_path / "bad.toml"
    path.write_text(f'[classes.high]\nkeep_values = "{secret}"\napi_password = "{secret}"\n')
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    error = raised.value
    assert error.fields["keys"] == ["classes.high.api_password", "classes.high.keep_values"]
    told = str(error) + repr(error.fields) + repr(error.__cause__) + repr(error.__context__)
    assert secret not in told
    assert "classes.high.keep_values" in str(error)


def test_the_largest_and_smallest_retention_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[classes.low]\nretention_days = 1\n[classes.high]\nretention_days = 36500\n")
    policy = load_policy(path)
    assert policy.rules["LOW"].retention_days == 1
    assert policy.rules["HIGH"].retention_days == 36500


@pytest.mark.parametrize(
    "change",
    [
        {"keep_values": "false"},
        {"fail_closed": 1},
        {"retention_days": 65536},
        {"retention_days": 0},
    ],
)
def test_class_rules_made_in_code_are_checked_too(change: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        replace(BUILTIN_RULES["HIGH"], **change)  # type: ignore[arg-type]
