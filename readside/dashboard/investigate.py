"""The dashboard's investigation: an alert's evidence, a user's trail, search; one event's
record is :mod:`readside.dashboard.record`.

Each function takes a clickhouse-connect client (a read side's guarded, read-only
one, :meth:`readside.session.ReadSession.read`) and returns JSON-ready values; all
SQL is parameterised. The questions are keyed on the tables' sorting keys and
skip indexes, so that they stay fast on a live store of 10 M events
(bench/bench_investigate.py, docs/benchmarks.md):

* audit_events is sorted by (user_id, event_time, event_id): one event is found
  by its id through the bloom filter of migration 170, its call's other side by
  its user, time and call id, its stream neighbours by the (stream, seq) index
  of migration 180;
* events_first is sorted by time and projected by user (migration 170): a user's
  trail and the time-ordered search read it.

An event is stored in versions (the first copy; the processors' INCOMPLETE
version of an attempt that never got its result): the last enriched is shown,
as FINAL shows it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.client import Client

from readside.dashboard.reading import (
    MS,
    WINDOW,
    Window,
    id_time,
    is_uuid,
    newest_rows,
    plain,
    read_rows,
)
from sinks.tables import FAILURE_STATUSES, HIGH_RISK_LEVELS, LATEST_ALERTS, listing_filter

# Hidden from the event lists unless asked for: they say a session or a producer is
# alive, not what anyone did.
NOISE_TYPES = ("HEARTBEAT", "SESSION_START", "SESSION_END")
_NOT_NOISE = "event_type NOT IN ('HEARTBEAT', 'SESSION_START', 'SESSION_END')"
RISK_LEVELS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
_LIST_COLUMNS = """toString(event_id) AS event_id, event_time, toString(event_type) AS event_type,
    toString(phase) AS phase, user_id AS user, server_id AS server, tool_name AS tool,
    toString(status) AS status, duration_us / 1000 AS duration_ms, risk_score,
    toString(risk_level) AS risk_level, risk_reasons, session_id"""


# Search parameter -> (its condition, where it can be read). Ids outside events_first
# are read from audit_events through its skip indexes (migrations 001, 180).
SEARCH_FIELDS: dict[str, str] = {
    "user": "user_id = {user:String}",
    "session": "session_id = {session:String}",
    "call": "call_id = {call:String}",
    "trace": "trace_id = {trace:String}",
    "request": "request_id = {request:String}",
    "tool": "tool_name = {tool:String}",
    "server": "server_id = {server:String}",
    "status": "status = {status:String}",
    "type": "event_type = {type:String}",
    "risk": "indexOf({levels:Array(String)}, toString(risk_level)) >= indexOf("
    "{levels:Array(String)}, {risk:String})",
}
_ID_FIELDS = ("call", "trace", "request")


def search(
    client: Client,
    window: Window,
    filters: Mapping[str, str],
    limit: int,
    *,
    noise: bool = False,
) -> list[dict[str, Any]]:
    """Events in ``window`` matching every filter (names of :data:`SEARCH_FIELDS`), newest
    first, each in its latest version; heartbeats and session events only if ``noise``.

    A call, trace or request id is read from audit_events through its skip index;
    anything else from events_first in time order, newest slice first, which stops at
    ``limit``."""
    known = {k: v for k, v in filters.items() if k in SEARCH_FIELDS}
    conditions = [WINDOW, *(SEARCH_FIELDS[k] for k in known)]
    if not noise:
        conditions.append(_NOT_NOISE)
    parameters = {**known, "since": window.since, "until": window.until, "limit": limit,
                  "levels": list(RISK_LEVELS)}  # fmt: skip
    if any(k in known for k in _ID_FIELDS):
        sql = f"""
            SELECT {_LIST_COLUMNS} FROM audit_events WHERE {" AND ".join(conditions)}
            ORDER BY event_time DESC, event_id DESC, enriched_time DESC
            LIMIT 1 BY event_id LIMIT {{limit:UInt32}}"""
        return plain(read_rows(client, sql, parameters))
    # The replaced versions are looked up from {since}: the window's, or its slice's.
    sql = f"""
        SELECT {_LIST_COLUMNS} FROM events_first {listing_filter(conditions)}
        ORDER BY event_time DESC, event_id DESC LIMIT {{limit:UInt32}}"""
    return plain(newest_rows(client, sql, parameters, limit))


def events_by_id(client: Client, event_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The events named (an alert's evidence), in time order; ids not stored are left out.

    Through audit_events' bloom filter on event_id (migration 170), first within the
    times the ids carry (:func:`id_time`), then, for those not found there, anywhere."""
    ids = list(dict.fromkeys(i for i in event_ids if is_uuid(i)))
    times = [t for t in map(id_time, ids) if t is not None]
    found: list[dict[str, Any]] = []
    if times:
        found = _by_id(client, ids, Window(min(times), max(times) + MS))
    missing = sorted(set(ids) - {str(r["event_id"]) for r in found})
    if missing:
        found += _by_id(client, missing, None)
        found.sort(key=lambda r: (r["event_time"], str(r["event_id"])))
    return plain(found)


def _by_id(client: Client, ids: list[str], window: Window | None) -> list[dict[str, Any]]:
    # The table's event_id: the list's alias (text) would hide it, and its index.
    bounds = f" AND {WINDOW}" if window else ""
    sql = f"""
        SELECT {_LIST_COLUMNS} FROM audit_events
        WHERE audit_events.event_id IN {{ids:Array(UUID)}}{bounds}
        ORDER BY event_time, event_id, enriched_time DESC LIMIT 1 BY event_id"""
    times = {"since": window.since, "until": window.until} if window else {}
    return read_rows(client, sql, {"ids": ids, **times})


