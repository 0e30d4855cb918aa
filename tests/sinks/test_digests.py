"""The sealed log in the real store, attacked as someone who can write the store would.

Each attack is run on a sealed store and must be named by ``check_log`` or by
``mcp-audit verify``; the honest store (retention included) must verify clean.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from mcp_audit.cli import main
from schemas import registry
from schemas.digest import DigestError, InclusionProof, Leaf, check_inclusion
from schemas.integrity import chain_hash, to_micros
from schemas.merkle import ProofError, verify_consistency
from sinks.digests import (
    Sealer,
    from_micros,
    prove,
    prove_consistency,
    stored_heads,
    stored_leaves,
)
from sinks.enriched import ENRICHED
from sinks.head_publishers import HeadsFile, read_heads_file
from sinks.leaf_sql import leaf_hashes
from sinks.migrate import apply_migrations
from sinks.ocf import container_file
from sinks.signing import PUBLIC_NAME, FileSigner, key_dir, load_public_key
from sinks.verify_log import LogReport, check_log
from sinks.writer import AvroWriter
from tests.schemas.factories import audit_event, enriched_event
from tests.sinks.helpers import ENCODE_ENRICHED, point_cli_at

pytestmark = pytest.mark.clickhouse
HOUR = 3600
SYNC = {"mutations_sync": 2}


def _chained(stream: str, times: list[datetime], retention_days: int = 365) -> list[dict[str, Any]]:
    events, previous = [], ""
    for seq, when in enumerate(times, 1):
        event = audit_event(event_id=str(uuid.uuid4()), event_time=when)
        event["integrity"].update(stream_id=stream, seq=seq, prev_hash=previous)
        event["integrity"]["hash"] = previous = chain_hash(previous, event)
        events.append(enriched_event(event=event, retention_days=retention_days))
    return events


def _write(client: Client, url: str, events: list[dict[str, Any]]) -> None:
    writer = AvroWriter(client, url, parse_threads=1)
    try:
        fingerprint = registry.current("EnrichedEvent").fingerprint
        body = container_file(fingerprint, [ENCODE_ENRICHED(e) for e in events])
        writer.write(ENRICHED, [body], token=f"seal-{uuid.uuid4()}")
    finally:
        writer.close()


def _hour() -> datetime:
    return datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _now() -> int:
    """Half past this hour: sealing and checking at a fixed point of the hour, so that
    the hour just ended is closed whatever the clock says."""
    return to_micros(_hour() + timedelta(minutes=30))


def _store(client: Client, url: str) -> None:
    """Two streams, ten events in each of three closed hours (4, 3 and 2 hours ago)."""
    apply_migrations(client)
    start = _hour() - timedelta(hours=4)
    times = [start + timedelta(minutes=6 * i + 3) for i in range(30)]
    _write(client, url, _chained("stream-a", times) + _chained("stream-b", times))


class Sealed:
    def __init__(self, client: Client, keys: Path, period_s: int = HOUR) -> None:
        self.client, self.keys, self.period_s = client, keys, period_s
        self.signer = FileSigner(key_dir(keys, "http://remote"))
        self.heads_file = keys / "tree-heads.jsonl"
        self.sealer = Sealer(client, self.signer, keys, period_s, [HeadsFile(self.heads_file)])

    def check(self, published: bool = True) -> LogReport:
        heads = read_heads_file(self.heads_file) if published else []
        public = load_public_key(self.keys / PUBLIC_NAME)
        return check_log(self.client, public, self.period_s, _now(), published=heads)


@pytest.fixture
def sealed(clickhouse: Client, clickhouse_url: str, tmp_path: Path) -> Sealed:
    _store(clickhouse, clickhouse_url)
    made = Sealed(clickhouse, tmp_path / "keys")
    appended, heads = made.sealer.cycle(now=_now())
    assert appended == 60 and len(heads) == 4  # three hours of events and the empty one after
    return made


def _delete(client: Client, table: str, where: str) -> None:
    client.command(f"ALTER TABLE {table} DELETE WHERE {where}", settings=SYNC)


def test_an_honest_store_verifies_and_heads_are_published(sealed: Sealed) -> None:
    report = sealed.check()
    assert report.problems == [] and report.absent == []
    heads = stored_heads(sealed.client)
    assert read_heads_file(sealed.heads_file) == heads
    assert [h.prev_head_hash for h in heads[1:]] == [h.head_hash for h in heads[:-1]]
    assert sealed.sealer.cycle(now=_now()) == (0, [])  # sealed once


def test_events_older_than_the_first_append_are_in_the_first_sealed_period(
    clickhouse: Client, clickhouse_url: str, tmp_path: Path
) -> None:
    """Before the first head is signed, a late event (a producer's clock behind, a
    restarted worker's backlog) moves the first sealed period back to its own."""
    apply_migrations(clickhouse)
    _write(clickhouse, clickhouse_url, _chained("stream-now", [_hour() + timedelta(minutes=3)]))
    made = Sealed(clickhouse, tmp_path / "keys")
    assert made.sealer.cycle(now=_now()) == (1, [])  # this hour has not closed
    late = _hour() - timedelta(hours=3)
    _write(clickhouse, clickhouse_url, _chained("stream-late", [late + timedelta(minutes=3)]))
    appended, heads = made.sealer.cycle(now=_now())
    assert appended == 1
    starts = [to_micros(late + timedelta(hours=h)) for h in range(3)]
    assert [h.period_start_us for h in heads] == starts
    assert heads[-1].tree_size == 2
    report = made.check()
    assert report.problems == [] and report.absent == []


def test_newest_rows_deleted_after_append_before_the_head_is_signed(
    clickhouse: Client, clickhouse_url: str, tmp_path: Path
) -> None:
    _store(clickhouse, clickhouse_url)
    made = Sealed(clickhouse, tmp_path / "keys")
    # A cycle in the middle of the newest hour appends its events, signs only older hours.
    middle = to_micros(_hour() - timedelta(hours=2, minutes=30))
    assert made.sealer.cycle(now=middle)[0] == 60
    _delete(clickhouse, "audit_events", "stream_id = 'stream-a' AND seq >= 28")
    made.sealer.cycle(now=_now())
    report = made.check()
    lost = sorted(a.leaf.seq for a in report.absent if not a.expired)
    assert lost == [28, 29, 30], report
    assert [a.leaf.stream_id for a in report.absent] == ["stream-a"] * 3


def test_newest_rows_deleted_with_their_heads_and_leaves(sealed: Sealed) -> None:
    heads = stored_heads(sealed.client)
    cut = heads[-3]  # the newest sealed periods, with everything they sealed
    when = f"toDateTime64({cut.period_start_us / 1e6}, 6, 'UTC')"
    _delete(sealed.client, "audit_events", f"event_time >= {when}")
    _delete(sealed.client, "audit_tree_leaves", f"event_time >= {when}")
    _delete(sealed.client, "audit_tree_heads", f"period_start >= {when}")
    problems = sealed.check(published=False).problems
    assert any("tree heads missing: 3 closed periods" in p for p in problems), problems
    problems = sealed.check().problems
    assert sum("missing from the store" in p for p in problems) == 3, problems


def test_a_stream_deleted_with_its_leaves(sealed: Sealed) -> None:
    _delete(sealed.client, "audit_events", "stream_id = 'stream-b'")
    _delete(sealed.client, "audit_tree_leaves", "stream_id = 'stream-b'")
    problems = sealed.check(published=False).problems
    assert any("are missing from the store" in p for p in problems), problems
    # Renumbered so that the log has no hole: the roots still differ.
    sealed.client.command(
        "INSERT INTO audit_tree_leaves (leaf_index, event_id, stream_id, seq, hash, event_time,"
        " retention_days) SELECT row_number() OVER (ORDER BY leaf_index) - 1, event_id,"
        " stream_id, seq, hash, event_time, retention_days FROM audit_tree_leaves FINAL"
    )
    _delete(sealed.client, "audit_tree_leaves", "leaf_index >= 30")
    problems = sealed.check(published=False).problems
    assert any("the store holds 30 of its 60 leaves" in p for p in problems), problems
    # Padded back to the signed size with leaves of the other stream: roots differ.
    sealed.client.command(
        "INSERT INTO audit_tree_leaves (leaf_index, event_id, stream_id, seq, hash, event_time,"
        " retention_days) SELECT leaf_index + 30, generateUUIDv4(leaf_index), stream_id, seq,"
        " hash, event_time, retention_days FROM audit_tree_leaves FINAL"
    )
    problems = sealed.check(published=False).problems
    assert any("do not hash to its signed root" in p for p in problems), problems


def test_a_stream_deleted_alone_is_named(sealed: Sealed) -> None:
    _delete(sealed.client, "audit_events", "stream_id = 'stream-b'")
    report = sealed.check()
    assert {(a.leaf.stream_id, a.expired) for a in report.absent} == {("stream-b", False)}
    assert len(report.missing("stream-b")) == 30


def test_every_head_deleted(sealed: Sealed) -> None:
    _delete(sealed.client, "audit_tree_heads", "1")
    problems = sealed.check(published=False).problems
    assert any(p.startswith("no tree heads at all") for p in problems), problems


def test_rechained_and_resigned_with_another_key_fails_against_the_auditors_key(
    sealed: Sealed, tmp_path: Path
) -> None:
    auditors_copy = (sealed.keys / PUBLIC_NAME).read_bytes()
    # The attacker rewrites the log from scratch and seals it with a key of their own.
    for table in ("audit_tree_leaves", "audit_tree_heads"):
        _delete(sealed.client, table, "1")
    _delete(sealed.client, "audit_events", "stream_id = 'stream-a' AND seq >= 25")
    forged = Sealed(sealed.client, tmp_path / "attacker")
    forged.sealer.cycle(now=_now())
    (forged.keys / PUBLIC_NAME).write_bytes(auditors_copy)
    forged.heads_file.write_bytes(sealed.heads_file.read_bytes())  # what was published
    problems = forged.check().problems
    assert any("bad tree head signature" in p for p in problems), problems
    assert any("the store's head for that period differs" in p for p in problems), problems


def test_retention_zero_in_the_periods_table_hides_nothing(sealed: Sealed) -> None:
    sealed.client.command("INSERT INTO retention_periods VALUES (0)")
    _delete(sealed.client, "audit_events", "stream_id = 'stream-a' AND seq IN (5, 6)")
    report = sealed.check()
    assert {(a.leaf.seq, a.expired) for a in report.absent} == {(5, False), (6, False)}


def test_events_past_their_sealed_retention_are_expired(
    clickhouse: Client, clickhouse_url: str, tmp_path: Path
) -> None:
    """30-day events, 40 days old: a legal hold kept them while they were sealed; released,
    TTL deletes them, and their sealed retention is what calls the gap expired."""
    apply_migrations(clickhouse)
    old = _hour() - timedelta(days=40)
    clickhouse.command(
        "INSERT INTO legal_holds (hold_id, kind, value, active, changed_at)"
        " VALUES ('h1', 'server', 'files', true, now64(6))"
    )
    events = _chained("stream-r", [old + timedelta(minutes=i) for i in range(10)], 30)
    for event in events:
        event["event"]["target"]["server_id"] = "files"
    previous = ""  # re-chained: the server id is a chained field
    for event in events:
        event["event"]["integrity"]["prev_hash"] = previous
        event["event"]["integrity"]["hash"] = previous = chain_hash(previous, event["event"])
    _write(clickhouse, clickhouse_url, events)
    assert clickhouse.query("SELECT count() FROM audit_events").result_rows == [(10,)]
    day = 86_400  # day-long periods: forty heads rather than a thousand
    made = Sealed(clickhouse, tmp_path / "keys", day)
    made.sealer.cycle(now=to_micros(old + timedelta(days=2)))
    # Released: TTL takes the four oldest (the rest stay held by hand, as a test of mixing).
    clickhouse.command(
        "ALTER TABLE audit_events UPDATE legal_hold = seq > 4 WHERE 1", settings=SYNC
    )
    clickhouse.command("ALTER TABLE audit_events MATERIALIZE TTL", settings=SYNC)
    assert clickhouse.query("SELECT count() FROM audit_events").result_rows == [(6,)]
    made.sealer.cycle(now=_now())
    report = made.check()
    assert report.problems == []
    assert report.expired == {("stream-r", s) for s in range(1, 5)}


def test_a_sealer_without_its_state_refuses_to_start_a_new_log(sealed: Sealed) -> None:
    (sealed.keys / "sealer-state.json").unlink()
    with pytest.raises(DigestError, match="restore the key directory"):
        Sealer(sealed.client, sealed.signer, sealed.keys, HOUR)


def test_the_key_directory_stays_apart_from_the_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with pytest.raises(DigestError, match="outside the store"):
        key_dir(data / "keys", f"chdb://{data / 'clickhouse'}", data)
    with pytest.raises(DigestError, match="outside the store"):
        key_dir(data / "clickhouse" / "keys", f"chdb://{data / 'clickhouse'}")
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    with pytest.raises(DigestError, match="open to other users"):
        key_dir(shared, f"chdb://{data / 'clickhouse'}")
    made = key_dir(tmp_path / "keys", f"chdb://{data / 'clickhouse'}", data)
    FileSigner(made)
    assert oct((made / "tree-head-key.pem").stat().st_mode & 0o777) == "0o600"


def test_an_inclusion_proof_checks_with_the_public_key_alone(
    sealed: Sealed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    [(event_id,)] = sealed.client.query(
        "SELECT toString(event_id) FROM audit_events WHERE stream_id = 'stream-b' AND seq = 17"
    ).result_rows
    proof = prove(sealed.client, event_id)
    proof_file = tmp_path / "proof.json"
    proof_file.write_text(proof.to_json())
    public = tmp_path / "auditor.pub"
    public.write_bytes((sealed.keys / PUBLIC_NAME).read_bytes())
    # The third party: no store, no key directory; the proof file and the public key.
    monkeypatch.setenv("MCP_AUDIT_SINK_CLICKHOUSE_URL", "http://store.invalid:1")
    argv = ["prove", "--check", str(proof_file), "--public-key", str(public)]
    assert main(argv) == 0
    assert f"proven: event {event_id} (stream stream-b seq 17)" in capsys.readouterr().out
    check_inclusion(InclusionProof.from_json(proof_file.read_text()), load_public_key(public))

    body = json.loads(proof_file.read_text())
    body["leaf"]["seq"] = 18  # the proof claims another position in the stream
    proof_file.write_text(json.dumps(body))
    assert main(argv) == 1
    assert "NOT PROVEN" in capsys.readouterr().out


def test_verify_command_names_what_is_missing(
    sealed: Sealed, clickhouse_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    point_cli_at(monkeypatch, clickhouse_url, sealed.client.database, sealed.keys)
    assert main(["verify", "--quiet"]) == 0
    assert "0 problems" in capsys.readouterr().out

    _delete(sealed.client, "audit_events", "stream_id = 'stream-a' AND seq >= 29")
    assert main(["verify", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "stream stream-a: 28 events, 2 problem(s)" in out
    assert "missing     seq 29" in out and "sealed as leaf" in out

    _delete(sealed.client, "audit_events", "1")
    _delete(sealed.client, "audit_tree_leaves", "1")
    _delete(sealed.client, "audit_tree_heads", "1")
    assert main(["verify", "--quiet"]) == 1  # the heads file beside the key remembers
    assert "missing from the store" in capsys.readouterr().out


def test_digest_command_seals_and_verify_passes(
    clickhouse: Client,
    clickhouse_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    _store(clickhouse, clickhouse_url)
    point_cli_at(monkeypatch, clickhouse_url, clickhouse.database, tmp_path / "keys")
    assert main(["verify", "--quiet"]) == 1  # closed periods and nothing sealed
    assert "no tree heads at all" in capsys.readouterr().out
    assert main(["digest", "--no-alerts"]) == 0
    # The 60 events and the access records of the verify and the digest run.
    assert "appended 62 events" in capsys.readouterr().out
    assert main(["verify", "--quiet"]) == 0


def test_consistency_between_any_two_heads(
    clickhouse: Client, clickhouse_url: str, tmp_path: Path
) -> None:
    _store(clickhouse, clickhouse_url)
    made = Sealed(clickhouse, tmp_path / "keys")
    # One cycle per hour, as the sealer runs: each head covers a longer log.
    for hours_ago in (3, 2, 1, 0):
        made.sealer.cycle(now=to_micros(_hour() - timedelta(hours=hours_ago, minutes=-10)))
        _write(clickhouse, clickhouse_url, _chained(f"late-{hours_ago}", [_hour()]))
    heads = stored_heads(clickhouse)
    sizes = [h.tree_size for h in heads]
    assert sizes == sorted(sizes) and len(set(sizes)) >= 3, sizes
    for old in heads:
        for new in heads:
            if old.tree_size <= new.tree_size:
                proof = [bytes.fromhex(h) for h in prove_consistency(clickhouse, old, new)]
                verify_consistency(
                    old.tree_size, new.tree_size, bytes.fromhex(old.root_hash),
                    bytes.fromhex(new.root_hash), proof,
                )  # fmt: skip
    first, last = heads[0], heads[-1]
    proof = [bytes.fromhex(h) for h in prove_consistency(clickhouse, first, last)]
    with pytest.raises(ProofError):  # a head from another log is not consistent with it
        verify_consistency(
            first.tree_size, last.tree_size, bytes(32), bytes.fromhex(last.root_hash), proof
        )


@pytest.mark.parametrize("stream_id", ["stream-a", "strömé:\n:42", "", "x" * 300])
@pytest.mark.parametrize(("version", "kind"), [(1, "event"), (2, "event"), (2, "alert")])
def test_clickhouse_hashes_leaves_as_python_does(
    clickhouse: Client, stream_id: str, version: int, kind: str
) -> None:
    """The sealer and verify hash leaves in SQL; a third party checks proofs in Python."""
    apply_migrations(clickhouse)
    content = "cd" * 32 if version == 2 else ""
    leaf = Leaf(str(uuid.uuid4()), stream_id, 7, "ab" * 32, -1_234_567, 2555, version, kind,
                content)  # fmt: skip
    clickhouse.insert(
        "audit_tree_leaves",
        [[0, uuid.UUID(leaf.event_id), stream_id, 7, leaf.hash, from_micros(-1_234_567), 2555,
          version, kind, content]],
        column_names=["leaf_index", "event_id", "stream_id", "seq", "hash", "event_time",
                      "retention_days", "leaf_version", "kind", "content_hash"],
    )  # fmt: skip
    assert leaf_hashes(clickhouse, 0) == [leaf.leaf_hash()]
    [(index, stored)] = list(stored_leaves(clickhouse, 1))
    assert (index, stored) == (0, leaf)
