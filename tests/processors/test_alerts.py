from __future__ import annotations

from processors.alerts import AlertFolder
from processors.detectors.base import Finding
from processors.features import features
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.schemas.factories import audit_event

FINDING = Finding("rate_spike", "HIGH", 7.5, "user spiked", "a" * 64, {"z_score": "7.5"})


def test_repeats_within_the_window_fold_into_one_counted_alert() -> None:
    folder = AlertFolder(window_us=1_000)
    facts = [features(audit_event()) for _ in range(4)]
    first = folder.add(FINDING, facts[0], now_us=0)
    assert first is not None and first["count"] == 1
    assert [folder.add(FINDING, f, now_us=10 * i) for i, f in enumerate(facts[1:])] == [None] * 3
    assert folder.close_expired(999) == []
    [final] = folder.close_expired(1_000)
    assert final["alert_id"] == first["alert_id"]
    assert final["count"] == 4
    # the store keys alerts by (alert_time, alert_id): the re-send must replace the first
    assert (final["alert_time"], final["window_end"]) == (first["alert_time"], 20)
    assert final["evidence_event_ids"] == [f.event_id for f in facts]
    assert Deserializer("Alert")(SingleObjectSerializer("Alert")(final))["count"] == 4


def test_other_user_or_detector_or_later_window_is_a_new_alert() -> None:
    folder = AlertFolder(window_us=1_000)
    facts = features(audit_event())
    assert folder.add(FINDING, facts, 0) is not None
    assert folder.add(FINDING._replace(subject="b" * 64), facts, 1) is not None
    assert folder.add(FINDING._replace(detector="error_burst"), facts, 2) is not None
    assert folder.add(FINDING, facts, 1_000) is not None


def test_single_alert_is_not_sent_twice() -> None:
    folder = AlertFolder(window_us=1_000)
    folder.add(FINDING, None, 0)
    assert folder.close_expired(5_000) == []