def alert_evidence(client: Client, alert_id: str, limit: int) -> dict[str, Any] | None:
    """An alert (its latest version) and its evidence events; None if no such alert.

    An alert that names no evidence (an older detector) shows its user's events of
    the alert's window instead, and says so (``evidence`` is ``window``)."""
    sql = f"""
        SELECT alert_id, alert_time, toString(severity) AS severity,
               detector, summary, user_id AS user, server_id, tool_name, count,
               window_start, window_end, evidence_event_ids, attributes
        FROM {LATEST_ALERTS} WHERE alert_id = {{alert:UUID}}"""
    found = read_rows(client, sql, {"alert": alert_id})
    if not found:
        return None
    alert = found[0]
    if alert["evidence_event_ids"]:
        events, kind = events_by_id(client, alert["evidence_event_ids"][:limit]), "named"
    else:
        window = Window(alert["window_start"], alert["window_end"] + timedelta(microseconds=1))
        events = search(client, window, {"user": alert["user"]}, limit, noise=True)
        kind = "window"
    return {"alert": plain([alert])[0], "evidence": kind, "events": events}


_TRAIL_LIMIT = 100_000  # a month of one very busy pseudonym; more is cut, and said so


_TRAIL_COLUMNS = (
    *("us", "event_id", "event_type", "phase", "server", "tool", "status", "duration_ms"),
    *("risk_score", "risk_level", "risk_reasons", "session_id"),
)
_HOUR_US, _DAY_US = 3_600_000_000, 86_400_000_000


def user_trail(client: Client, user: str, window: Window, limit: int = 500) -> dict[str, Any]:
    """One user's trail over ``window``: each of their events (latest version) summed up by
    session, by tool and by day (hour, for a window of two days or less), with the
    newest ``limit`` events (heartbeats and session events included).

    One read of events_first's projection by user (migration 170), grouped by event
    rather than sorted (sorting by time made ClickHouse read the time-ordered table);
    the sums are made here, in one pass over plain tuples with times as integers
    (the same rows summed in five subqueries read the projection five times; as
    dicts of datetimes, summing took longer than the read on 10 M events)."""
    sql = f"""
        SELECT toUnixTimestamp64Micro(event_time), toString(event_id), v.1, v.2, v.3, v.4, v.5,
               v.6 / 1000, v.7, v.8, v.9, v.10
        FROM (SELECT event_time, event_id,
                     argMax((toString(event_type), toString(phase), toString(server_id),
                             toString(tool_name), toString(status), duration_us, risk_score,
                             toString(risk_level), risk_reasons, session_id), enriched_time) AS v
              FROM events_first WHERE user_id = {{user:String}} AND {WINDOW} AND sign = 1
              GROUP BY event_time, event_id)
        LIMIT {_TRAIL_LIMIT}"""
    parameters = {"user": user, "since": window.since, "until": window.until}
    # newest first (time, then id)
    rows = [tuple(r) for r in client.query(sql, parameters=parameters).result_rows]
    rows.sort(reverse=True)
    unit = _HOUR_US if window.until - window.since <= timedelta(days=2) else _DAY_US
    sessions: dict[Any, list[Any]] = {}
    tools: dict[Any, list[Any]] = {}
    timeline: dict[Any, list[Any]] = {}
    for row in rows:
        us, tool, session = row[0], row[5], row[11]
        call = row[3] == "RESULT"
        failed = call and row[6] in FAILURE_STATUSES
        high = row[9] in HIGH_RISK_LEVELS
        groups: list[tuple[dict[Any, list[Any]], Any]] = [
            (sessions, session),
            (timeline, us - us % unit),
        ]
        if tool:
            groups.append((tools, tool))
        for sums, key in groups:
            s = sums.get(key)
            if s is None:  # first and last time, events, calls, failed calls, high risk, max risk
                s = sums[key] = [us, us, 0, 0, 0, 0, 0]
            s[0] = us  # newest first: the last seen is the first
            s[2] += 1
            s[3] += call
            s[4] += failed
            s[5] += high
            s[6] = max(s[6], row[8])
    hourly = unit == _HOUR_US
    return {
        "user": user,
        "total": len(rows),
        "cut": len(rows) == _TRAIL_LIMIT,
        "unit": "hour" if hourly else "day",
        "sessions": _sums("session_id", list(sessions.items())[:200]),
        "tools": _sums("tool", sorted(tools.items(), key=lambda t: (-t[1][3], t[0]))[:200]),
        "timeline": [
            {**t, "bucket": t["bucket"][: 19 if hourly else 10]}
            for t in _sums("bucket", sorted((_iso(k), v) for k, v in timeline.items()))
        ],
        "events": [
            {**dict(zip(_TRAIL_COLUMNS, r, strict=True)), "event_time": _iso(r[0]), "user": user}
            for r in rows[:limit]
        ],
    }


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1_000_000, UTC).replace(tzinfo=None).isoformat()


def _sums(name: str, items: Sequence[tuple[Any, list[Any]]]) -> list[dict[str, Any]]:
    """Each group's sums as :func:`user_trail` counts them: a call is a RESULT
    (sinks.tables.CALL), a failure one of FAILURE_STATUSES, high risk HIGH_RISK_LEVELS."""
    return [
        {name: key, "first": _iso(s[0]), "last": _iso(s[1]), "events": s[2], "calls": s[3],
         "failures": s[4], "high_risk": s[5], "max_risk": s[6]}
        for key, s in items
    ]  # fmt: skip
