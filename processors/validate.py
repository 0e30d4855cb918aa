"""Refuse decoded events whose values make no sense, before they reach rules or state.

Pure: :func:`check_event` reads the event and the clock it is given and raises
:class:`InvalidEventError` with a dead-letter reason; it never changes the event.
"""

from __future__ import annotations

from typing import Any, NoReturn

from processors.errors import InvalidEventError
from processors.features import Features
from schemas.integrity import DAY_US
from schemas.retention import RETENTION_DAYS_MAX, RETENTION_DAYS_MIN


def check_event(
    event: dict[str, Any], facts: Features, now_us: int, max_future_us: int, max_age_us: int
) -> None:
    """Raise :class:`InvalidEventError` when a required value is empty or absurd."""
    # Checks inline, helpers only to raise: this runs for every event, and good
    # events are the ones to make cheap.
    if not event["event_id"]:
        _missing("event_id")
    if not facts.server:
        _missing("target.server_id")
    integrity = event["integrity"]
    if not integrity["stream_id"]:
        _missing("integrity.stream_id")
    if event["phase"] != "EVENT" and not event["call_id"]:
        raise InvalidEventError("a call's attempt or result has no call_id", reason="missing-field")
    if integrity["seq"] < 1:
        raise InvalidEventError("sequence numbers start at 1", reason="absurd-value")
    retention = event["compliance"]["retention_days"]
    if not RETENTION_DAYS_MIN <= retention <= RETENTION_DAYS_MAX:
        # The store's column would wrap 65,536 to 0 and its TTL would delete the
        # event at once: refused here, visibly, instead of vanishing there.
        raise InvalidEventError(
            "retention period out of range",
            reason="out-of-range",
            field="compliance.retention_days",
            value=retention,
            low=RETENTION_DAYS_MIN,
            high=RETENTION_DAYS_MAX,
        )
    outcome = event.get("outcome")
    if outcome is not None:
        _check_outcome(outcome)
    if facts.time_us > now_us + max_future_us:
        raise InvalidEventError(
            "event time is in the future",
            reason="absurd-time",
            ahead_days=_days(facts.time_us - now_us),
        )
    if facts.time_us < now_us - max_age_us:
        raise InvalidEventError(
            "event time is too far in the past",
            reason="absurd-time",
            age_days=_days(now_us - facts.time_us),
        )


def _missing(name: str) -> NoReturn:
    raise InvalidEventError("a required value is empty", reason="missing-field", field=name)


def _check_outcome(outcome: dict[str, Any]) -> None:
    if outcome["duration_us"] < 0:
        raise InvalidEventError(
            "negative duration", reason="absurd-value", duration_us=outcome["duration_us"]
        )
    size = outcome.get("result_size")
    if size is not None and size < 0:
        raise InvalidEventError("negative result size", reason="absurd-value", result_size=size)


def _days(micros: int) -> float:
    return round(micros / DAY_US, 1)
