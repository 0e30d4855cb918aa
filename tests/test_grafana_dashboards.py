"""The Grafana dashboards: provisioned where compose mounts them, on the provisioned data source,
and every panel's SQL giving the right numbers on a store holding known events, before merges."""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from clickhouse_connect.driver.client import Client

from readside.dashboard import grafana, queries
from readside.guard import check_read_only
from sinks.tables import FAILURE, HIGH_RISK, TOOL_CALL
from tests.readside.dashboard.store import create_tables, insert_alert, insert_event

ROOT = Path(__file__).parent.parent
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))

# The dashboard time range and interval the panels are run with.
T = datetime(2026, 11, 22, 12, tzinfo=UTC)
FROM, TO = T - timedelta(hours=1), T + timedelta(hours=1)
INTERVAL_S = 600
ALL = None  # a variable set to Grafana's "All"


def _load(path: Path) -> dict[str, Any]:
    board: dict[str, Any] = json.loads(path.read_text())
    return board


def _panels() -> Iterator[dict[str, Any]]:
    for path in DASHBOARDS:
        yield from _load(path)["panels"]


def _query_variables(board: dict[str, Any]) -> list[dict[str, Any]]:
    """The variables whose options come from the store (not the dashboard's address)."""
    return [v for v in board["templating"]["list"] if v["type"] == "query"]


