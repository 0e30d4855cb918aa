"""The investigation's questions on a store the pipeline wrote and the sealer sealed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from readside.dashboard import investigate, reading, record
from readside.dashboard.reading import Window
from sinks.signing import PUBLIC_NAME, load_public_key
from tests.readside.dashboard.investigation_store import ALICE, MALLORY, TRACE, Investigation

pytestmark = pytest.mark.clickhouse
SYNC = {"mutations_sync": 2}


def _day() -> Window:
    now = datetime.now(UTC)
    return Window(now - timedelta(days=1), now + timedelta(minutes=1))


def _record(inv: Investigation, event_id: str) -> dict[str, object]:
    public = load_public_key(inv.keys / PUBLIC_NAME)
    found = record.event_record(inv.client, event_id, public)
    assert found is not None
    return found


def _verdicts(found: dict[str, object]) -> dict[str, object]:
    return {k: v["ok"] for k, v in found["checks"].items()}  # type: ignore[attr-defined]


def test_an_events_record_shows_both_sides_of_its_call_and_every_check_passes(
    inv: Investigation,
) -> None:
    result = inv.by(call_id="call-alice-1", phase="RESULT")[0]
    attempt = inv.by(call_id="call-alice-1", phase="ATTEMPT")[0]
    assert reading.id_time(result["event_id"]) == result["event_time"]  # found by its time
    found = _record(inv, result["event_id"])
    event, other = found["event"], found["other_side"]
    assert event["event_id"] == result["event_id"] and event["phase"] == "RESULT"  # type: ignore[index]
    assert other["event_id"] == attempt["event_id"] and other["phase"] == "ATTEMPT"  # type: ignore[index]
    # Stored as the sink stored it: redacted arguments and result, enrichment, tags, anomalies.
    assert event["args"] == '{"path": "/etc/[REDACTED]"}' and event["redactions"] == 1  # type: ignore[index]
    assert event["classification"] == "HIGH" and event["compliance_tags"] == ["HIPAA"]  # type: ignore[index]
    assert event["anomalies"] == [  # type: ignore[index]
        {"detector": "first_seen_tool", "score": 1.0, "detail": "read_file"}
    ]
    assert _verdicts(found) == {"hash": True, "previous": True, "next": True, "row": True,
                                "sealed": True}  # fmt: skip
    # And from the ATTEMPT, the RESULT is the other side.
    assert _record(inv, attempt["event_id"])["other_side"]["event_id"] == result["event_id"]  # type: ignore[index]


def test_a_record_says_what_it_cannot_tell(inv: Investigation) -> None:
    heartbeat = inv.by(event_type="HEARTBEAT")[0]
    assert reading.id_time(heartbeat["event_id"]) is None  # a UUIDv4: found anywhere
    found = record.event_record(inv.client, heartbeat["event_id"])  # no public key
    assert found is not None and found["other_side"] is None
    assert found["checks"]["sealed"]["ok"] is None  # type: ignore[index]
    assert "no public key" in found["checks"]["sealed"]["detail"]  # type: ignore[index]
    assert record.event_record(inv.client, "00000000-0000-0000-0000-000000000000") is None
    assert record.event_record(inv.client, "' OR 1=1 --") is None


def test_an_altered_row_fails_its_hash_and_row_checks(inv: Investigation) -> None:
    target = inv.by(call_id="call-mallory-0", phase="RESULT")[0]
    inv.client.command(
        "ALTER TABLE audit_events UPDATE tool_name = 'read_file'"
        f" WHERE event_id = '{target['event_id']}'", settings=SYNC)  # fmt: skip
    verdicts = _verdicts(_record(inv, target["event_id"]))
    assert verdicts["hash"] is False and verdicts["row"] is False
    assert verdicts["previous"] is True  # the links hold: only the content changed


def test_a_deleted_neighbour_breaks_the_link(inv: Investigation) -> None:
    events = [r["event"] for r in inv.events]
    middle = events[4]
    inv.client.command(
        f"ALTER TABLE audit_events DELETE WHERE event_id = '{events[3]['event_id']}'", settings=SYNC
    )
    found = _record(inv, middle["event_id"])
    assert found["checks"]["previous"] == {  # type: ignore[index]
        "ok": False, "detail": "event 4 of the stream is not stored"}  # fmt: skip
    assert _verdicts(found)["next"] is True


def test_a_resealed_leaf_or_a_foreign_key_fails_the_sealed_check(inv: Investigation) -> None:
    target = inv.by(call_id="call-alice-0", phase="RESULT")[0]
    other_key = Ed25519PrivateKey.generate().public_key()
    found = record.event_record(inv.client, target["event_id"], other_key)
    assert found is not None and found["checks"]["sealed"]["ok"] is False  # type: ignore[index]
    inv.client.command(
        "ALTER TABLE audit_tree_leaves UPDATE content_hash = repeat('0', 64)"
        f" WHERE event_id = '{target['event_id']}'", settings=SYNC)  # fmt: skip
    assert _verdicts(_record(inv, target["event_id"]))["sealed"] is False


def test_a_users_trail_counts_their_sessions_tools_failures_and_risk(inv: Investigation) -> None:
    trail = investigate.user_trail(inv.client, MALLORY, _day())
    assert trail["total"] == 4 and len(trail["events"]) == 4
    [tool] = trail["tools"]
    picked = {k: tool[k] for k in ("tool", "events", "calls", "failures", "high_risk", "max_risk")}
    assert picked == {"tool": "delete_records", "events": 4, "calls": 2, "failures": 2,
                      "high_risk": 2, "max_risk": 95}  # fmt: skip
    [session] = trail["sessions"]
    assert (session["session_id"], session["calls"], session["failures"]) == (
        f"s-{MALLORY[:2]}",
        2,
        2,
    )
    assert sum(b["calls"] for b in trail["timeline"]) == 2 and trail["unit"] == "hour"
    alice = investigate.user_trail(inv.client, ALICE, _day())
    assert alice["total"] == 8  # heartbeats and her session start are in her trail
    assert {e["event_type"] for e in alice["events"]} == {"SESSION_START", "TOOL_CALL", "HEARTBEAT"}
    assert [t["tool"] for t in alice["tools"]] == ["read_file", "list_dir"]
    # A window that ends before her events holds none of them.
    early = Window(inv.start - timedelta(days=2), inv.start)
    assert investigate.user_trail(inv.client, ALICE, early)["total"] == 0


def test_search_by_every_field_and_noise_hidden_unless_asked(inv: Investigation) -> None:
    day, c = _day(), inv.client

    def ids(limit: int = 100, noise: bool = False, **filters: str) -> set[str]:
        return {e["event_id"] for e in investigate.search(c, day, filters, limit, noise=noise)}

    def expected(**match: object) -> set[str]:
        return {e["event_id"] for e in inv.by(**match)}

    assert ids(call="call-alice-2") == expected(call_id="call-alice-2")
    assert ids(trace=TRACE) == expected(user_pseudonym=MALLORY)
    assert ids(session=f"s-{MALLORY[:2]}") == expected(user_pseudonym=MALLORY)
    assert ids(status="ERROR") == expected(user_pseudonym=MALLORY, phase="RESULT")
    assert ids(risk="HIGH") == expected(user_pseudonym=MALLORY, phase="RESULT")
    assert ids(tool="list_dir", user=ALICE) == expected(tool_name="list_dir")
    assert ids(request="7", user=ALICE) == expected(user_pseudonym=ALICE, event_type="TOOL_CALL")
    assert ids(type="HEARTBEAT") == set()  # hidden by default...
    assert ids(type="HEARTBEAT", noise=True) == expected(event_type="HEARTBEAT")  # ...one flag away
    assert ids(user=ALICE) == expected(user_pseudonym=ALICE, event_type="TOOL_CALL")
    assert len(ids(limit=3, user=ALICE)) == 3
    before = Window(inv.start - timedelta(days=1), inv.start)
    assert investigate.search(c, before, {"user": ALICE}, 100) == []


@pytest.mark.parametrize(
    "value",
    ["' OR 1=1 --", "x'); DROP TABLE audit_events; --", "\\'", "ünïcødé ✓ 🙂", "{user:String}"],
)
def test_hostile_search_values_are_values(inv: Investigation, value: str) -> None:
    for name in ("user", "session", "call", "trace", "request", "tool", "server", "status"):
        assert investigate.search(inv.client, _day(), {name: value}, 100) == []
    assert investigate.events_by_id(inv.client, [value]) == []
    assert investigate.user_trail(inv.client, value, _day())["total"] == 0
    assert inv.client.command("SELECT count() FROM audit_events") >= len(inv.events)


def test_an_alert_opens_its_evidence(inv: Investigation) -> None:
    found = investigate.alert_evidence(inv.client, inv.alert_id, 100)
    assert found is not None and found["evidence"] == "named"
    assert found["alert"]["detector"] == "destructive_burst"
    named = {e["event_id"] for e in inv.by(user_pseudonym=MALLORY, phase="RESULT")}
    assert {e["event_id"] for e in found["events"]} == named
    # No evidence named: the user's events of the alert's window, said so.
    bare = investigate.alert_evidence(inv.client, inv.bare_alert_id, 100)
    assert bare is not None and bare["evidence"] == "window"
    assert {e["user"] for e in bare["events"]} == {ALICE} and len(bare["events"]) == 8
    assert investigate.alert_evidence(inv.client, "00000000-0000-0000-0000-000000000000", 5) is None
