"""What the dashboard's questions share: a time window, and rows read as JSON carries them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from clickhouse_connect.driver.client import Client

from schemas.integrity import to_micros

# A call's ATTEMPT and RESULT are stored apart; the RESULT comes within the call's
# timeout, far below a day.
CALL_SPAN = timedelta(days=1)
MS = timedelta(milliseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WINDOW = "event_time >= {since:DateTime64(6)} AND event_time < {until:DateTime64(6)}"


@dataclass(frozen=True)
class Window:
    """From ``since`` (included) to ``until`` (excluded)."""

    since: datetime
    until: datetime


def json_value(value: Any) -> Any:
    """``value`` as JSON can carry it: times in ISO 8601, ids as text, tuples as lists."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def read_rows(client: Client, sql: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows as column -> value, values as the client reads them."""
    result = client.query(sql, parameters=dict(parameters))
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


# The slices of a window a newest-first list reads before the whole window, back from
# the newest stored event.
RECENT_SLICES = (timedelta(hours=1), timedelta(days=1), timedelta(days=7))


def newest_rows(
    client: Client, sql: str, parameters: Mapping[str, Any], limit: int
) -> list[dict[str, Any]]:
    """The rows of ``sql``, a list of events_first's rows newest first from ``{since}``
    and at most ``limit`` of them, read from the window's newest slice first
    (:data:`RECENT_SLICES`): when a slice holds ``limit`` rows, every row left out of
    it is older than them, so they are the window's answer. Otherwise the next slice,
    and in the end the whole window.

    The newest slice opens the few parts that hold it; the whole window opened every
    part of 30 days (10 M unmerged events, docs/benchmarks.md). An event stamped far
    ahead (a producer's clock) leaves the slices short: the whole window is read."""
    [(newest,)] = client.query("SELECT max(event_time) FROM events_first").result_rows
    end = min(to_micros(newest), to_micros(parameters.get("until", newest)))
    for span in RECENT_SLICES:
        start = EPOCH + timedelta(microseconds=end) - span
        if to_micros(start) <= to_micros(parameters["since"]):
            break
        found = read_rows(client, sql, {**parameters, "since": start, "limit": limit})
        if len(found) >= limit:
            return found
    return read_rows(client, sql, {**parameters, "limit": limit})


def plain(found: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows with every value as JSON carries it (:func:`json_value`)."""
    return [{k: json_value(v) for k, v in row.items()} for row in found]


def is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def id_time(event_id: str) -> datetime | None:
    """The millisecond a UUIDv7 event id carries: a producer takes the event's time and
    its id from one clock reading (producers.event.chain), so the event is stored in it."""
    parsed = UUID(event_id)
    if parsed.version != 7:
        return None
    return datetime.fromtimestamp((parsed.int >> 80) / 1000, UTC)
