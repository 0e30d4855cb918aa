"""Legal holds: rows a hold covers are kept past their TTL until the hold is released.

A hold names a subject (user pseudonym), a server, or a time range. Placing
one marks the rows it covers (``legal_hold = true``; the TTL of both audit
tables, and of events_first, which the dashboard reads, deletes only rows where
it is false) and new rows are marked as they are inserted (:func:`sinks.tables.held`;
events_first takes the stored row's mark, migration 200). Releasing one
recomputes the mark for the rows it covered, so a row still under another hold
stays held.
Mutations run synchronously: when a call returns, the rows are marked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from clickhouse_connect.driver.client import Client

from readside.mutations import mutate
from schemas.errors import ConfigError
from sinks.cluster import SINGLE_NODE, Layout
from sinks.errors import SinkError
from sinks.tables import held

HOLD_TABLES = {
    "audit_events": "event_time",
    "audit_alerts": "alert_time",
    "events_first": "event_time",
}
_MUTATION = {"mutations_sync": 2, "allow_nondeterministic_mutations": 1}


@dataclass(frozen=True)
class Hold:
    hold_id: str
    kind: str  # subject | server | time
    value: str = ""
    time_from: datetime | None = None
    time_to: datetime | None = None
    reason: str = ""

    def predicate(self, time_column: str) -> tuple[str, dict[str, object]]:
        """SQL matching the rows this hold covers, and its parameters."""
        if self.kind == "subject":
            return "user_id = {value:String}", {"value": self.value}
        if self.kind == "server":
            return "server_id = {value:String}", {"value": self.value}
        if self.kind == "time":
            start = self.time_from or datetime(1970, 1, 1, tzinfo=UTC)
            end = self.time_to or datetime(2299, 12, 31, tzinfo=UTC)
            sql = (
                f"{time_column} >= {{start:DateTime64(6)}}"
                f" AND {time_column} < {{end:DateTime64(6)}}"
            )
            return sql, {"start": start, "end": end}
        raise ConfigError("unknown hold kind", kind=self.kind)


def place(client: Client, hold: Hold, operator: str, layout: Layout = SINGLE_NODE) -> Hold:
    """Record the hold and mark every row it covers."""
    hold.predicate("event_time")  # refuses an unknown kind before anything is written
    _record(client, hold, operator, active=True)
    for table, time_column in HOLD_TABLES.items():
        where, parameters = hold.predicate(time_column)
        mutate(
            client,
            f"ALTER TABLE {table} UPDATE legal_hold = true WHERE {where}",
            parameters,
            _MUTATION,
            layout,
        )
    return hold


def release(client: Client, hold_id: str, operator: str, layout: Layout = SINGLE_NODE) -> Hold:
    """Deactivate the hold; rows it covered lose their mark unless another hold covers them."""
    hold = find(client, hold_id)
    _record(client, hold, operator, active=False)
    for table, time_column in HOLD_TABLES.items():
        where, parameters = hold.predicate(time_column)
        mutate(
            client,
            f"ALTER TABLE {table} UPDATE legal_hold = {held(time_column)} WHERE {where}",
            parameters,
            _MUTATION,
            layout,
        )
    return hold


def active(client: Client) -> list[Hold]:
    result = client.query(
        "SELECT hold_id, kind, value, time_from, time_to, reason"
        " FROM legal_holds FINAL WHERE active ORDER BY changed_at"
    )
    return [Hold(*row) for row in result.result_rows]


def find(client: Client, hold_id: str) -> Hold:
    for hold in active(client):
        if hold.hold_id == hold_id:
            return hold
    raise SinkError("no active legal hold with this id", hold_id=hold_id)


def new_hold(kind: str, value: str = "", **times: datetime | None) -> Hold:
    return Hold(uuid.uuid4().hex[:12], kind, value, times.get("time_from"), times.get("time_to"))


def _record(client: Client, hold: Hold, operator: str, active: bool) -> None:
    client.insert(
        "legal_holds",
        [[hold.hold_id, hold.kind, hold.value, hold.time_from, hold.time_to, hold.reason,
          operator, active, datetime.now(UTC)]],
        column_names=["hold_id", "kind", "value", "time_from", "time_to", "reason",
                      "created_by", "active", "changed_at"],
    )  # fmt: skip
