"""Erasure clears personal values and keeps the hash chain verifiable; export gives the rows."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from readside.subjects import erase, export, pseudonym, subject_pseudonym
from schemas import registry
from schemas.integrity import chain_hash
from sinks.enriched import ENRICHED
from sinks.errors import SinkError
from sinks.ocf import container_file
from sinks.row_check import check_rows
from sinks.tables import (
    ALERT_PERSONAL_COLUMNS,
    FIRST_PERSONAL_COLUMNS,
    PERSONAL_COLUMNS,
    alerts_spec,
)
from sinks.verify_store import verify_store
from sinks.writer import AvroWriter
from tests.schemas.factories import alert, audit_event, enriched_event
from tests.sinks.helpers import ENCODE_ALERT, ENCODE_ENRICHED, files_of

ALERT_FINGERPRINT = registry.current("Alert").fingerprint

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
                  ("session_id", "session_id"), ("tenant_id", "tenant_id"),
                  ("session_digest", "session_digest")]},
        "target": {k: row[k] for k in ("server_id", "tool_name", "resource_uri", "prompt_name",
                   "method", "tool_fingerprint", "classification", "resource_uri_digest",
                   "prompt_name_digest")},
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


DIGEST_KEY = b"value-digest-key-0123456789"
PERSONAL_CHAINED = {
    "session_id": "sess-alice-laptop-1",
    "resource_uri": "file:///home/alice/diary.txt",
    "prompt_name": "alice-medical-summary",
}


def keyed(value: str) -> str:
    """The keyed digest the chain covers, by the standard library (not the producers)."""
    return hmac.new(DIGEST_KEY, value.encode(), hashlib.sha256).hexdigest()


def digested_chain(user: str, length: int, *, with_digests: bool = True) -> list[bytes]:
    """A stream whose events carry the personal chained values, each with its keyed
    digest (chained in its place) or, as an older producer wrote them, without."""
    values, prev = [], ""
    for seq in range(1, length + 1):
        event = audit_event(seq=seq, prev_hash=prev, call_id=f"c{seq}")
        actor, target = event["actor"], event["target"]
        actor.update(
            user_pseudonym=user, ip="203.0.113.7", session_id=PERSONAL_CHAINED["session_id"]
        )
        target.update(resource_uri=PERSONAL_CHAINED["resource_uri"])
        target.update(prompt_name=PERSONAL_CHAINED["prompt_name"])
        actor["session_digest"] = keyed(actor["session_id"]) if with_digests else None
        for name in ("resource_uri", "prompt_name"):
            target[f"{name}_digest"] = keyed(target[name]) if with_digests else None
        event["integrity"]["stream_id"] = f"stream-{user[:6]}-{with_digests}"
        event["integrity"]["hash"] = prev = chain_hash(prev, event)
        values.append(ENCODE_ENRICHED(enriched_event(event=event)))
    return values


def _store(writer: AvroWriter, bodies: list[bytes], alerts: list[bytes]) -> None:
    writer.write(ENRICHED, files_of(bodies), "events")
    writer.write(alerts_spec(365), [container_file(ALERT_FINGERPRINT, alerts)], "alerts")


def _not_cleared(client: Client, table: str, columns: list[str], user: str) -> int:
    """Rows of ``user`` in which some personal column still holds a value."""
    held = " OR ".join(f"NOT empty({c})" for c in columns)
    query = f"SELECT countIf({held}) FROM {table} WHERE user_id = {{u:String}}"
    return int(client.query(query, parameters={"u": user}).result_rows[0][0])


def _verify_findings(client: Client) -> set[tuple[str, str, int]]:
    return {(stream, f.kind, f.seq) for stream, _, found in verify_store(client) for f in found}


def test_erase_clears_every_personal_column_and_verify_still_passes(
    writer: AvroWriter, clickhouse: Client
) -> None:
    alert_body = ENCODE_ALERT(alert(user_pseudonym=ALICE, attributes={"ip": "203.0.113.7"}))
    _store(writer, digested_chain(ALICE, 4) + digested_chain(BOB, 2), [alert_body])

    assert erase(clickhouse, ALICE, operator="dpo") == 4

    assert _not_cleared(clickhouse, "audit_events", list(PERSONAL_COLUMNS), ALICE) == 0
    assert _not_cleared(clickhouse, "audit_alerts", list(ALERT_PERSONAL_COLUMNS), ALICE) == 0
    assert _not_cleared(clickhouse, "events_first", list(FIRST_PERSONAL_COLUMNS), ALICE) == 0
    # The projection by session (migration 190), read itself, is rebuilt with its part:
    # the old session id finds Bob's events in it, no longer Alice's.
    by_session = clickhouse.query(
        "SELECT countIf(user_id = {alice:String}), countIf(user_id != {alice:String})"
        " FROM mergeTreeProjection(currentDatabase(), events_first, by_session)"
        " WHERE session_id = {session:String}",
        parameters={"alice": ALICE, "session": PERSONAL_CHAINED["session_id"]},
    ).result_rows[0]
    assert by_session == (0, 2)
    assert {"session_id", "resource_uri", "prompt_name"} <= set(PERSONAL_COLUMNS)
    columns, rows = export(clickhouse, ALICE)
    stored = [dict(zip(columns, row, strict=True)) for row in rows]
    assert {(r["session_id"], r["resource_uri"], r["prompt_name"]) for r in stored} == {
        ("", "", "")
    }
    assert {r["session_digest"] for r in stored} == {keyed(PERSONAL_CHAINED["session_id"])}
    _, bobs = export(clickhouse, BOB)  # someone else's values stay
    assert {row[columns.index("session_id")] for row in bobs} == {PERSONAL_CHAINED["session_id"]}
    assert _verify_findings(clickhouse) == set()
    checked = check_rows(clickhouse)
    assert checked.ok and checked.erased == 5  # four events and the alert


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("session_digest", "0" * 64),
        ("resource_uri_digest", "0" * 64),
        ("prompt_name_digest", ""),  # a digest taken out: chained over the cleared value
        ("tool_name", "delete_file"),
    ],
)
def test_after_erasure_an_altered_digest_or_chained_field_fails_verify(
    writer: AvroWriter, clickhouse: Client, column: str, value: str
) -> None:
    _store(writer, digested_chain(ALICE, 4), [])
    erase(clickhouse, ALICE, operator="dpo")

    clickhouse.command(
        f"ALTER TABLE audit_events UPDATE {column} = {{v:String}} WHERE seq = 3",
        parameters={"v": value},
        settings={"mutations_sync": 2},
    )
    assert ("altered", 3) in {(kind, seq) for _, kind, seq in _verify_findings(clickhouse)}
    assert [r.what for r in check_rows(clickhouse).altered] == ["content"]


def test_erasure_keeps_the_clear_values_an_older_event_chained(
    writer: AvroWriter, clickhouse: Client
) -> None:
    """An event without digests (an older producer) was chained over the clear values:
    erasure keeps those three, clears the rest, and the stream still verifies."""
    _store(writer, digested_chain(ALICE, 3, with_digests=False), [])

    erase(clickhouse, ALICE, operator="dpo")

    columns, rows = export(clickhouse, ALICE)
    stored = [dict(zip(columns, row, strict=True)) for row in rows]
    assert {(r["ip"], r["args"]) for r in stored} == {("", "")}
    assert {(r["session_id"], r["resource_uri"], r["prompt_name"]) for r in stored} == {
        tuple(PERSONAL_CHAINED.values())
    }
    assert _verify_findings(clickhouse) == set()
    checked = check_rows(clickhouse)
    assert checked.ok and checked.erased == 3
