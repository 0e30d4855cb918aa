"""The dashboard's investigation: an alert's evidence, a user's trail, one event's record, search.

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
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from clickhouse_connect.driver.client import Client
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from schemas.digest import DigestError, check_head
from schemas.integrity import chain_hash
from sinks.digests import LEAF_COLUMNS, leaf_of, stored_heads
from sinks.row_check import EventRowCheck, event_verdict_columns
from sinks.tables import CURRENT, FAILURE_STATUSES, HIGH_RISK_LEVELS, LATEST_ALERTS
from sinks.verify_store import as_event

# Hidden from the event lists unless asked for: they say a session or a producer is
# alive, not what anyone did.
NOISE_TYPES = ("HEARTBEAT", "SESSION_START", "SESSION_END")
_NOT_NOISE = "event_type NOT IN ('HEARTBEAT', 'SESSION_START', 'SESSION_END')"
RISK_LEVELS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
# A call's ATTEMPT and RESULT are stored apart; the RESULT comes within the call's
# timeout, far below a day.
_CALL_SPAN = timedelta(days=1)
_MS = timedelta(milliseconds=1)
_LIST_COLUMNS = """toString(event_id) AS event_id, event_time, toString(event_type) AS event_type,
    toString(phase) AS phase, user_id AS user, server_id AS server, tool_name AS tool,
    toString(status) AS status, duration_us / 1000 AS duration_ms, risk_score,
    toString(risk_level) AS risk_level, risk_reasons, session_id"""


@dataclass(frozen=True)
class Window:
    """From ``since`` (included) to ``until`` (excluded)."""

    since: datetime
    until: datetime


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
_WINDOW = "event_time >= {since:DateTime64(6)} AND event_time < {until:DateTime64(6)}"


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


def _rows(client: Client, sql: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=dict(parameters))
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def _plain(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{k: json_value(v) for k, v in row.items()} for row in rows]


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
    anything else from events_first in time order, which stops at ``limit``."""
    known = {k: v for k, v in filters.items() if k in SEARCH_FIELDS}
    conditions = [_WINDOW, *(SEARCH_FIELDS[k] for k in known)]
    if not noise:
        conditions.append(_NOT_NOISE)
    parameters = {**known, "since": window.since, "until": window.until, "limit": limit,
                  "levels": list(RISK_LEVELS)}  # fmt: skip
    if any(k in known for k in _ID_FIELDS):
        sql = f"""
            SELECT {_LIST_COLUMNS} FROM audit_events WHERE {" AND ".join(conditions)}
            ORDER BY event_time DESC, event_id DESC, enriched_time DESC
            LIMIT 1 BY event_id LIMIT {{limit:UInt32}}"""
    else:
        # CURRENT reads the replaced versions from {since}: the window's.
        sql = f"""
            SELECT {_LIST_COLUMNS} FROM events_first
            WHERE {" AND ".join([*conditions, CURRENT])}
            ORDER BY event_time DESC, event_id DESC LIMIT {{limit:UInt32}}"""
    return _plain(_rows(client, sql, parameters))


