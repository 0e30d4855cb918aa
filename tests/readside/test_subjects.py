"""Erasure clears personal values and keeps the hash chain verifiable; export gives the rows."""

from __future__ import annotations

from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from readside.subjects import erase, export, pseudonym, subject_pseudonym
from schemas.integrity import chain_hash
from sinks.enriched import ENRICHED
from sinks.errors import SinkError
from sinks.writer import AvroWriter
from tests.schemas.factories import audit_event, enriched_event
from tests.sinks.helpers import ENCODE_ENRICHED, files_of

pytestmark = pytest.mark.clickhouse
KEY = b"test-key"
ALICE = pseudonym("alice@example.com", KEY)
BOB = pseudonym("bob@example.com", KEY)


def chain(user: str, length: int) -> list[bytes]:
    """A producer stream of ``length`` events by ``user``, hashes linked."""
    values, prev = [], ""
    for seq in range(1, length + 1):
        event = audit_event(seq=seq, prev_hash=prev, call_id=f"c{seq}")
        event["actor"]["user_pseudonym"] = user
        event["actor"]["ip"] = "203.0.113.7"
        event["payload"]["args_json"] = '{"path": "/home/alice/diary.txt"}'
        event["integrity"]["stream_id"] = f"stream-{user[:6]}"
        event["integrity"]["hash"] = prev = chain_hash(prev, event)
        values.append(ENCODE_ENRICHED(enriched_event(event=event)))
    return values


def as_event(row: dict[str, Any]) -> dict[str, Any]:
    """The chained fields of a stored row, in the event's shape (what a verifier rebuilds)."""
    outcome = None if row["status"] == "" else {
        "status": row["status"], "duration_us": row["duration_us"],
        "error_type": row["error_type"] or None,
    }  # fmt: skip
    return {
        "event_id": str(row["event_id"]), "event_time": row["event_time"],
        "event_type": row["event_type"], "phase": row["phase"], "call_id": row["call_id"],
        "actor": {k: row[c] for k, c in [("user_pseudonym", "user_id"),
                  ("pseudonym_key_id", "pseudonym_key_id"), ("client_id", "client_id"),
                  ("session_id", "session_id"), ("tenant_id", "tenant_id")]},
        "target": {k: row[k] for k in ("server_id", "tool_name", "resource_uri", "prompt_name",
                   "method", "tool_fingerprint", "classification")},
        "payload": {"args_digest": row["args_digest"], "result_digest": row["result_digest"]},
        "outcome": outcome,
        "integrity": {"stream_id": row["stream_id"], "seq": row["seq"]},
    }  # fmt: skip


def test_erase_clears_personal_values_and_keeps_the_chain(
    writer: AvroWriter, clickhouse: Client
) -> None:
    writer.write(ENRICHED, files_of(chain(ALICE, 3) + chain(BOB, 2)), "t")

    assert erase(clickhouse, ALICE, operator="dpo") == 3

    columns, rows = export(clickhouse, ALICE)
    stored = [dict(zip(columns, row, strict=True)) for row in rows]
    assert {(r["ip"], r["args"]) for r in stored} == {("", "")}
    prev = ""
    for row in stored:
        assert row["prev_hash"] == prev
        assert chain_hash(prev, as_event(row)) == row["hash"]
        prev = row["hash"]
    _, bobs = export(clickhouse, BOB)
    assert {row[columns.index("ip")] for row in bobs} == {"203.0.113.7"}


def test_subject_resolution() -> None:
    assert subject_pseudonym("alice@example.com", None, KEY) == ALICE
    assert subject_pseudonym(None, ALICE, None) == ALICE
    with pytest.raises(SinkError):
        subject_pseudonym("alice@example.com", None, None)
    with pytest.raises(SinkError):
        subject_pseudonym(None, "not-hex", None)
