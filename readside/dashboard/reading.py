"""What the dashboard's questions share: a time window, and rows read as JSON carries them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from clickhouse_connect.driver.client import Client

# A call's ATTEMPT and RESULT are stored apart; the RESULT comes within the call's
# timeout, far below a day.
CALL_SPAN = timedelta(days=1)
MS = timedelta(milliseconds=1)
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
