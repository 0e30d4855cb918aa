"""Verify every producer stream in the store: sequence numbers and hash chains.

Rows are read back into the shape :func:`schemas.integrity.chain_hash` hashes
(the store keeps absent values as empty strings, which hash alike), then
:func:`schemas.verify.verify_stream` names every break. Gaps older than the
shortest retention period the store has used (``retention_periods``) are
``expired``, not missing: retention deleted them, or may have.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas.integrity import DAY_US, chain_hash
from schemas.verify import Finding, verify_stream

CHAINED_COLUMNS = (
    "toString(event_id) AS event_id, event_time, event_type, phase, call_id, user_id,"
    " pseudonym_key_id, client_id, session_id, tenant_id, server_id, tool_name, resource_uri,"
    " prompt_name, method, tool_fingerprint, classification, args_digest, result_digest,"
    " status, duration_us, error_type, stream_id, seq, prev_hash, hash"
)


TARGET_COLUMNS = (
    "server_id",
    "tool_name",
    "resource_uri",
    "prompt_name",
    "method",
    "tool_fingerprint",
    "classification",
)


def stream_ids(client: Client) -> list[str]:
    rows = client.query("SELECT DISTINCT stream_id FROM audit_events ORDER BY stream_id")
    return [row[0] for row in rows.result_rows if row[0]]


def stream_rows(client: Client, stream_id: str) -> list[dict[str, Any]]:
    result = client.query(
        f"SELECT {CHAINED_COLUMNS} FROM audit_events WHERE stream_id = {{s:String}} ORDER BY seq",
        parameters={"s": stream_id},
    )
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def as_event(row: dict[str, Any]) -> dict[str, Any]:
    """The Avro-shaped view of a stored row that the chain hashes."""
    outcome = {
        "status": row["status"],
        "duration_us": row["duration_us"],
        "error_type": row["error_type"],
    }
    event = {
        **{k: row[k] for k in ("event_id", "event_time", "event_type", "phase", "call_id")},
        "actor": {
            "user_pseudonym": row["user_id"],
            **{k: row[k] for k in ("pseudonym_key_id", "client_id", "session_id", "tenant_id")},
        },
        "target": {k: row[k] for k in TARGET_COLUMNS},
        "payload": {"args_digest": row["args_digest"], "result_digest": row["result_digest"]},
        "outcome": outcome,
        "integrity": {k: row[k] for k in ("stream_id", "seq", "prev_hash", "hash")},
    }
    # The sink stores an absent outcome as an empty (or UNKNOWN) status, 0 and '':
    # read it back as absent when that is what the producer hashed.
    if row["status"] in ("", "UNKNOWN") and (row["duration_us"], row["error_type"]) == (0, ""):
        absent = {**event, "outcome": None}
        if chain_hash(row["prev_hash"], absent) == row["hash"]:
            return absent
    return event


def expired_before_us(client: Client, now_us: int | None = None) -> int | None:
    """Now minus the shortest retention of any event stored; None before any was."""
    rows = client.query("SELECT min(retention_days), count() FROM retention_periods").result_rows
    shortest, periods = rows[0]
    if not periods:
        return None
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    return now_us - int(shortest) * DAY_US


def verify_store(client: Client) -> Iterator[tuple[str, int, list[Finding]]]:
    """For each stream: its id, how many rows were checked, and what it found
    (``expired`` gaps among them, which are no :attr:`~schemas.verify.Finding.problem`)."""
    horizon = expired_before_us(client)
    for stream_id in stream_ids(client):
        rows = stream_rows(client, stream_id)
        events = (as_event(row) for row in rows)
        yield stream_id, len(rows), verify_stream(events, expired_before_us=horizon)
