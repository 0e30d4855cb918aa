"""Forged later versions of stored events and alerts (issue 14, "every alert can be altered").

Two rows legitimately follow a stored one: the processors' INCOMPLETE version of an
attempt that never got its result, and a folded alert's final version with a higher
count. Both used to be taken on their word: an attacker who writes the store (or the
enriched or alert topic, which the sink stores as it gets them) wrote such a version
with other content, the sealer sealed it, and verify called it superseded.

The honest store here is made by the processors themselves (:class:`BatchEnricher`,
as the app builds it): a stream with two attempts that expire and a completed call,
the INCOMPLETE versions, and the incomplete_call alert first raised and then folded.
Each attack below passed ``check_sealed`` before the stable half of ``content_hash``
and the shape rules existed (seen failing with sinks/verify_sealed.py reverted).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from mcp_audit.cli import main
from schemas import registry
from schemas.integrity import chain_hash, to_micros
from schemas.wire import Deserializer, SingleObjectSerializer
from sinks.enriched import ENRICHED
from sinks.head_publishers import DETECTOR as HEAD_DETECTOR
from sinks.migrate import apply_migrations
from sinks.ocf import container_file
from sinks.row_check import check_rows
from sinks.tables import TableSpec, alerts_spec
from sinks.verify_sealed import SealedCheck, check_sealed
from sinks.writer import AvroWriter
from tests.processors.helpers import SECOND_US, enricher, raw
from tests.schemas.factories import audit_event
from tests.sinks.helpers import point_cli_at
from tests.sinks.test_digests import Sealed, _hour, _now

pytestmark = pytest.mark.clickhouse
SYNC = {"mutations_sync": 2}
LATENESS_US = 86_400 * 1_000_000
HOUR_US = 3_600_000_000
ENCODE_RAW = SingleObjectSerializer("AuditEvent")
DECODE_ENRICHED = Deserializer("EnrichedEvent")
DECODE_ALERT = Deserializer("Alert")
ENCODE_ENRICHED = SingleObjectSerializer("EnrichedEvent")
ENCODE_ALERT = SingleObjectSerializer("Alert")


def _raw_stream() -> list[dict[str, Any]]:
    """Calls c1 and c2 never return; c3 does. One user, one chained stream."""
    start = _hour() - timedelta(hours=2)
    shapes = [("ATTEMPT", "c1"), ("ATTEMPT", "c2"), ("ATTEMPT", "c3"), ("RESULT", "c3")]
    events, previous = [], ""
    for seq, (phase, call) in enumerate(shapes, 1):
        event = audit_event(event_id=str(uuid.uuid4()), event_time=start + timedelta(seconds=seq),
                            phase=phase, call_id=call)  # fmt: skip
        if phase == "ATTEMPT":
            event["outcome"] = None
        event["integrity"].update(stream_id="stream-p", seq=seq, prev_hash=previous)
        event["integrity"]["hash"] = previous = chain_hash(previous, event)
        events.append(event)
    return events


class PipelineStore:
    """A store the processors filled, sealed after each step as a running sealer would."""

    def __init__(self, client: Client, url: str, keys: Path) -> None:
        apply_migrations(client)
        self.client, self.url = client, url
        self.sealed = Sealed(client, keys)
        self.raw = _raw_stream()
        worker = enricher(call_timeout_s=5)
        at = to_micros(self.raw[-1]["event_time"])
        first = worker.process([raw(ENCODE_RAW(e), i) for i, e in enumerate(self.raw)], at)
        expired = worker.process([], at + 6 * SECOND_US)  # c1 and c2: INCOMPLETE, one alert
        folded = worker.process([], at + 400 * SECOND_US)  # the alert's window closed
        assert [len(first.enriched), len(expired.enriched), len(expired.alerts)] == [4, 2, 1]
        self.incomplete = [DECODE_ENRICHED(m.value) for m in expired.enriched]
        [self.first_alert] = [DECODE_ALERT(m.value) for m in expired.alerts]
        [self.final_alert] = [DECODE_ALERT(m.value) for m in folded.alerts]
        assert (self.first_alert["count"], self.final_alert["count"]) == (1, 2)
        self.hours = 0
        self.write(ENRICHED, [m.value for m in first.enriched])
        assert self.seal() == 4
        self.write(ENRICHED, [m.value for m in expired.enriched])
        self.write(alerts_spec(365), [m.value for m in expired.alerts])
        assert self.seal() == 3
        self.write(alerts_spec(365), [m.value for m in folded.alerts])
        assert self.seal() == 1

    def write(self, spec: TableSpec, values: list[bytes]) -> None:
        """The sink's insert path: what the enriched and alert topics carry, stored."""
        fingerprint = registry.current(spec.record).fingerprint
        writer = AvroWriter(self.client, self.url, parse_threads=1)
        try:
            writer.write(spec, [container_file(fingerprint, values)], token=str(uuid.uuid4()))
        finally:
            writer.close()

    def seal(self) -> int:
        """A sealer cycle at the end of the next period: a head covers what it appends."""
        self.hours += 1
        return self.sealed.sealer.cycle(now=_now() + self.hours * HOUR_US)[0]

    def check(self) -> SealedCheck:
        newest = self.sealed.check().heads[-1]
        return check_sealed(self.client, newest.tree_size, newest.sealed_at_us - LATENESS_US,
                            _now())  # fmt: skip

    def forged(self) -> dict[str, str]:
        """Row id -> the reason verify gives, for every forged version it names."""
        check = self.check()
        assert {v for (_, v) in check.counts} <= {"forged version", "superseded", "pending",
                                                  "rolled back"}, check.counts  # fmt: skip
        return {m.row_id: m.why for m in check.named if m.verdict == "forged version"}


