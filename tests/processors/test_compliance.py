from __future__ import annotations

import pytest

from processors.features import features
from processors.rules_file import load_rules
from tests.schemas.factories import audit_event


def _lineage(*categories: str) -> dict[str, object]:
    return {
        "operation": "read",
        "sources": [],
        "destinations": [],
        "data_categories": list(categories),
    }


@pytest.mark.parametrize(
    ("categories", "tags", "days"),
    [
        (("phi",), ["HIPAA"], 2190),
        (("pan",), ["PCI-DSS"], 365),
        (("pii",), ["GDPR", "CCPA"], 730),
        ((), [], 365),
    ],
)
def test_categories_pick_frameworks_and_retention(
    categories: tuple[str, ...], tags: list[str], days: int
) -> None:
    event = audit_event(lineage=_lineage(*categories))
    event["target"]["classification"] = "MEDIUM"
    result = load_rules().compliance.tag(features(event), policy_retention_days=30)
    assert result.tags == tags
    assert result.retention_days == days


def test_classification_and_event_type_tag_soc2_and_pci() -> None:
    event = audit_event(event_type="PERMISSION_CHANGE")
    result = load_rules().compliance.tag(features(event), policy_retention_days=365)
    assert result.tags == ["PCI-DSS", "SOC2"]


def test_policy_retention_longer_than_any_framework_is_kept() -> None:
    result = load_rules().compliance.tag(features(audit_event()), policy_retention_days=3650)
    assert result.retention_days == 3650
