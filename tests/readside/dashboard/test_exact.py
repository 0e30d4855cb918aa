"""Every panel and every README analyst query against a slow, obviously right query.

The store holds events of every phase, type, status and risk level over 40 days,
written as the sink writes them (into ``audit_events_incoming``, whose views keep
the first copy of each event) in many inserts with merges stopped, and replays:
the same events sent again in later inserts (refused), twice inside one insert
(both stored), attempts sent again as INCOMPLETE (they replace), results enriched
again with another risk (refused, but kept when in the insert of their first
version), a second INCOMPLETE (refused), an INCOMPLETE enriched before its attempt
(stored, FINAL keeps the attempt) and a copy under another user (another row).
The reference reads ``audit_events FINAL`` (each event once, whole rows, in the
version the event view shows) and computes the same figures directly; the fast
answers read the aggregates. They must be equal, for windows starting inside an
hour, on an hour, and before the oldest event.
"""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from readside.dashboard import investigate, queries, reading
from readside.dashboard.reading import Window
from sinks.tables import CALL, FAILURE, HIGH_RISK
from tests.readside.dashboard.store import create_tables

pytestmark = [pytest.mark.clickhouse]

README = Path(__file__).parents[3] / "README.md"
STATUSES = ["SUCCESS", "SUCCESS", "SUCCESS", "ERROR", "DENIED", "TIMEOUT", "CANCELLED", "UNKNOWN"]
LEVELS = ["LOW", "MEDIUM", "HIGH", "CRITICAL"]
TOOLS = {"files": ["read_file", "write_file"], "db": ["query"], "web": ["fetch", "search"]}
NOW = datetime.now(UTC).replace(microsecond=0)
WINDOWS = {
    "1 h": timedelta(hours=1, minutes=7, seconds=3),
    "24 h, inside an hour": timedelta(hours=24, minutes=31, microseconds=5),
    "7 days, on the hour": timedelta(days=7, minutes=NOW.minute, seconds=NOW.second),
    "30 days": timedelta(days=30, minutes=13),
    "everything": timedelta(days=60),
}


def _events(rng: random.Random, count: int, near: timedelta | None = None) -> list[dict[str, Any]]:
    """``count`` events over 40 days, or in the 20 minutes after ``NOW - near``."""
    rows = []
    for _ in range(count):
        when = NOW - timedelta(seconds=rng.randrange(40 * 86400))
        if near is not None:
            when = NOW - near + timedelta(seconds=rng.randrange(1, 1200))
        server = rng.choice(list(TOOLS))
        kind = rng.choice(["TOOL_CALL"] * 6 + ["RESOURCE_READ", "HEARTBEAT", "SESSION_START"])
        phase = (
            rng.choice(["ATTEMPT", "RESULT"]) if kind in ("TOOL_CALL", "RESOURCE_READ") else "EVENT"
        )
        score = rng.randrange(100)
        rows.append({
            "event_id": uuid.uuid4(), "event_time": when, "enriched_time": when, "call_state": "",
            "event_type": kind, "phase": phase, "user_id": f"user-{rng.randrange(12)}",
            "session_id": f"s-{rng.randrange(30)}", "server_id": server,
            "tool_name": rng.choice(TOOLS[server]),
            "status": "" if phase == "ATTEMPT" else rng.choice(STATUSES),
            "duration_us": rng.randrange(1, 5_000_000), "risk_score": score,
            "risk_level": LEVELS[(score > 30) + (score > 70) + (score > 90)],
            "risk_reasons": ["r"] if score > 70 else [], "retention_days": 365,
        })  # fmt: skip
    return rows


def _enriched_again(rng: random.Random, event: dict[str, Any]) -> dict[str, Any]:
    score = rng.randrange(100)
    return {
        **event, "enriched_time": event["enriched_time"] + timedelta(minutes=5),
        "call_state": "INCOMPLETE" if event["phase"] == "ATTEMPT" else "",
        "risk_score": score, "risk_level": LEVELS[(score > 30) + (score > 70) + (score > 90)],
    }  # fmt: skip


def _insert(
    client: Client, rows: list[dict[str, Any]], table: str = "audit_events_incoming"
) -> None:
    # As the sink writes: through migration 120's keep-first views, and without
    # optimize_on_insert, so copies inside one insert stay.
    client.insert(table, [list(r.values()) for r in rows], column_names=list(rows[0]),
                  settings={"optimize_on_insert": 0})  # fmt: skip