@pytest.fixture
def store(clickhouse: Client, clickhouse_url: str, tmp_path: Path) -> PipelineStore:
    made = PipelineStore(clickhouse, clickhouse_url, tmp_path / "keys")
    check = made.check()
    assert check.problems == 0 and check.named == [], check.counts
    assert check.counts == {("event", "superseded"): 2, ("alert", "superseded"): 1}
    return made


def _rehash(client: Client, table: str, where: str) -> None:
    """What an attacker who read sinks.tables does after changing a row: both hashes anew."""
    spec = ENRICHED if table == "audit_events" else alerts_spec(365)
    for column, sql in (("personal_hash", spec.personal_hash_sql()),
                        ("content_hash", spec.content_hash_sql())):  # fmt: skip
        client.command(f"ALTER TABLE {table} UPDATE {column} = {sql} WHERE {where}", settings=SYNC)


def _insert_copy(client: Client, table: str, where: str, replace: str) -> None:
    """A store writer's new version: a copy of a stored row with ``replace``, straight
    into the table (past the sink's keep-first view), its hashes made anew. No row is
    under a legal hold here, so the flag marks the copy while it is rehashed."""
    client.command(f"INSERT INTO {table} SELECT * REPLACE ({replace}, true AS legal_hold)"
                   f" FROM (SELECT * FROM {table} WHERE {where} LIMIT 1)")  # fmt: skip
    _rehash(client, table, "legal_hold")
    client.command(f"ALTER TABLE {table} UPDATE legal_hold = false WHERE 1", settings=SYNC)
    assert check_rows(client).ok  # each row agrees with its own hashes


def _event_where(event_id: str) -> str:
    return f"event_id = toUUID('{event_id}')"


def test_an_incomplete_version_of_an_answered_call_is_named(store: PipelineStore) -> None:
    # The attempt of c3 got its result: the processors never call it INCOMPLETE.
    attempt = store.raw[2]["event_id"]
    _insert_copy(
        store.client,
        "audit_events",
        _event_where(attempt),
        "'INCOMPLETE' AS call_state, toUInt8(0) AS risk_score, 'LOW' AS risk_level",
    )
    assert store.seal() == 1  # the sealer takes it for the processors' version
    why = store.forged()[attempt]
    assert "not shaped as the pipeline makes it" in why
    assert "a stored result answered its attempt" in why
    assert "attempt_event_id is not its own id" in why


@pytest.mark.parametrize("merged", [False, True])
def test_an_incomplete_version_that_changes_kept_values_is_named(
    store: PipelineStore, merged: bool
) -> None:
    # The genuine INCOMPLETE version of c1 rewritten as a new row: shaped right, but its
    # compliance tags and personal values are not the attempt's (its sorting key kept, so
    # merges replace the genuine versions with it).
    victim = store.raw[0]["event_id"]
    where = f"{_event_where(victim)} AND call_state = 'INCOMPLETE'"
    _insert_copy(
        store.client, "audit_events", where, "['PUBLIC'] AS compliance_tags, '203.0.113.9' AS ip"
    )
    store.client.command(
        f"ALTER TABLE audit_events DELETE WHERE {where} AND ip != '203.0.113.9'", settings=SYNC
    )
    assert store.seal() == 1
    if merged:  # merges keep one version: the sealed attempt's leaf still holds its half
        store.client.command("OPTIMIZE TABLE audit_events FINAL")
        count = store.client.query(f"SELECT count() FROM audit_events WHERE {_event_where(victim)}")
        assert count.result_rows == [(1,)]
    why = store.forged()[victim]
    assert "it changes what every version keeps" in why
    if not merged:
        assert "its stored versions differ in" in why
        assert "compliance_tags" in why and "personal_hash" in why