def events_by_id(client: Client, event_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The events named (an alert's evidence), in time order; ids not stored are left out.

    Through audit_events' bloom filter on event_id (migration 170), first within the
    times the ids carry (:func:`id_time`), then, for those not found there, anywhere."""
    ids = list(dict.fromkeys(i for i in event_ids if _is_uuid(i)))
    times = [t for t in map(id_time, ids) if t is not None]
    found: list[dict[str, Any]] = []
    if times:
        found = _by_id(client, ids, Window(min(times), max(times) + _MS))
    missing = sorted(set(ids) - {str(r["event_id"]) for r in found})
    if missing:
        found += _by_id(client, missing, None)
        found.sort(key=lambda r: (r["event_time"], str(r["event_id"])))
    return _plain(found)


def _by_id(client: Client, ids: list[str], window: Window | None) -> list[dict[str, Any]]:
    # The table's event_id: the list's alias (text) would hide it, and its index.
    bounds = f" AND {_WINDOW}" if window else ""
    sql = f"""
        SELECT {_LIST_COLUMNS} FROM audit_events
        WHERE audit_events.event_id IN {{ids:Array(UUID)}}{bounds}
        ORDER BY event_time, event_id, enriched_time DESC LIMIT 1 BY event_id"""
    times = {"since": window.since, "until": window.until} if window else {}
    return _rows(client, sql, {"ids": ids, **times})


def alert_evidence(client: Client, alert_id: str, limit: int) -> dict[str, Any] | None:
    """An alert (its latest version) and its evidence events; None if no such alert.

    An alert that names no evidence (an older detector) shows its user's events of
    the alert's window instead, and says so (``evidence`` is ``window``)."""
    sql = f"""
        SELECT alert_id, alert_time, toString(severity) AS severity,
               detector, summary, user_id AS user, server_id, tool_name, count,
               window_start, window_end, evidence_event_ids, attributes
        FROM {LATEST_ALERTS} WHERE alert_id = {{alert:UUID}}"""
    found = _rows(client, sql, {"alert": alert_id})
    if not found:
        return None
    alert = found[0]
    if alert["evidence_event_ids"]:
        events, kind = events_by_id(client, alert["evidence_event_ids"][:limit]), "named"
    else:
        window = Window(alert["window_start"], alert["window_end"] + timedelta(microseconds=1))
        events = search(client, window, {"user": alert["user"]}, limit, noise=True)
        kind = "window"
    return {"alert": _plain([alert])[0], "evidence": kind, "events": events}


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
              FROM events_first WHERE user_id = {{user:String}} AND {_WINDOW} AND sign = 1
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


def event_record(
    client: Client, event_id: str, public_key: Ed25519PublicKey | None = None
) -> dict[str, Any] | None:
    """One event's whole stored record (its latest version, every column as stored:
    arguments and result redacted by the producer), the other side of its call
    (ATTEMPT or RESULT), and what the integrity checks say of it (:func:`checks`).
    None if no event has that id.

    The id finds the event's sorting key (:func:`_locate`); one read by that key then
    takes its versions, the call's other side and the row check's verdicts."""
    located = _locate(client, event_id) if _is_uuid(event_id) else None
    if located is None:
        return None
    user, when, call = located
    rows = _rows(
        client,
        "SELECT * FROM audit_events"
        " WHERE user_id = {user:String} AND event_time >= {since:DateTime64(6)}"
        " AND event_time <= {until:DateTime64(6)}"
        " AND (event_id = {event:UUID} OR (call_id = {call:String} AND {call:String} != ''))"
        " ORDER BY enriched_time DESC",
        {
            "user": user,
            "since": when - _CALL_SPAN,
            "until": when + _CALL_SPAN,
            "event": event_id,
            "call": call,
        },
    )
    versions = [r for r in rows if str(r["event_id"]) == str(UUID(event_id))]
    row = versions[0]
    other_phase = {"ATTEMPT": "RESULT", "RESULT": "ATTEMPT"}.get(row["phase"])
    other = [r for r in rows if r["phase"] == other_phase and r not in versions]
    return {
        "event": _plain([row])[0],
        "versions": len(versions),
        "other_side": _plain(other[:1])[0] if other else None,
        "checks": checks(client, row, public_key),
    }


def id_time(event_id: str) -> datetime | None:
    """The millisecond a UUIDv7 event id carries: a producer takes the event's time and
    its id from one clock reading (producers.event.chain), so the event is stored in it."""
    parsed = UUID(event_id)
    if parsed.version != 7:
        return None
    return datetime.fromtimestamp((parsed.int >> 80) / 1000, UTC)


def _locate(client: Client, event_id: str) -> tuple[str, datetime, str] | None:
    """The event's user, time and call id, by its id: within the millisecond its id
    names (a few parts, a few granules), else anywhere (ids of other makers)."""
    sql = "SELECT user_id, event_time, call_id FROM audit_events WHERE event_id = {event:UUID}"
    when = id_time(event_id)
    if when is not None:
        found = client.query(
            f"{sql} AND {_WINDOW} LIMIT 1",
            parameters={"event": event_id, "since": when, "until": when + _MS},
        ).result_rows
        if found:
            return str(found[0][0]), found[0][1], str(found[0][2])
    found = client.query(f"{sql} LIMIT 1", parameters={"event": event_id}).result_rows
    return (str(found[0][0]), found[0][1], str(found[0][2])) if found else None


def checks(
    client: Client, row: Mapping[str, Any], public_key: Ed25519PublicKey | None
) -> dict[str, Any]:
    """What the integrity checks say of one stored event, each as ``{"ok": bool|None,
    "detail": str}`` (None: cannot tell):

    * ``hash``: the event hashes, with its previous hash, to the hash it carries
      (:func:`schemas.integrity.chain_hash` over the row read back as verify reads it);
    * ``previous``/``next``: its stream's events seq - 1 and seq + 1 link to it;
    * ``row``: its stored versions still hash to what the sink stored
      (:func:`sinks.row_check.event_verdict_columns`, read with the row);
    * ``sealed``: its leaf in the sealed log carries its hash and content hash, under a
      signed tree head (whose signature is checked when the dashboard has the public key).
      The Merkle inclusion proof itself reads the whole log: ``mcp-audit prove``.
    """
    event_id = str(row["event_id"])
    chained = {**row, "event_id": event_id}
    ok = bool(row["hash"]) and chain_hash(row["prev_hash"], as_event(chained)) == row["hash"]
    detail = "hashes" if ok else "no longer hashes"
    result = {"hash": _verdict(ok, f"the event {detail} to the hash it carries")}
    result.update(_links(client, row))
    verdict = _row_check(client, row)
    result["row"] = _verdict(verdict.ok, verdict.describe())
    result["sealed"] = _sealed(client, row, public_key)
    return result


def _row_check(client: Client, row: Mapping[str, Any]) -> EventRowCheck:
    """The row check's verdicts on the event's stored versions, read by its sorting key;
    only the verdicts leave the store."""
    found = client.query(
        f"SELECT row_verdict FROM (SELECT content_hash, {event_verdict_columns()}"
        " FROM audit_events WHERE user_id = {user:String} AND event_time = {t:DateTime64(6)}"
        " AND event_id = {event:UUID})",
        parameters={"user": row["user_id"], "t": row["event_time"], "event": str(row["event_id"])},
    ).result_rows
    return EventRowCheck.of([r[0] for r in found])


def _links(client: Client, row: Mapping[str, Any]) -> dict[str, Any]:
    stream, seq = str(row["stream_id"]), int(row["seq"])
    if not stream:
        unknown = _verdict(None, "the event is in no stream")
        return {"previous": unknown, "next": unknown}
    wanted = [n for n in (seq - 1, seq + 1) if n > 0]
    # Neighbours are near in time: first the day around the event (a few partitions),
    # then anywhere for one not found there (a stream idle for longer).
    near = Window(row["event_time"] - _CALL_SPAN, row["event_time"] + _CALL_SPAN)
    found = _neighbours(client, stream, wanted, near)
    rest = [n for n in wanted if n not in {int(r["seq"]) for r in found}]
    if rest:
        found += _neighbours(client, stream, rest, None)
    by_seq = {int(r["seq"]): r for r in found}
    if seq <= 1:
        previous = _verdict(row["prev_hash"] == "", "the first event of its stream")
    elif seq - 1 not in by_seq:
        # Retention may have taken it: `mcp-audit verify` tells an expired gap from a deletion.
        previous = _verdict(False, f"event {seq - 1} of the stream is not stored")
    else:
        linked = by_seq[seq - 1]["hash"] == row["prev_hash"]
        says = "is the hash it follows" if linked else "has another hash than it follows"
        previous = _verdict(linked, f"event {seq - 1} of the stream {says}")
    if seq + 1 not in by_seq:
        after = _verdict(None, f"event {seq + 1} of the stream is not stored (yet)")
    else:
        linked = by_seq[seq + 1]["prev_hash"] == row["hash"]
        says = "follows its hash" if linked else "follows another hash"
        after = _verdict(linked, f"event {seq + 1} of the stream {says}")
    return {"previous": previous, "next": after}


def _neighbours(
    client: Client, stream: str, seqs: list[int], window: Window | None
) -> list[dict[str, Any]]:
    """The stream's events ``seqs``, latest versions, by the (stream, seq) index (migration 180)."""
    bounds = f" AND {_WINDOW}" if window else ""
    times = {"since": window.since, "until": window.until} if window else {}
    return _rows(
        client,
        "SELECT seq, hash, prev_hash FROM audit_events"
        " WHERE cityHash64(stream_id, seq) IN (SELECT cityHash64({s:String}, arrayJoin("
        " {seqs:Array(UInt64)}))) AND stream_id = {s:String} AND seq IN {seqs:Array(UInt64)}"
        f"{bounds} ORDER BY enriched_time DESC LIMIT 1 BY seq",
        {"s": stream, "seqs": seqs, **times},
    )


def _sealed(
    client: Client, row: Mapping[str, Any], public_key: Ed25519PublicKey | None
) -> dict[str, Any]:
    # The leaves' bloom filter on event_id (migration 180); versions by appended_at.
    leaves = client.query(
        f"SELECT {', '.join(LEAF_COLUMNS)} FROM audit_tree_leaves"
        " WHERE event_id = {event:UUID} ORDER BY leaf_index DESC, appended_at DESC"
        " LIMIT 1 BY leaf_index",
        parameters={"event": str(row["event_id"])},
    ).result_rows
    if not leaves:
        return {"ok": None, "detail": "not sealed yet: no leaf of the log holds this event"}
    index, *values = leaves[0]
    leaf = leaf_of(values)
    if leaf.hash != row["hash"] or (leaf.content_hash and leaf.content_hash != row["content_hash"]):
        return {"ok": False, "detail": f"leaf {index} of the log sealed another content"}
    heads = [h for h in stored_heads(client) if h.tree_size > int(index)]
    if not heads:
        return {"ok": None, "detail": f"leaf {index} of the log, under no signed head yet"}
    head = heads[0]
    signed = f"leaf {index} of the log, under the head of the {head.tree_size}-leaf tree"
    if public_key is None:
        return {"ok": None, "detail": f"{signed}; no public key to check its signature"}
    try:
        check_head(head, public_key)
    except DigestError as exc:
        return {"ok": False, "detail": f"{signed}: {exc}"}
    return {"ok": True, "detail": f"{signed}, signed by key {head.key_id}"}


def _verdict(ok: bool | None, detail: str) -> dict[str, Any]:
    return {"ok": ok, "detail": detail}


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except (ValueError, TypeError, AttributeError):
        return False
    return True