def _compose_mounts() -> dict[str, str]:
    """The grafana service's volumes, host path (relative to the repository) to container path."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    volumes = compose["services"]["grafana"]["volumes"]
    return dict(volume.removesuffix(":ro").split(":") for volume in volumes)


def _datasource() -> dict[str, str]:
    """The provisioned data source as dashboards refer to it."""
    provisioned = yaml.safe_load((GRAFANA / "provisioning/datasources/clickhouse.yaml").read_text())
    (source,) = provisioned["datasources"]
    return {"type": source["type"], "uid": source["uid"]}


def test_there_are_dashboards() -> None:
    assert len(DASHBOARDS) >= 1


def test_provider_reads_the_directory_compose_mounts() -> None:
    mounts = _compose_mounts()
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/mcp-audit.yaml").read_text())
    (files,) = provider["providers"]
    assert files["options"]["path"] == mounts["./deploy/grafana/dashboards"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_query_is_sql_on_the_provisioned_datasource(path: Path) -> None:
    board = _load(path)
    source = _datasource()
    for panel in board["panels"]:
        (target,) = panel["targets"]
        assert panel["datasource"] == target["datasource"] == source, panel["title"]
        # The plugin's v4 query model; format 0 makes long rows into one series per label.
        series = panel["type"] == "timeseries"
        assert target["editorType"] == "sql", panel["title"]
        assert (target["queryType"], target["format"]) == (
            ("timeseries", 0) if series else ("table", 1)
        ), panel["title"]
    for variable in _query_variables(board):
        assert variable["datasource"] == source, variable["name"]


def test_dashboards_and_panels_are_told_apart() -> None:
    # Grafana keys provisioned dashboards by uid; this test keys expectations by panel title.
    uids = [_load(path)["uid"] for path in DASHBOARDS]
    titles = [panel["title"] for panel in _panels()]
    assert len(set(uids)) == len(uids)
    assert len(set(titles)) == len(titles)


def expand(
    sql: str,
    variables: dict[str, list[str] | None],
    time_from: datetime = FROM,
    time_to: datetime = TO,
) -> str:
    """The SQL that reaches ClickHouse, as the plugin (v4) makes it: ``$__conditionalAll`` and
    template variables in the browser, then the time macros on the backend, for the time range
    ``time_from`` to ``time_to``."""
    head = "$__conditionalAll("
    while (start := sql.find(head)) != -1:
        depth, end, comma = 1, start + len(head), -1
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            comma = end if sql[end] == "," and depth == 1 else comma
            end += 1
        condition, name = sql[start + len(head) : comma], sql[comma + 1 : end - 1].strip()
        sql = sql[:start] + ("1=1" if variables[name[1:]] is ALL else condition) + sql[end:]

    def quoted(match: re.Match[str]) -> str:
        chosen = variables[match[1]]
        # "All" outside $__conditionalAll would expand to every option Grafana happened to load.
        assert chosen is not ALL, f"${match[1]} used outside $__conditionalAll"
        return ",".join("'" + value.replace("'", "\\'") + "'" for value in chosen)

    sql = re.sub(r"\$\{(\w+):singlequote\}", quoted, sql)
    since, until = (f"toDateTime({int(moment.timestamp())})" for moment in (time_from, time_to))
    sql = re.sub(r"\$__timeFilter\((\w+)\)", rf"\1 >= {since} AND \1 <= {until}", sql)
    sql = re.sub(
        r"\$__timeInterval\((\w+)\)",
        rf"toStartOfInterval(toDateTime(\1), INTERVAL {INTERVAL_S} second)",
        sql,
    )
    sql = sql.replace("$__fromTime", since).replace("$__toTime", until)
    sql = sql.replace("$__interval_s", str(INTERVAL_S))
    assert "$" not in sql, f"a macro or variable this test does not know: {sql}"
    return sql


def at(minutes: int) -> datetime:
    return (T + timedelta(minutes=minutes)).replace(tzinfo=None)


HOUR = at(0)  # the calls panel's bucket of the known events


DENIED, ATTEMPT, FOLDED = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
KNOWN_EVENTS: list[tuple[int, str, str, str, float, int, str, dict[str, Any]]] = [
    # minutes after T, user, tool, status, duration ms, risk score and level, other columns
    (1, "alice", "read_file", "SUCCESS", 2, 10, "LOW", {}),
    (2, "alice", "read_file", "SUCCESS", 4, 10, "LOW", {}),
    (3, "alice", "read_file", "SUCCESS", 6, 10, "LOW", {}),
    (4, "alice", "read_file", "SUCCESS", 8, 10, "LOW", {}),
    (5, "alice", "read_file", "ERROR", 100, 30, "MEDIUM", {}),
    (6, "mallory", "delete_records", "DENIED", 1, 90, "CRITICAL", {"event_id": DENIED}),
    (7, "mallory", "delete_records", "DENIED", 1, 90, "CRITICAL", {}),
    # A processor replay: the same event enriched again later; the store keeps the first.
    (6, "mallory", "delete_records", "DENIED", 1, 90, "CRITICAL",
     {"event_id": DENIED, "enriched_time": T + timedelta(minutes=9)}),
    # An attempt whose result never came, sent again as INCOMPLETE with a raised risk.
    (10, "mallory", "delete_records", "", 0, 20, "LOW",
     {"event_id": ATTEMPT, "phase": "ATTEMPT", "call_state": "ATTEMPT"}),
    (10, "mallory", "delete_records", "", 0, 70, "HIGH",
     {"event_id": ATTEMPT, "phase": "ATTEMPT", "call_state": "INCOMPLETE",
      "enriched_time": T + timedelta(minutes=15)}),
    (20, "bob", "query", "SUCCESS", 10, 40, "MEDIUM", {"server_id": "db"}),
    (21, "bob", "query", "SUCCESS", 20, 40, "MEDIUM", {"server_id": "db"}),
    (-180, "alice", "read_file", "SUCCESS", 3, 10, "LOW", {}),  # before the time range
]  # fmt: skip
KNOWN_ALERTS: list[tuple[int, dict[str, Any]]] = [
    (6, {"alert_id": FOLDED, "severity": "CRITICAL", "detector": "denied_burst", "count": 1}),
    # The same alert sent again when its window closed, with its final count.
    (12, {"alert_id": FOLDED, "severity": "CRITICAL", "detector": "denied_burst", "count": 2}),
    (5, {"severity": "MEDIUM", "detector": "error_burst", "user_id": "alice",
         "tool_name": "read_file", "count": 1}),
    (-180, {"detector": "old"}),  # before the time range
]  # fmt: skip


@pytest.fixture
def known_store(clickhouse: Client) -> Client:
    """The known events and alerts, one insert each, and merges stopped: the numbers must come
    from FINAL, LIMIT BY and the aggregates' merge functions, not from a lucky merge."""
    create_tables(clickhouse)
    for table in ("audit_events", "audit_alerts", "calls_hourly"):
        clickhouse.command(f"SYSTEM STOP MERGES {table}")
    for minutes, user, tool, status, ms, score, level, other in KNOWN_EVENTS:
        insert_event(
            clickhouse, T + timedelta(minutes=minutes), user=user, tool=tool, status=status,
            duration_ms=ms, risk_score=score, risk_level=level, **other,
        )  # fmt: skip
    for minutes, values in KNOWN_ALERTS:
        insert_alert(clickhouse, T + timedelta(minutes=minutes), **values)
    return clickhouse


