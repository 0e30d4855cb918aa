"""The sealed log seals each row's content, events' and alerts' (issue 14 item 2).

Attacked as someone who can write the store would: rewrite a sealed row together
with both of its hashes (the row check alone passes it), insert a new version and
let the sealer seal it, alter or delete a sealed alert. And the honest store, with
everything that legitimately changes after sealing (an INCOMPLETE version of an
attempt, a folded alert stored again, an erasure, a legal hold, retention), verifies.
"""

from __future__ import annotations

import copy
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from mcp_audit.cli import main
from readside.holds import new_hold, place, release
from readside.subjects import erase
from schemas import registry
from schemas.integrity import chain_hash
from sinks.enriched import ENRICHED
from sinks.migrate import apply_migrations
from sinks.ocf import container_file
from sinks.row_check import check_rows
from sinks.tables import alerts_spec
from sinks.verify_sealed import SealedCheck, check_sealed
from sinks.writer import AvroWriter
from tests.schemas.factories import alert, audit_event, enriched_event
from tests.sinks.helpers import ENCODE_ALERT, ENCODE_ENRICHED, point_cli_at
from tests.sinks.test_digests import Sealed, _hour, _now

pytestmark = pytest.mark.clickhouse
SYNC = {"mutations_sync": 2}
LATENESS_US = 86_400 * 1_000_000
HOUR_US = 3_600_000_000


def _events(
    stream: str, times: list[datetime], retention: int = 365, attempt: int = 0, server: str = ""
) -> list[dict[str, Any]]:
    """A chained stream; event ``attempt`` (a seq) an attempt still waiting for its result."""
    records, previous = [], ""
    for seq, when in enumerate(times, 1):
        event = audit_event(event_id=str(uuid.uuid4()), event_time=when)
        if server:
            event["target"]["server_id"] = server
        if seq == attempt:
            event.update(phase="ATTEMPT", outcome=None)
        event["integrity"].update(stream_id=stream, seq=seq, prev_hash=previous)
        event["integrity"]["hash"] = previous = chain_hash(previous, event)
        state = "ATTEMPT" if seq == attempt else "COMPLETE"
        records.append(enriched_event(event=event, retention_days=retention, call_state=state))
    return records


class Store:
    def __init__(self, client: Client, url: str, keys: Path) -> None:
        apply_migrations(client)
        self.client, self.url = client, url
        start = _hour() - timedelta(hours=3)
        self.events = _events("stream-c", [start + timedelta(minutes=5 * i) for i in range(8)],
                              attempt=4)  # fmt: skip
        # Two days old, kept one day, under a legal hold: retention takes them once the
        # hold is released (without it they would not even be stored).
        self.hold = place(client, new_hold("server", "files"), "legal@example.com")
        old = _hour() - timedelta(days=2)
        self.old = _events("stream-old", [old + timedelta(minutes=i) for i in range(3)], 1,
                           server="files")  # fmt: skip
        self.write_events(self.events + self.old)
        # First versions, as the processors raise them (count 1, one stored event as evidence).
        evidence = [self.events[0]["event"]["event_id"]]
        self.alerts = [
            alert(alert_time=start, window_start=start, window_end=start, count=1,
                  evidence_event_ids=evidence),
            alert(alert_id=str(uuid.uuid4()), alert_time=start, window_start=start,
                  window_end=start, count=1, evidence_event_ids=evidence),
        ]  # fmt: skip
        self.write_alerts(self.alerts)
        self.old_alert = alert(alert_id=str(uuid.uuid4()), alert_time=old, window_start=old,
                               window_end=old, server_id="files", count=1,
                               evidence_event_ids=[self.old[0]["event"]["event_id"]])  # fmt: skip
        self.write_alerts([self.old_alert], retention_days=1)
        self.sealed = Sealed(client, keys)

    def write_events(self, records: list[dict[str, Any]]) -> None:
        fingerprint = registry.current("EnrichedEvent").fingerprint
        body = container_file(fingerprint, [ENCODE_ENRICHED(r) for r in records])
        self._write(ENRICHED, body)

    def write_alerts(self, records: list[dict[str, Any]], retention_days: int = 365) -> None:
        fingerprint = registry.current("Alert").fingerprint
        body = container_file(fingerprint, [ENCODE_ALERT(r) for r in records])
        self._write(alerts_spec(retention_days), body)

    def _write(self, spec: Any, body: bytes) -> None:
        writer = AvroWriter(self.client, self.url, parse_threads=1)
        try:
            writer.write(spec, [body], token=str(uuid.uuid4()))
        finally:
            writer.close()

    def seal(self, hours: int = 0) -> int:
        """A sealer cycle; ``hours`` later, heads cover what it appends (what the
        sealer does at the end of the current period)."""
        return self.sealed.sealer.cycle(now=_now() + hours * HOUR_US)[0]

    def check(self) -> SealedCheck:
        heads = self.sealed.check().heads
        newest = heads[-1]
        return check_sealed(self.client, newest.tree_size, newest.sealed_at_us - LATENESS_US,
                            _now())  # fmt: skip

    def named(self) -> set[tuple[str, str, str]]:
        return {(m.table, m.row_id, m.verdict) for m in self.check().named}