@pytest.fixture(scope="module")
def store(clickhouse_url: str) -> Any:
    from sinks.clickhouse import connect, quote_identifier

    database = f"test_exact_{uuid.uuid4().hex[:8]}"
    client = connect(clickhouse_url, database)
    create_tables(client)
    client.command("SYSTEM STOP MERGES")  # a live store: many parts, nothing merged
    rng = random.Random(17)
    events = _events(rng, 3000)
    for window in WINDOWS.values():  # the part of each window's first hour, well filled
        events += _events(rng, 40, near=window)
    rng.shuffle(events)
    for start in range(0, len(events), 300):  # ten batches, as a sink writes them
        _insert(client, events[start : start + 300])
    # Replays: 300 events again, in three later inserts each with new events too, and
    # one insert holding the same event twice.
    for _ in range(3):
        again = rng.sample(events, 100)
        _insert(client, again + _events(rng, 50))
    twice = _events(rng, 1)
    _insert(client, twice + twice + _events(rng, 10))
    # Later versions: attempts sent again as INCOMPLETE (they replace the stored
    # attempt) and results enriched again (refused: the first stays), both with a new
    # risk; some of them in the insert of their first version (both stored, FINAL
    # takes the later); then a stale copy of a first version, refused.
    updated = [_enriched_again(rng, e) for e in rng.sample(events, 120)]
    _insert(client, updated[:100])
    fresh = _events(rng, 10)
    _insert(client, fresh + [_enriched_again(rng, e) for e in fresh[:5]])
    _insert(client, [e for e in events if e["event_id"] in {u["event_id"] for u in updated[:20]}])
    _insert(client, updated[100:])
    # An INCOMPLETE sent a second time with yet another risk: refused.
    _insert(client, [_enriched_again(rng, u) for u in updated if u["call_state"]][:10])
    # An INCOMPLETE enriched before its stored attempt: stored, but FINAL keeps the attempt.
    sent_again = {u["event_id"] for u in updated}
    early = [e for e in events if e["phase"] == "ATTEMPT" and e["event_id"] not in sent_again][:3]
    _insert(client, [{**_enriched_again(rng, e), "enriched_time": e["enriched_time"]
                      - timedelta(minutes=1)} for e in early])  # fmt: skip
    # A copy under another user: another row of audit_events (its key), counted apart.
    _insert(client, [{**e, "user_id": "user-12"} for e in rng.sample(events, 4)])
    try:
        yield client
    finally:
        client.command("SYSTEM START MERGES")
        client.command(f"DROP DATABASE IF EXISTS {quote_identifier(database)}")


def test_the_store_holds_replays_unmerged(store: Client) -> None:
    stored, events, ids, incomplete = store.query(
        "SELECT count(), uniqExact(user_id, event_id), uniqExact(event_id),"
        " countIf(call_state = 'INCOMPLETE') FROM audit_events"
    ).result_rows[0]
    # Second rows of an event: the copy inside one insert, the 5 later versions in the
    # insert of their first, 49 INCOMPLETE versions of stored attempts, 3 enriched
    # early. The 300 replays, the re-enriched results, the stale copies and the second
    # INCOMPLETEs were refused; the 4 copies under another user are other rows.
    assert (stored - events, events - ids, incomplete) == (1 + 5 + 49 + 3, 4, 49 + 3 + 2)
    parts = store.query("SELECT count() FROM system.parts WHERE database = currentDatabase()"
                        " AND table = 'audit_events' AND active").result_rows[0][0]  # fmt: skip
    assert parts >= 14


FINAL = "(SELECT * FROM audit_events FINAL WHERE event_time >= {since:DateTime64(6)})"
TOOL_CALLS = f"{FINAL} WHERE event_type = 'TOOL_CALL' AND {CALL}"
# The durations at the rank a DDSketch reads for each level, q * (n - 1) from the
# lowest (ClickHouse's DDSketch::get), by floor and ceil against float rounding.
AT_RANK = """arrayMap(q -> durations[toUInt64({rounding}(q * (length(durations) - 1))) + 1],
                        [0.5, 0.95, 0.99])"""