def _run(
    client: Client,
    sql: str,
    variables: dict[str, list[str] | None],
    start: datetime = FROM,
    end: datetime = TO,
) -> list[dict[str, Any]]:
    return _named(client.query(check_read_only(expand(sql, variables, start, end))))


def _named(result: Any) -> list[dict[str, Any]]:
    """A query's rows by column name, floats to 6 places."""
    return [
        {
            name: round(value, 6) if isinstance(value, float) else value
            for name, value in zip(result.column_names, row, strict=True)
        }
        for row in result.result_rows
    ]


def _queries() -> dict[str, str]:
    return {panel["title"]: panel["targets"][0]["rawSql"] for panel in _panels()}


def table(columns: str, *rows: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [dict(zip(columns.split(), row, strict=True)) for row in rows]


P95_MS = 20.136  # the sketch's bucket holding 20 ms
# The known events, exactly: 4 + 1 read_file by alice, 2 DENIED delete_records by mallory
# (one replayed, refused by the keep-first views of migration 120) and her unanswered attempt,
# 2 queries by bob on server db: 9 calls, 3 failed. calls_hourly counts the attempt and its
# INCOMPLETE version once (migration 170), as the panels on audit_events FINAL do.
EXPECTED: dict[str, list[dict[str, Any]]] = {
    "Tool calls": table("calls", (9,)),
    "Failure rate": table("failure_rate", (0.333333,)),
    # Rank 0.95 * (9 - 1) = 7.6 of 1, 1, 2, 4, 6, 8, 10, 20, 100 ms: the sketch reads 20 ms,
    # within its 1% (test_shared_questions_equal_the_slow_queries holds it to the rank).
    "p95 latency": table("p95_ms", (P95_MS,)),
    "Active users": table("users", (3,)),
    # The built-in dashboard's question (readside/dashboard/grafana.py): whole hours.
    "Calls by tool and status": table(
        "bucket tool status calls",
        (HOUR, "delete_records", "DENIED", 2),
        (HOUR, "query", "SUCCESS", 2),
        (HOUR, "read_file", "ERROR", 1),
        (HOUR, "read_file", "SUCCESS", 4),
    ),
    # Percentiles are sketched: test_percentiles_are_within_the_sketch_accuracy.
    "Failure rate and latency per tool": table(
        "tool calls failure_rate",
        ("read_file", 5, 0.2),
        ("delete_records", 2, 1.0),
        ("query", 2, 0.0),
    ),
    "Events by risk level": table(
        "level events", ("LOW", 4), ("MEDIUM", 3), ("HIGH", 1), ("CRITICAL", 2)
    ),
    "Top users by risk": table(
        "user events high_risk max_risk",
        ("mallory", 3, 3, 90),
        ("bob", 2, 0, 40),
        ("alice", 5, 0, 30),
    ),
    # The folded alert counts once, when first raised.
    "Alerts by severity": table(
        "time severity alerts", (at(0), "CRITICAL", 1), (at(0), "MEDIUM", 1)
    ),
    "Latest alerts": table(
        "alert_time severity detector user tool_name count",
        (at(12), "CRITICAL", "denied_burst", "mallory", "delete_records", 2),
        (at(5), "MEDIUM", "error_burst", "alice", "read_file", 1),
    ),
    # The unanswered attempt once, in its INCOMPLETE version with the raised risk.
    "High-risk events": table(
        "event_time risk_level risk_score user status risk_reasons",
        (at(10), "HIGH", 70, "mallory", "", ["risk:HIGH"]),
        (at(7), "CRITICAL", 90, "mallory", "DENIED", ["risk:CRITICAL"]),
        (at(6), "CRITICAL", 90, "mallory", "DENIED", ["risk:CRITICAL"]),
    ),
}


def _subset(rows: list[dict[str, Any]], like: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row cut to the columns the expectation names."""
    names = like[0].keys() if like else ()
    return [{name: row[name] for name in names} for row in rows]


def test_every_panel_has_expected_numbers() -> None:
    assert set(_queries()) == set(EXPECTED)


@pytest.mark.clickhouse
def test_panels_give_the_known_numbers(known_store: Client) -> None:
    variables: dict[str, list[str] | None] = {"server": ALL, "tool": ALL}
    got = {
        title: _subset(_run(known_store, sql, variables), EXPECTED[title])
        for title, sql in _queries().items()
    }
    assert {title: rows for title, rows in got.items() if rows != EXPECTED[title]} == {}


# A few panels under narrowed variables: one server; two tools (several quoted values); a value
# with a quote, which must stay inside its string literal.
NARROWED = [
    (
        {"server": ["db"], "tool": ALL},
        {
            "Tool calls": table("calls", (2,)),
            "Calls by tool and status": table("bucket tool calls", (HOUR, "query", 2)),
            "High-risk events": [],
            "Latest alerts": [],
        },
    ),
    (
        {"server": ALL, "tool": ["read_file", "delete_records"]},
        {
            "Tool calls": table("calls", (7,)),
            "Events by risk level": table(
                "level events", ("LOW", 4), ("MEDIUM", 1), ("HIGH", 1), ("CRITICAL", 2)
            ),
        },
    ),
    (
        {"server": ["o'brien"], "tool": ALL},
        {"Tool calls": table("calls", (0,)), "Failure rate": [], "p95 latency": []},
    ),
]


@pytest.mark.clickhouse
@pytest.mark.parametrize(("variables", "expected"), NARROWED, ids=["server", "tools", "quote"])
def test_variables_narrow_the_panels(
    known_store: Client,
    variables: dict[str, list[str] | None],
    expected: dict[str, list[dict[str, Any]]],
) -> None:
    queries = _queries()
    for title, rows in expected.items():
        assert _subset(_run(known_store, queries[title], variables), rows) == rows, title


@pytest.mark.clickhouse
@pytest.mark.parametrize(
    ("server", "options"),
    [
        (ALL, {"server": ["db", "files"], "tool": ["delete_records", "query", "read_file"]}),
        (["db"], {"server": ["db", "files"], "tool": ["query"]}),
    ],
    ids=["all", "db"],
)
def test_variable_options(
    known_store: Client, server: list[str] | None, options: dict[str, list[str]]
) -> None:
    for path in DASHBOARDS:
        for variable in _query_variables(_load(path)):
            rows = _run(known_store, variable["query"], {"server": server})
            assert [next(iter(row.values())) for row in rows] == options[variable["name"]]


@pytest.mark.clickhouse
def test_percentiles_are_within_the_sketch_accuracy(known_store: Client) -> None:
    """The tools panel's percentiles, sketched (migration 190), against the known durations
    at the rank the sketch reads: q * (n - 1) from the lowest."""
    known = {"read_file": (6.0, 8.0, 8.0), "delete_records": (1.0, 1.0, 1.0), "query": (10, 10, 10)}
    rows = _run(
        known_store, _queries()["Failure rate and latency per tool"], {"server": ALL, "tool": ALL}
    )
    for row in rows:
        for name, exact in zip(("p50_ms", "p95_ms", "p99_ms"), known[row["tool"]], strict=True):
            assert abs(row[name] - exact) <= exact * queries.RELATIVE_ACCURACY + 0.0005, row


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_a_dashboard_is_what_the_shared_questions_render(path: Path) -> None:
    """The provisioned JSON is the generator's output: a panel's SQL edited in the file, or a
    question changed in queries.py without running the generator, fails here."""
    board = _load(path)
    assert board == grafana.rendered(path.name, board)
    for title, name in grafana.SHARED[path.name].items():
        (panel,) = [p for p in board["panels"] if p["title"] == title]
        assert panel["targets"][0]["rawSql"] == grafana.for_grafana(
            grafana.question(name), grafana.LIMITS.get(title, grafana.DEFAULT_LIMIT)
        )


def _hand_written(name: str, board: dict[str, Any]) -> list[str]:
    """The panels of ``board`` (the file ``name``) whose SQL is not a shared question's as
    the generator renders it: their titles, a target each."""
    shared = grafana.SHARED.get(name, {})
    return [
        panel["title"]
        for panel in board["panels"]
        for target in panel.get("targets", [])
        if "rawSql" in target
        and (
            panel["title"] not in shared
            or target["rawSql"] != grafana.panel_sql(panel["title"], shared[panel["title"]])
        )
    ]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_asks_a_shared_question(path: Path) -> None:
    """No hand-written SQL: each panel's query is a question of readside/dashboard/queries.py,
    which the built-in dashboard asks too where it has the same question."""
    board = _load(path)
    assert _hand_written(path.name, board) == []
    assert all(panel["targets"] for panel in board["panels"])


def test_a_hand_written_panel_is_found() -> None:
    path = GRAFANA / "dashboards" / "mcp-audit.json"
    board = _load(path)
    extra = json.loads(json.dumps(board["panels"][0]))
    extra["title"] = "Hand-written"
    extra["targets"][0]["rawSql"] = "SELECT count() AS calls FROM audit_events"
    board["panels"].append(extra)
    assert _hand_written(path.name, board) == ["Hand-written"]


def test_an_edited_panel_is_told_from_its_question() -> None:
    path = GRAFANA / "dashboards" / "mcp-audit-security.json"
    board = _load(path)
    (panel,) = [p for p in board["panels"] if p["title"] == "Events by risk level"]
    panel["targets"][0]["rawSql"] = "SELECT 'LOW' AS level, 1 AS events"
    assert grafana.rendered(path.name, board) != board


def test_table_cells_open_the_built_in_views() -> None:
    """A user opens ``#/user/<pseudonym>``, an event ``#/event/<event id>``, at the address in
    the ``$dashboard`` variable."""
    for path in DASHBOARDS:
        board = _load(path)
        (address,) = [v for v in board["templating"]["list"] if v["name"] == "dashboard"]
        assert address["query"].startswith("http://127.0.0.1:")
        for panel in board["panels"]:
            if panel["type"] != "table":
                continue
            links = {
                override["matcher"]["options"]: override["properties"][0]["value"][0]["url"]
                for override in panel["fieldConfig"]["overrides"]
            }
            assert links == {
                "user": "${dashboard}/#/user/${__value.raw}",
                "event_id": "${dashboard}/#/event/${__value.raw}",
            }, panel["title"]


# The panels whose hand-written SQL became shared questions, against slow, obviously right
# answers: audit_events FINAL (each event once, whole rows, the version FINAL keeps) for events;
# every stored alert row, folded in Python, for alerts.
DUPLICATED = uuid.uuid4()
RANGES = {
    "whole hours": (FROM, TO),
    "inside an hour": (T + timedelta(minutes=5, seconds=30), T + timedelta(hours=2)),
    "from before the oldest": (T - timedelta(hours=4, minutes=10), T + timedelta(minutes=30)),
}
_EACH_EVENT_ONCE = """(SELECT * FROM audit_events FINAL
    WHERE event_time >= {since:DateTime64(6)} AND event_time < {until:DateTime64(6)})"""
_EACH_CALL_ONCE = f"{_EACH_EVENT_ONCE} WHERE {TOOL_CALL}"
SLOW = {
    "Tool calls": f"SELECT count() AS calls FROM {_EACH_CALL_ONCE}",
    "Failure rate": f"""SELECT countIf({FAILURE}) / count() AS failure_rate
        FROM {_EACH_CALL_ONCE} HAVING count() > 0""",
    "Active users": f"SELECT uniqExact(user_id) AS users FROM {_EACH_CALL_ONCE}",
    "p95 latency": f"""SELECT arraySort(groupArray(duration_us)) AS durations
        FROM {_EACH_CALL_ONCE} HAVING count() > 0""",
    "High-risk events": f"""
        SELECT event_time, event_id, user_id AS user, server_id AS server, tool_name AS tool,
               toString(status) AS status, risk_score, toString(risk_level) AS risk_level,
               risk_reasons
        FROM {_EACH_EVENT_ONCE} WHERE {HIGH_RISK}
        ORDER BY event_time DESC, event_id DESC LIMIT 200""",
}
NEWLY_SHARED = {*SLOW, "Alerts by severity", "Latest alerts"}


@pytest.fixture
def replayed_store(known_store: Client) -> Client:
    """The known store and a HIGH-risk failed call stored twice: two copies in one insert,
    which the keep-first views cannot tell apart (migration 120)."""
    when = T + timedelta(minutes=25)
    row: dict[str, Any] = {
        "event_id": DUPLICATED, "call_id": str(DUPLICATED), "event_time": when,
        "enriched_time": when, "event_type": "TOOL_CALL", "phase": "RESULT", "server_id": "db",
        "user_id": "bob", "tool_name": "query", "status": "ERROR", "duration_us": 50_000,
        "risk_score": 80, "risk_level": "HIGH", "risk_reasons": ["risk:HIGH"],
        "retention_days": 365,
    }  # fmt: skip
    known_store.insert(
        "audit_events_incoming", [list(row.values())] * 2, column_names=list(row),
        settings={"optimize_on_insert": 0},
    )  # fmt: skip
    return known_store


def _at_rank(durations: list[int], level: float, rounding: Any) -> int:
    """The duration at the rank a DDSketch reads for ``level``, level * (n - 1) from the
    lowest, by floor or ceil against float rounding."""
    return durations[int(rounding(level * (len(durations) - 1)))]


def _slow_alerts(client: Client, start: datetime, end: datetime) -> dict[str, Any]:
    """Both alert panels' answers from every stored alert row, folded here: an alert raised
    at its earliest row, listed as its row with the highest count (its final version)."""
    rows = client.query(
        "SELECT alert_id, alert_time, toString(severity), detector, count FROM audit_alerts"
    ).result_rows
    start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    raised: dict[Any, tuple[datetime, str]] = {}
    final: dict[Any, tuple[Any, ...]] = {}
    for alert_id, when, severity, detector, count in rows:
        if start <= when < end:
            raised[alert_id] = min(raised.get(alert_id, (when, severity)), (when, severity))
        if alert_id not in final or count > final[alert_id][4]:
            final[alert_id] = (alert_id, when, severity, detector, count)
    buckets: dict[tuple[datetime, str], int] = {}
    for when, severity in raised.values():
        bucket = when.replace(minute=when.minute - when.minute % 10, second=0, microsecond=0)
        assert INTERVAL_S == 600  # the ten-minute buckets above
        buckets[bucket, severity] = buckets.get((bucket, severity), 0) + 1
    listed = sorted((r for r in final.values() if start <= r[1] < end), key=lambda r: r[1])
    return {
        "Alerts by severity": [
            {"time": time, "severity": severity, "alerts": n}
            for (time, severity), n in sorted(buckets.items())
        ],
        "Latest alerts": [
            {"alert_id": str(a), "alert_time": w, "severity": s, "detector": d, "count": c}
            for a, w, s, d, c in reversed(listed[-100:])
        ],
    }


def _shared_sql(title: str) -> str:
    (sql,) = [
        grafana.panel_sql(title, name)
        for shared in grafana.SHARED.values()
        for panel, name in shared.items()
        if panel == title
    ]
    return sql


@pytest.mark.clickhouse
@pytest.mark.parametrize("window", sorted(RANGES))
def test_shared_questions_equal_the_slow_queries(replayed_store: Client, window: str) -> None:
    """Each panel that had hand-written SQL, rendered as Grafana runs it, against a slow,
    obviously right answer over the same data: a replayed event, an attempt replaced by its
    INCOMPLETE version and a folded alert count once, in ranges starting on an hour and
    inside one, and before the oldest event."""
    store, (start, end) = replayed_store, RANGES[window]
    stored = store.command(f"SELECT count() FROM audit_events WHERE event_id = '{DUPLICATED}'")
    assert stored == 2  # the duplicate is really there, twice
    every: dict[str, list[str] | None] = {"server": ALL, "tool": ALL}
    got = {title: _run(store, _shared_sql(title), every, start, end) for title in NEWLY_SHARED}
    slow = _slow_alerts(store, start, end)
    for title, sql in SLOW.items():
        slow[title] = _named(store.query(sql, parameters={"since": start, "until": end}))

    for title in ("Alerts by severity", "Latest alerts", "High-risk events"):
        assert slow[title], f"{title}: the range must hold some, or equality proves little"
        assert _subset(got[title], slow[title]) == slow[title], title
    for title in ("Tool calls", "Failure rate", "Active users"):
        assert got[title] == slow[title], title
    # Sketched: within its accuracy of the durations at its rank.
    (durations,) = [row["durations"] for row in slow["p95 latency"]] or [[]]
    assert len(got["p95 latency"]) == (1 if durations else 0)
    for row in got["p95 latency"]:
        low, high = (_at_rank(durations, 0.95, r) for r in (math.floor, math.ceil))
        accuracy = queries.RELATIVE_ACCURACY
        assert low * (1 - accuracy) - 0.5 <= row["p95_ms"] * 1000 <= high * (1 + accuracy) + 0.5
    assert set(got) == NEWLY_SHARED


@pytest.mark.clickhouse
def test_grafana_and_the_built_in_dashboard_agree(replayed_store: Client) -> None:
    """Over the same window (every known event lies before TO) the stat panels show the built-in
    summary's figures, and the alert list the built-in's alerts of that window."""
    store, every = replayed_store, {"server": ALL, "tool": ALL}
    summary = queries.summary(store, FROM)

    def figure(title: str) -> Any:
        ((value,),) = [tuple(row.values()) for row in _run(store, _shared_sql(title), every)]
        return value

    assert figure("Tool calls") == summary["calls"] == 10
    assert figure("Active users") == summary["users"] == 3
    assert figure("Failure rate") == round(summary["failures"] / summary["calls"], 6)
    built_in = [a for a in queries.alerts(store, 100) if a["alert_time"] >= FROM.isoformat()]
    listed = _run(store, _shared_sql("Latest alerts"), every)
    assert [a["alert_id"] for a in built_in] == [row["alert_id"] for row in listed]