def test_an_incomplete_version_through_the_sink_is_named(store: PipelineStore) -> None:
    # What the enriched topic carries is stored as it comes (the keep-first view lets an
    # INCOMPLETE version of a stored attempt in): the answered call c3, made INCOMPLETE.
    attempt = store.raw[2]
    forged = dict(store.incomplete[0], event=attempt, risk_score=0, risk_level="LOW")
    forged["anomalies"] = list(store.incomplete[0]["anomalies"])
    store.write(ENRICHED, [ENCODE_ENRICHED(forged)])
    assert "a stored result answered its attempt" in store.forged()[attempt["event_id"]]
    # and the attempt of c2, its INCOMPLETE version forged before the processors' own:
    c2 = store.raw[1]["event_id"]
    store.client.command(f"ALTER TABLE audit_events DELETE WHERE {_event_where(c2)}"
                         " AND call_state = 'INCOMPLETE'", settings=SYNC)  # fmt: skip
    again = dict(store.incomplete[1], compliance_tags=["PUBLIC"], retention_days=1)
    store.write(ENRICHED, [ENCODE_ENRICHED(again)])
    assert "it changes what every version keeps" in store.forged()[c2]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"count": 40}, "its count is not backed by evidence ids"),
        ({"severity": "LOW", "summary": "nothing to see"}, "it changes what every version keeps"),
        ({"window_end": "start"}, "window_end is before window_start"),
        ({"evidence_event_ids": "made up"}, "evidence ids name no stored or sealed event"),
    ],
)
@pytest.mark.parametrize("path", ["store", "sink"])
def test_a_higher_count_alert_version_is_named(
    store: PipelineStore, change: dict[str, Any], reason: str, path: str
) -> None:
    alert_id = store.final_alert["alert_id"]
    # One more evidence id than the genuine version, a count to match: only ``change`` tells.
    evidence = [*store.final_alert["evidence_event_ids"], store.raw[2]["event_id"]]
    version = {**store.final_alert, "count": 3, "evidence_event_ids": evidence, **change}
    if change.get("window_end") == "start":
        version["window_end"] = version["window_start"] - timedelta(minutes=1)
    if change.get("evidence_event_ids") == "made up":
        version["evidence_event_ids"] = [*evidence[:2], str(uuid.uuid4())]
    if path == "sink":  # published on the alert topic, stored by the sink
        store.write(alerts_spec(365), [ENCODE_ALERT(version)])
    else:
        values = ", ".join(
            f"{_sql(version[key])} AS {column}"
            for key, column in (("count", "count"), ("severity", "severity"),
                                ("summary", "summary"), ("window_end", "window_end"),
                                ("evidence_event_ids", "evidence_event_ids"))
        )  # fmt: skip
        _insert_copy(store.client, "audit_alerts",
                     f"alert_id = toUUID('{alert_id}') AND count = 2", values)  # fmt: skip
    assert reason in store.forged()[alert_id]
    store.seal()  # sealed or not, it stays named
    store.client.command("OPTIMIZE TABLE audit_alerts FINAL")  # the highest count kept
    assert reason in store.forged()[alert_id]


def _sql(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(_sql, value)) + "]"
    if isinstance(value, int):
        return f"toUInt32({value})"
    if isinstance(value, str):
        return "'" + value.replace("'", "\\'") + "'"
    return f"toDateTime64('{value.strftime('%Y-%m-%d %H:%M:%S.%f')}', 6, 'UTC')"


def test_a_counted_alert_without_its_first_version_is_named(store: PipelineStore) -> None:
    # A new alert id raised straight to count 2, as if folded: no first version anywhere.
    alert_id = str(uuid.uuid4())
    store.write(alerts_spec(365), [ENCODE_ALERT(dict(store.final_alert, alert_id=alert_id))])
    assert store.forged()[alert_id] == "no earlier version stored or sealed"


@pytest.mark.parametrize("size", ["8", "9"])
def test_a_tree_head_alert_of_releases_before_count_1_is_a_first_version(
    store: PipelineStore, size: str
) -> None:
    # Heads on the alert topic were published with count = tree size until they were
    # first versions (count 1); stores holding those must still verify. A count that is
    # not the head's own size claims a later version, as any other alert's does.
    legacy = dict(store.final_alert, alert_id=str(uuid.uuid4()), detector=HEAD_DETECTOR,
                  count=8, evidence_event_ids=[], attributes={"tree_size": size})  # fmt: skip
    store.write(alerts_spec(365), [ENCODE_ALERT(legacy)])
    forged = store.forged()
    if size == "8":
        assert legacy["alert_id"] not in forged
    else:
        assert forged[legacy["alert_id"]] == "no earlier version stored or sealed"


def test_verify_names_a_forged_version_and_fails(
    store: PipelineStore, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    client = store.client
    point_cli_at(monkeypatch, store.url, client.database, store.sealed.keys)
    assert main(["verify", "--quiet"]) == 0
    capsys.readouterr()
    alert_id = store.final_alert["alert_id"]
    store.write(alerts_spec(365), [ENCODE_ALERT(dict(store.final_alert, count=40))])
    assert main(["verify", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert f"audit_alerts {alert_id}: forged version: a later version not as the pipeline" in out
    assert "its count is not backed by evidence ids" in out