REFERENCE = {
    "summary": f"""
        SELECT count() AS calls, countIf({FAILURE}) AS failures, countIf({HIGH_RISK}) AS high_risk,
               uniqExact(user_id) AS users, uniqExact(tool_name) AS tools FROM {TOOL_CALLS}""",
    "calls": f"""
        SELECT toStartOfInterval(event_time, toIntervalMinute({{bucket:UInt32}})) AS bucket,
               tool_name AS tool, status, count() AS calls
        FROM {TOOL_CALLS} GROUP BY bucket, tool, status ORDER BY bucket, tool, status""",
    "tools": f"""
        SELECT tool, calls, failure_rate, {AT_RANK.format(rounding="floor")} AS low,
               {AT_RANK.format(rounding="ceil")} AS high
        FROM (SELECT tool_name AS tool, count() AS calls,
                     round(countIf({FAILURE}) / count(), 4) AS failure_rate,
                     arraySort(groupArray(duration_us)) AS durations
              FROM {TOOL_CALLS} GROUP BY tool)
        ORDER BY calls DESC, tool""",
    "risk": f"""
        SELECT toString(risk_level) AS level, count() AS events FROM {FINAL} GROUP BY level
        ORDER BY indexOf(['LOW', 'MEDIUM', 'HIGH', 'CRITICAL'], level)""",
    "users": f"""
        SELECT user_id AS user, count() AS events, countIf({HIGH_RISK}) AS high_risk,
               max(risk_score) AS max_risk
        FROM {FINAL} WHERE user_id != '' GROUP BY user
        ORDER BY high_risk DESC, max_risk DESC, events DESC, user LIMIT 10""",
    "search": f"""
        SELECT event_time, event_id, toString(event_type) AS event_type, user_id AS user,
               server_id AS server, tool_name AS tool, toString(status) AS status,
               duration_us / 1000 AS duration_ms, risk_score,
               toString(risk_level) AS risk_level, risk_reasons
        FROM {FINAL} WHERE {{where:String}} = '' OR user_id = {{where:String}}
        ORDER BY event_time DESC, event_id DESC LIMIT {{limit:UInt32}}""",
}


def _reference(client: Client, name: str, **parameters: Any) -> list[dict[str, Any]]:
    result = client.query(REFERENCE[name], parameters=parameters)
    return [
        dict(zip(result.column_names, queries._plain(row), strict=True))
        for row in result.result_rows
    ]


def _without_quantiles(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.endswith("_ms") and k not in ("low", "high")}


def _within_accuracy(value_us: float, low_us: float, high_us: float) -> bool:
    """A sketched percentile is within the sketch's relative accuracy of the duration
    at its rank (migration 190); 0.5 us is the rounding to thousandths of a millisecond."""
    accuracy = queries.RELATIVE_ACCURACY
    return low_us * (1 - accuracy) - 0.5 <= value_us <= high_us * (1 + accuracy) + 0.5


@pytest.mark.parametrize("window", sorted(WINDOWS))
def test_every_panel_equals_the_slow_query(store: Client, window: str) -> None:
    since = NOW - WINDOWS[window]
    assert queries.summary(store, since) == _reference(store, "summary", since=since)[0]
    for bucket in (1, 15, 60, 360):
        assert queries.calls_over_time(store, since, bucket) == _reference(
            store, "calls", since=since, bucket=bucket
        ), bucket
    tools, slow_tools = queries.tools(store, since), _reference(store, "tools", since=since)
    assert [_without_quantiles(t) for t in tools] == [_without_quantiles(t) for t in slow_tools]
    for fast, slow in zip(tools, slow_tools, strict=True):
        for index, name in enumerate(("p50_ms", "p95_ms", "p99_ms")):
            assert _within_accuracy(fast[name] * 1000, slow["low"][index], slow["high"][index])
    assert queries.risk_distribution(store, since) == _reference(store, "risk", since=since)
    assert queries.top_users(store, since, 10) == _reference(store, "users", since=since)
    # The newest few, read from the window's newest slices (reading.RECENT_SLICES), and
    # every event of the window: the replaced versions are among them.
    for limit in (1, 30, 100, 10_000):
        assert queries.search(store, since, {}, limit) == _reference(
            store, "search", since=since, where="", limit=limit
        ), limit
        assert queries.search(store, since, {"user": "user-3"}, limit) == _reference(
            store, "search", since=since, where="user-3", limit=limit
        ), limit


