"""One event's whole record in the dashboard, and what the integrity checks say of it.

Found by its id through the bloom filter of migration 170 (within the millisecond a
UUIDv7 id names), its call's other side by its user, time and call id, its stream
neighbours by the (stream, seq) index of migration 180, its leaf by the leaves' bloom
filter. An event is stored in versions: the last enriched is shown, as FINAL shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from clickhouse_connect.driver.client import Client
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from readside.dashboard.reading import (
    CALL_SPAN,
    MS,
    WINDOW,
    Window,
    id_time,
    is_uuid,
    plain,
    read_rows,
)
from schemas.digest import DigestError, check_head
from schemas.integrity import chain_hash
from sinks.digests import LEAF_COLUMNS, leaf_of, stored_heads
from sinks.row_check import EventRowCheck, event_verdict_columns
from sinks.verify_store import as_event


def event_record(
    client: Client, event_id: str, public_key: Ed25519PublicKey | None = None
) -> dict[str, Any] | None:
    """One event's whole stored record (its latest version, every column as stored:
    arguments and result redacted by the producer), the other side of its call
    (ATTEMPT or RESULT), and what the integrity checks say of it (:func:`checks`).
    None if no event has that id.

    The id finds the event's sorting key (:func:`_locate`); one read by that key then
    takes its versions, the call's other side and the row check's verdicts."""
    located = _locate(client, event_id) if is_uuid(event_id) else None
    if located is None:
        return None
    user, when, call = located
    rows = read_rows(
        client,
        "SELECT * FROM audit_events"
        " WHERE user_id = {user:String} AND event_time >= {since:DateTime64(6)}"
        " AND event_time <= {until:DateTime64(6)}"
        " AND (event_id = {event:UUID} OR (call_id = {call:String} AND {call:String} != ''))"
        " ORDER BY enriched_time DESC",
        {
            "user": user,
            "since": when - CALL_SPAN,
            "until": when + CALL_SPAN,
            "event": event_id,
            "call": call,
        },
    )
    versions = [r for r in rows if str(r["event_id"]) == str(UUID(event_id))]
    row = versions[0]
    other_phase = {"ATTEMPT": "RESULT", "RESULT": "ATTEMPT"}.get(row["phase"])
    other = [r for r in rows if r["phase"] == other_phase and r not in versions]
    return {
        "event": plain([row])[0],
        "versions": len(versions),
        "other_side": plain(other[:1])[0] if other else None,
        "checks": checks(client, row, public_key),
    }


def _locate(client: Client, event_id: str) -> tuple[str, datetime, str] | None:
    """The event's user, time and call id, by its id: within the millisecond its id
    names (a few parts, a few granules), else anywhere (ids of other makers)."""
    sql = "SELECT user_id, event_time, call_id FROM audit_events WHERE event_id = {event:UUID}"
    when = id_time(event_id)
    if when is not None:
        found = client.query(
            f"{sql} AND {WINDOW} LIMIT 1",
            parameters={"event": event_id, "since": when, "until": when + MS},
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
    near = Window(row["event_time"] - CALL_SPAN, row["event_time"] + CALL_SPAN)
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
    bounds = f" AND {WINDOW}" if window else ""
    times = {"since": window.since, "until": window.until} if window else {}
    return read_rows(
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
