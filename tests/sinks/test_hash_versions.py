"""A store upgraded across migration 150 checks every row by the formula it was hashed with.

Migration 150 moves session id, resource URI and prompt name from ``content_hash``
into ``personal_hash`` (erasure may now clear them). The store here is built as an
operator's would be: migrated to 140, rows written by the sink as it was then (an
older producer's events, and the CLI's own access record), then upgraded and fed by
the current sink and CLI. ``mcp-audit verify`` must find nothing altered, an erasure
must read "erased on record", and an attacker's change to an old or a new row, or to
its hash version, must still be named.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from readside.access import Access, access_event
from schemas.integrity import chain_hash
from sinks.enriched import ENRICHED, HASH_VERSION, HASHED_BEFORE_150
from sinks.migrate import apply_migrations
from sinks.row_check import check_rows
from sinks.tables import TableSpec
from sinks.verify_store import verify_store
from sinks.writer import AvroWriter
from tests.schemas.factories import audit_event, enriched_event
from tests.sinks.helpers import ENCODE_ENRICHED, files_of, point_cli_at

pytestmark = pytest.mark.clickhouse
DIGEST_KEY = b"value-digest-key-0123456789"
ALICE, BOB = "a1" * 32, "b0" * 32
PERSONAL = {
    "session_id": "sess-alice-laptop-1",
    "resource_uri": "file:///home/alice/diary.txt",
    "prompt_name": "alice-medical-summary",
}
# SHA-256 of the SQL that hashed, mapped and cleared rows before migration 150, taken
# from main at 13d89a1: rows stored then are checked by exactly that formula forever.
FORMULA_BEFORE_150 = "0bbb9a8bf9d1aa34b5d4724f2d411a4a152e14cd3aa45406feaea14e0ec65335"


def _keyed(value: str) -> str:
    """The keyed digest a current producer sends (by the standard library)."""
    return hmac.new(DIGEST_KEY, value.encode(), hashlib.sha256).hexdigest()


def _stream(first: int, count: int, prev: str, *, digests: bool) -> list[dict[str, Any]]:
    """Events ``first``.. of one producer stream, alternating Alice and Bob, carrying the
    three personal identifiers; with their digests (a current producer) or without."""
    events = []
    for seq in range(first, first + count):
        event = audit_event(seq=seq, prev_hash=prev, event_id=str(uuid.uuid4()))
        event["actor"].update(user_pseudonym=ALICE if seq % 2 else BOB, ip="203.0.113.7")
        event["actor"]["session_id"] = PERSONAL["session_id"]
        event["target"].update(
            resource_uri=PERSONAL["resource_uri"], prompt_name=PERSONAL["prompt_name"]
        )
        event["actor"]["session_digest"] = _keyed(PERSONAL["session_id"]) if digests else None
        for name in ("resource_uri", "prompt_name"):
            event["target"][f"{name}_digest"] = _keyed(PERSONAL[name]) if digests else None
        event["integrity"]["stream_id"] = "stream-upgraded"
        event["integrity"]["hash"] = prev = chain_hash(prev, event)
        events.append(event)
    return events


def _write(writer: AvroWriter, spec: TableSpec, records: list[dict[str, Any]]) -> None:
    files = files_of([ENCODE_ENRICHED(r) for r in records], parts=1)
    writer.write(spec, files, str(uuid.uuid4()))


Upgraded = tuple[Client, Callable[[list[str]], int], dict[str, list[str]]]


@pytest.fixture
def upgraded(
    clickhouse: Client, clickhouse_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Upgraded]:
    """Rows of the release before 150, the upgrade, rows since; the CLI on the store."""
    from mcp_audit.cli import main

    assert 150 not in apply_migrations(clickhouse, until=140)
    writer = AvroWriter(clickhouse, clickhouse_url, parse_threads=1)
    try:
        old = _stream(1, 6, "", digests=False)
        access = access_event(Access("dpo", "query", {"sql": "SELECT 1"}), (0, ""))
        _write(writer, HASHED_BEFORE_150, [enriched_event(event=e) for e in old] + [access])
        assert apply_migrations(clickhouse)[0] == 150  # and any later ones
        new = _stream(7, 6, old[-1]["integrity"]["hash"], digests=True)
        _write(writer, ENRICHED, [enriched_event(event=e) for e in new])
    finally:
        writer.close()
    point_cli_at(monkeypatch, clickhouse_url, clickhouse.database, tmp_path / "keys")
    assert main(["digest", "--no-alerts"]) == 0  # itself stores a (new) access row
    ids = {
        "old": [e["event_id"] for e in old] + [access["event"]["event_id"]],
        "new": [e["event_id"] for e in new],
    }
    yield clickhouse, main, ids


def _versions(client: Client) -> dict[int, int]:
    rows = client.query("SELECT hash_version, count() FROM audit_events GROUP BY 1").result_rows
    return {int(v): int(n) for v, n in rows}


def test_the_formula_of_rows_stored_before_150_never_changes() -> None:
    old = HASHED_BEFORE_150
    text = old.content_hash_sql_v1() + old.personal_hash_sql() + old.cleared_sql()
    assert hashlib.sha256(text.encode()).hexdigest() == FORMULA_BEFORE_150
    assert ENRICHED.earlier_hashes == ((1, HASHED_BEFORE_150),) and HASH_VERSION == 2


def test_an_upgraded_store_verifies_clean_and_erasure_is_on_record(
    upgraded: Upgraded, capsys: Any
) -> None:
    client, main, _ = upgraded
    # Old rows (6 events, 1 access record) read version 1; 6 events and the digest
    # command's access record were stored since.
    assert _versions(client) == {1: 7, HASH_VERSION: 7}
    assert main(["verify"]) == 0
    out = capsys.readouterr().out
    assert "14 rows hashed, 0 altered, 0 erased on record" in out
    assert "stream stream-upgraded: 12 events, ok" in out
    assert "stream mcp-audit.access: 2 events, ok" in out

    assert main(["erase", "--pseudonym", ALICE]) == 0
    rows = client.query(
        "SELECT hash_version, session_id, resource_uri, prompt_name, ip FROM audit_events"
        " WHERE user_id = {u:String} ORDER BY seq",
        parameters={"u": ALICE},
    ).result_rows
    # An old row's event chained the three in clear: erasure keeps them there (and
    # clears the rest); a new row's chain covers their digests: cleared.
    assert {r for r in rows if r[0] == 1} == {(1, *PERSONAL.values(), "")}
    assert {r for r in rows if r[0] == HASH_VERSION} == {(HASH_VERSION, "", "", "", "")}
    assert main(["verify", "--quiet"]) == 0
    out = capsys.readouterr().out
    # Alice's six rows (three old, three new) cleared on record; the verify and erase
    # commands' own access records are two more rows hashed.
    assert "16 rows hashed, 0 altered, 6 erased on record" in out
    assert {f.kind for _, _, found in verify_store(client) for f in found} == set()


@pytest.mark.parametrize(
    ("era", "change", "what"),
    [
        # Old rows hashed the three as content.
        ("old", "resource_uri = 'file:///elsewhere'", "content"),
        ("old", "session_id = ''", "content"),
        ("old", "risk_level = 'LOW'", "content"),
        ("old", "ip = ''", "personal"),  # Bob is not erased: no erasure on record
        ("old", f"hash_version = {HASH_VERSION}", "content"),
        # New rows hash them as personal values, beside their digests (content).
        ("new", "resource_uri = ''", "personal"),
        ("new", "prompt_name_digest = ''", "content"),
        ("new", "risk_level = 'LOW'", "content"),
        ("new", "hash_version = 1", "content"),
    ],
)
def test_an_altered_old_or_new_row_is_still_named(
    upgraded: Upgraded, capsys: Any, era: str, change: str, what: str
) -> None:
    client, main, ids = upgraded
    victim = next(i for i in ids[era] if _user(client, i) == BOB)
    client.command(
        f"ALTER TABLE audit_events UPDATE {change} WHERE event_id = toUUID({{e:String}})",
        parameters={"e": victim},
        settings={"mutations_sync": 2},
    )
    assert [(a.row_id, a.what) for a in check_rows(client).altered] == [(victim, what)]
    assert main(["verify", "--quiet"]) == 1
    assert f"row: audit_events {victim}:" in capsys.readouterr().out


def test_an_erased_subject_cannot_hide_an_alteration_in_an_old_row(upgraded: Upgraded) -> None:
    """After Alice's erasure her old rows may differ in personal values, but only as
    erasure leaves them: an old row whose chained value was cleared is altered."""
    client, main, ids = upgraded
    assert main(["erase", "--pseudonym", ALICE]) == 0
    victim = next(i for i in ids["old"] if _user(client, i) == ALICE)
    client.command(
        "ALTER TABLE audit_events UPDATE resource_uri = '' WHERE event_id = toUUID({e:String})",
        parameters={"e": victim},
        settings={"mutations_sync": 2},
    )
    assert [(a.row_id, a.what) for a in check_rows(client).altered] == [(victim, "content")]


def test_a_copy_of_an_old_event_after_the_upgrade_is_a_conflict_only_when_it_differs(
    clickhouse: Client, clickhouse_url: str
) -> None:
    """Its content_hash is made by the new formula, so it always differs from the stored
    one's: the conflict view compares such copies on the chain and the enrichment."""
    apply_migrations(clickhouse, until=140)
    writer = AvroWriter(clickhouse, clickhouse_url, parse_threads=1)
    try:
        records = [enriched_event(event=e) for e in _stream(1, 4, "", digests=False)]
        _write(writer, HASHED_BEFORE_150, records)
        apply_migrations(clickhouse)
        _write(writer, ENRICHED, records)  # a replay: the same copies
        assert clickhouse.query("SELECT count() FROM audit_conflicts").result_rows == [(0,)]
        forged = {**records[2], "risk_level": "LOW", "risk_score": 0}
        _write(writer, ENRICHED, [forged])
    finally:
        writer.close()
    rows = clickhouse.query(
        "SELECT toString(event_id), kept_risk_level, refused_risk_level FROM audit_conflicts"
    ).result_rows
    assert rows == [(records[2]["event"]["event_id"], records[2]["risk_level"], "LOW")]
    assert _versions(clickhouse) == {1: 4}  # the first copies stay
    assert check_rows(clickhouse).ok


def _user(client: Client, event_id: str) -> str:
    rows = client.query(
        "SELECT user_id FROM audit_events WHERE event_id = toUUID({e:String})",
        parameters={"e": event_id},
    ).result_rows
    return str(rows[0][0])