@pytest.fixture
def store(clickhouse: Client, clickhouse_url: str, tmp_path: Path) -> Store:
    made = Store(clickhouse, clickhouse_url, tmp_path / "keys")
    assert made.seal() == 8 + 3 + 3  # events and alerts, one leaf each
    check = made.check()
    assert check.problems == 0 and check.named == [] and check.counts == {}
    return made


def _folded(first: dict[str, Any], count: int, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The processors' final version of a folded alert: its count, evidence to match."""
    evidence = first["evidence_event_ids"] + [e["event"]["event_id"] for e in events[1:count]]
    assert len(evidence) == count
    return dict(first, count=count, window_end=_hour(), evidence_event_ids=evidence)


def _incomplete(attempt: dict[str, Any]) -> dict[str, Any]:
    """The processors' INCOMPLETE version of an expired attempt (processors.batch)."""
    version = copy.deepcopy(attempt)
    event = version["event"]
    version.update(
        call_state="INCOMPLETE", attempt_event_id=event["event_id"],
        attempt_time=event["event_time"], risk_score=70, risk_reasons=["call:incomplete"],
        anomalies=[{"detector": "incomplete_call", "score": 1.0, "detail": "never returned"}],
        enriched_time=attempt["enriched_time"] + timedelta(minutes=5),
    )  # fmt: skip
    return version


def _update(client: Client, table: str, assignment: str, where: str) -> None:
    client.command(f"ALTER TABLE {table} UPDATE {assignment} WHERE {where}", settings=SYNC)


def _rehash(client: Client, table: str, where: str) -> None:
    """What an attacker who read sinks.tables does after changing a row: both hashes anew."""
    spec = ENRICHED if table == "audit_events" else alerts_spec(365)
    _update(client, table, f"personal_hash = {spec.personal_hash_sql()}", where)
    _update(client, table, f"content_hash = {spec.content_hash_sql()}", where)


def test_a_sealed_row_rewritten_with_both_hashes_is_named(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    client = store.client
    point_cli_at(monkeypatch, store.url, client.database, store.sealed.keys)
    assert main(["verify", "--quiet"]) == 0
    assert "sealed content: 0 altered" in capsys.readouterr().out

    victim = store.events[6]["event"]["event_id"]
    where = f"event_id = toUUID('{victim}')"
    _update(client, "audit_events", "risk_score = 0, risk_level = 'LOW', ip = '198.51.100.1'",
            where)  # fmt: skip
    _rehash(client, "audit_events", where)
    assert check_rows(client).ok  # the row's own hashes agree with it: only the seal can tell
    assert store.named() == {("audit_events", victim, "altered")}
    assert main(["verify", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert f"sealed: audit_events {victim}: altered: content matches none of its sealed" in out
    assert "stream stream-c" not in out  # the chain itself still verifies


def _reinsert(client: Client, table: str, where: str, replace: str, original: str) -> None:
    """A forged copy inserted as a new row (a new part, which the sealer reads), the
    original deleted, both hashes made anew: the row check passes it."""
    client.command(f"INSERT INTO {table} SELECT * REPLACE ({replace}) FROM {table} WHERE {where}")
    client.command(f"ALTER TABLE {table} DELETE WHERE {where} AND {original}", settings=SYNC)
    _rehash(client, table, where)
    assert check_rows(client).ok


@pytest.mark.parametrize("incomplete", [False, True])
def test_a_rewritten_row_inserted_anew_is_named(store: Store, incomplete: bool) -> None:
    # A new part, which the sealer reads: a completed event sealed already is not sealed
    # again, so the forged copy stays unsealed and altered; nor is one that claims to be
    # the processors' INCOMPLETE version, since the chained phase says it was no attempt.
    client = store.client
    victim = store.events[2]["event"]["event_id"]
    where = f"event_id = toUUID('{victim}')"
    state = ", 'INCOMPLETE' AS call_state" if incomplete else ""
    replace = f"toUInt8(0) AS risk_score, 'LOW' AS risk_level, now64(6) AS enriched_time{state}"
    _reinsert(client, "audit_events", where, replace, "risk_score != 0")
    assert store.seal(hours=1) == 0
    # An INCOMPLETE claim is judged as a later version first: its chained phase is no
    # attempt's (tests/sinks/test_forged_versions.py has the rest of that rule).
    verdict = "forged version" if incomplete else "altered"
    assert store.named() == {("audit_events", victim, verdict)}


@pytest.mark.parametrize("attack", ["alter", "delete", "roll back", "reinsert"])
def test_a_sealed_alert_altered_or_deleted_is_named(store: Store, attack: str) -> None:
    client = store.client
    victim = store.alerts[1]["alert_id"]
    where = f"alert_id = toUUID('{victim}')"
    if attack == "alter":
        _update(client, "audit_alerts", "severity = 'LOW', count = 1", where)
        _rehash(client, "audit_alerts", where)
        assert check_rows(client).ok
    elif attack == "delete":
        client.command(f"ALTER TABLE audit_alerts DELETE WHERE {where}", settings=SYNC)
    elif attack == "reinsert":  # a new row, which the sealer reads: same count, other content
        _reinsert(client, "audit_alerts", where, "'LOW' AS severity", "severity != 'LOW'")
        assert store.seal(hours=1) == 1
    else:  # the folded version sealed, then removed: the first version is what is left
        folded = store.alerts[0]
        store.write_alerts([_folded(folded, 7, store.events)])
        assert store.seal(hours=1) == 1
        victim = folded["alert_id"]
        client.command(
            f"ALTER TABLE audit_alerts DELETE WHERE alert_id = toUUID('{victim}') AND count = 7",
            settings=SYNC,
        )
    verdict = {"alter": "altered", "delete": "deleted", "roll back": "rolled back",
               "reinsert": "resealed"}[attack]  # fmt: skip
    assert store.named() == {("audit_alerts", victim, verdict)}


def test_an_honest_store_verifies_through_what_legitimately_changes(store: Store) -> None:
    client = store.client
    # The processors' INCOMPLETE version of the attempt, and the folded alert's final count:
    attempt = store.events[3]
    store.write_events([_incomplete(attempt)])
    folded = store.alerts[0]
    store.write_alerts([_folded(folded, 9, store.events + store.old)])
    check = store.check()
    assert check.problems == 0 and check.count("pending") == 2, check.counts

    # Erasure, a legal hold placed and released, retention taking the old rows:
    subject = attempt["event"]["actor"]["user_pseudonym"]
    assert erase(client, subject, "dpo@example.com") > 0
    hold = place(client, new_hold("server", "files"), "counsel@example.com")  # a second one
    client.command("ALTER TABLE audit_events MATERIALIZE TTL", settings=SYNC)
    client.command("ALTER TABLE audit_alerts MATERIALIZE TTL", settings=SYNC)
    assert client.query("SELECT count() FROM audit_events").result_rows == [(12,)]
    check = store.check()
    assert check.problems == 0 and check.count("pending") == 2, check.counts

    assert store.seal(hours=1) == 2  # the two new versions, under the next head
    for placed in (hold, store.hold):
        release(client, placed.hold_id, "legal@example.com")
    for table in ("audit_events", "audit_alerts"):
        client.command(f"ALTER TABLE {table} MATERIALIZE TTL", settings=SYNC)
        client.command(f"OPTIMIZE TABLE {table} FINAL")  # older versions merged away
    assert client.query("SELECT count() FROM audit_events").result_rows == [(8,)]
    assert client.query("SELECT count() FROM audit_alerts").result_rows == [(2,)]
    check = store.check()
    assert check.problems == 0 and check.named == [], check.counts
    assert check.counts == {("event", "superseded"): 1, ("alert", "superseded"): 1}
    assert check_rows(client).ok and check_rows(client).erased > 0
    report = store.sealed.check()
    assert report.problems == [] and {a.expired for a in report.absent} == {True}


def test_the_newest_version_is_what_prove_shows(store: Store) -> None:
    from sinks.digests import prove

    folded = store.alerts[0]
    store.write_alerts([_folded(folded, 4, store.events)])
    assert store.seal(hours=1) == 1
    proof = prove(store.client, folded["alert_id"])
    assert (proof.leaf.kind, proof.leaf.seq, proof.leaf.version) == ("alert", 4, 2)
