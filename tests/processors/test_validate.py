from __future__ import annotations

from typing import Any

import pytest

from processors.errors import InvalidEventError
from processors.features import features
from processors.validate import check_event
from schemas.integrity import to_micros
from tests.schemas.factories import audit_event

DAY_US = 86_400_000_000


def _check(event: dict[str, Any], now_us: int | None = None) -> None:
    now = to_micros(event["event_time"]) if now_us is None else now_us
    check_event(event, features(event), now, max_future_us=DAY_US, max_age_us=365 * DAY_US)


def test_a_good_event_passes() -> None:
    _check(audit_event())


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e: e.update(event_id=""), "missing-field"),
        (lambda e: e["target"].update(server_id=""), "missing-field"),
        (lambda e: e.update(call_id=""), "missing-field"),
        (lambda e: e["outcome"].update(duration_us=-5), "absurd-value"),
        (lambda e: e["outcome"].update(result_size=-1), "absurd-value"),
        (lambda e: e["integrity"].update(seq=0), "absurd-value"),
        (lambda e: e["compliance"].update(retention_days=65536), "out-of-range"),
        (lambda e: e["compliance"].update(retention_days=36501), "out-of-range"),
        (lambda e: e["compliance"].update(retention_days=0), "out-of-range"),
        (lambda e: e["compliance"].update(retention_days=-1), "out-of-range"),
    ],
)
def test_absurd_or_missing_values_are_refused(change: Any, reason: str) -> None:
    event = audit_event()
    change(event)
    with pytest.raises(InvalidEventError) as raised:
        _check(event)
    assert raised.value.reason == reason


@pytest.mark.parametrize("offset_days", [3 * 365, -2 * 365])
def test_timestamps_years_away_are_refused(offset_days: int) -> None:
    event = audit_event()
    now = to_micros(event["event_time"]) - offset_days * DAY_US
    with pytest.raises(InvalidEventError) as raised:
        _check(event, now)
    assert raised.value.reason == "absurd-time"


@pytest.mark.parametrize("days", [1, 36500])
def test_the_ends_of_the_retention_range_pass(days: int) -> None:
    event = audit_event()
    event["compliance"]["retention_days"] = days
    _check(event)