@pytest.mark.parametrize("window", sorted(WINDOWS))
def test_the_investigation_search_lists_each_event_once_as_final_shows_it(
    store: Client, window: str
) -> None:
    """Every event of the window, noise included: the replaced versions are among them."""
    since = NOW - WINDOWS[window]
    found = investigate.search(store, Window(since, queries.NO_END), {}, 10_000, noise=True)
    slow = store.query(
        f"SELECT toString(event_id), risk_score FROM {FINAL}", parameters={"since": since}
    ).result_rows
    # As many, the same versions (a replaced one has its own risk); the order of ties in
    # time is each table's (events_first is not audit_events).
    assert sorted((e["event_id"], e["risk_score"]) for e in found) == sorted(map(tuple, slow))
    assert [e["event_time"] for e in found] == sorted(
        (e["event_time"] for e in found), reverse=True
    )


@pytest.mark.parametrize("ends", [timedelta(0), timedelta(hours=20), timedelta(days=3)])
def test_an_investigation_list_from_the_newest_slices_is_the_whole_windows(
    store: Client, ends: timedelta, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The newest ``limit`` events, read slice by slice back from the newest stored (or
    the window's end), are those the whole window's read lists (held to FINAL above)."""
    window = Window(NOW - timedelta(days=30), NOW - ends if ends else queries.NO_END)
    for limit in (1, 30, 100, 500):
        for filters in ({}, {"tool": "query"}):
            sliced = investigate.search(store, window, filters, limit, noise=True)
            with monkeypatch.context() as whole:
                whole.setattr(reading, "RECENT_SLICES", ())
                expected = investigate.search(store, window, filters, limit, noise=True)
            assert len(expected) == limit or filters
            assert sliced == expected, (limit, filters)


def test_an_event_record_and_a_trail_equal_the_slow_query(store: Client) -> None:
    replayed = store.query(
        "SELECT event_id FROM audit_events GROUP BY event_id HAVING count() > 1 LIMIT 1"
    ).result_rows[0][0]
    slow = store.query(
        "SELECT * FROM audit_events FINAL WHERE event_id = {id:UUID}", parameters={"id": replayed}
    )
    assert queries.event_record(store, str(replayed)) == dict(
        zip(slow.column_names, queries._plain(slow.result_rows[0]), strict=True)
    )
    assert queries.event_record(store, str(uuid.uuid4())) is None
    since = NOW - timedelta(days=30)
    slow_trail = store.query(
        "SELECT event_time, event_id FROM audit_events FINAL WHERE user_id = 'user-3'"
        " AND event_time >= {since:DateTime64(6)} ORDER BY event_time, event_id",
        parameters={"since": since},
    ).result_rows
    trail = queries.user_trail(store, "user-3", since, 10_000)
    assert [(r["event_time"], r["event_id"]) for r in trail] == [
        (t.isoformat(), str(i)) for t, i in slow_trail
    ]


def readme_queries() -> dict[str, str]:
    """The README's analyst queries by their first line, a comment naming them."""
    text = README.read_text()
    blocks = re.findall(r"```sql\n-- (.*?)\n(.*?)```", text, re.DOTALL)
    return dict(blocks)


# The same questions of audit_events FINAL, whole rows, each event once.
README_REFERENCE = {
    "Calls per tool per hour over the last 7 days (whole hours)": f"""
        SELECT toStartOfHour(event_time) AS hour, server_id, tool_name, count() AS calls
        FROM audit_events FINAL
        WHERE event_time >= toStartOfHour(now()) - INTERVAL 7 DAY AND {CALL}
        GROUP BY hour, server_id, tool_name ORDER BY hour, server_id, tool_name""",
    "Top users by high-risk calls": f"""
        SELECT user_id, count() AS high_risk_calls FROM audit_events FINAL
        WHERE {CALL} AND {HIGH_RISK}
        GROUP BY user_id ORDER BY high_risk_calls DESC, user_id LIMIT 20""",
    "Failure rate and p95 latency per tool": f"""
        SELECT server_id, tool_name, total_calls, failure_rate,
               (durations[toUInt64(floor(0.95 * (length(durations) - 1))) + 1],
                durations[toUInt64(ceil(0.95 * (length(durations) - 1))) + 1]) AS p95_us
        FROM (SELECT server_id, tool_name, count() AS total_calls,
                     round(countIf({FAILURE}) / count(), 4) AS failure_rate,
                     arraySort(groupArray(duration_us)) AS durations
              FROM audit_events FINAL WHERE {CALL} GROUP BY server_id, tool_name)
        ORDER BY failure_rate DESC, server_id, tool_name""",
    "Calls per status and risk level over the last 30 days (whole hours)": f"""
        SELECT status, risk_level, count() AS calls FROM audit_events FINAL
        WHERE event_time >= toStartOfHour(now()) - INTERVAL 30 DAY AND {CALL}
        GROUP BY status, risk_level ORDER BY status, risk_level""",
    "One user's full trail, in time order": """
        SELECT event_time, event_type, server_id, tool_name, status, duration_ms, risk_level,
               session_id
        FROM audit_events FINAL WHERE user_id = 'user-3' ORDER BY event_time, event_id""",
    "Every call of one session": """
        SELECT event_time, user_id, server_id, tool_name, status, duration_ms
        FROM audit_events FINAL WHERE session_id = 's-7' ORDER BY event_time, event_id""",
}


def test_every_readme_query_is_held_to_a_reference() -> None:
    assert sorted(readme_queries()) == sorted(README_REFERENCE)


@pytest.mark.parametrize("name", sorted(README_REFERENCE))
def test_each_readme_query_equals_the_slow_query(store: Client, name: str) -> None:
    sql = readme_queries()[name].replace("<pseudonym>", "user-3").replace("<session id>", "s-7")
    fast = store.query(sql).result_rows
    slow = store.query(README_REFERENCE[name]).result_rows
    assert len(slow) > 3
    if "trail" in name or "session" in name:  # equal times: order among them is free
        fast, slow = sorted(fast, key=repr), sorted(slow, key=repr)
    if "p95" in name:  # the last column: sketched, against the durations at its rank
        assert [f[:-1] for f in fast] == [s[:-1] for s in slow]
        for (*_, p95_ms), (*_, (low, high)) in zip(fast, slow, strict=True):
            assert _within_accuracy(p95_ms * 1000, low, high)
        return
    assert fast == slow


def test_the_migration_rebuilds_the_aggregates_of_a_store_already_holding_events(
    clickhouse: Client,
) -> None:
    """A store written before migration 170 counts each event once after it: replays
    stored before migration 120, and INCOMPLETE versions stored beside their attempt."""
    from sinks.cluster import SINGLE_NODE
    from sinks.migrate import _apply, applied, available

    applied(clickhouse)  # the ledger
    pending = [m for m in available() if m.version < 170]
    for migration in [m for m in pending if m.version < 120]:
        _apply(clickhouse, migration, SINGLE_NODE)
    rng = random.Random(120)
    events = _events(rng, 400)
    _insert(clickhouse, events, table="audit_events")  # the sink before migration 120
    _insert(clickhouse, events[:50] + _events(rng, 5), table="audit_events")  # a replay
    for migration in [m for m in pending if m.version >= 120]:
        _apply(clickhouse, migration, SINGLE_NODE)
    attempts = [e for e in events[50:] if e["phase"] == "ATTEMPT"][:20]
    _insert(clickhouse, [_enriched_again(rng, e) for e in attempts])  # they replace
    before = clickhouse.query("SELECT sum(events) FROM user_activity_daily").result_rows[0][0]
    create_tables(clickhouse)  # applies 170
    since = NOW - timedelta(days=60)
    assert queries.summary(clickhouse, since) == _reference(clickhouse, "summary", since=since)[0]
    assert queries.top_users(clickhouse, since, 10) == _reference(clickhouse, "users", since=since)
    assert queries.risk_distribution(clickhouse, since) == _reference(
        clickhouse, "risk", since=since
    )
    after = clickhouse.query("SELECT sum(events) FROM user_activity_daily").result_rows[0][0]
    exact = clickhouse.query("SELECT count() FROM audit_events FINAL").result_rows[0][0]
    assert before == exact + 50 + 20 and after == exact
