"""One definition of a call, a failure and high risk, everywhere the project counts them.

Textually: every SQL the project ships (migrations' current views, the dashboard's and
the report's queries, Grafana's panels, the README's analyst queries) uses the words
of ``sinks.tables``, and none of the forms that used to disagree. Behaviourally: over
rows of every phase and status, the README's exact query, the hourly view, the
dashboard and the report give the same numbers.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from readside.dashboard import queries
from readside.report.build import build
from sinks import tables
from tests.readside.dashboard.store import create_tables, insert_event

ROOT = Path(__file__).parents[2]
DISAGREEING = (
    "status != 'SUCCESS'",
    "phase != 'ATTEMPT'",
    "status NOT IN ('SUCCESS', 'UNKNOWN')",
    "status NOT IN ('SUCCESS', 'UNKNOWN', '')",
)


def _grafana_sql() -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.extend(v for k, v in node.items() if k == "rawSql")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in (ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"):
        walk(json.loads(path.read_text()))
    return found


def _shipped_sql() -> dict[str, str]:
    readme = ROOT / "README.md"
    sources = {
        "README": "\n".join(re.findall(r"```sql\n(.*?)```", readme.read_text(), re.DOTALL)),
        "grafana": "\n".join(_grafana_sql()),
        "dashboard": Path(queries.__file__).read_text(),
        "report": (ROOT / "readside" / "report" / "build.py").read_text(),
        # the views as they are now: the latest migration that defines them
        "views": (ROOT / "sinks" / "migrations" / "170_exact_aggregates.sql").read_text(),
    }
    return sources


@pytest.mark.parametrize("where", sorted(_shipped_sql()))
def test_no_other_definition_is_shipped(where: str) -> None:
    text = _shipped_sql()[where]
    assert [form for form in DISAGREEING if form in text] == []


def test_the_views_and_readme_say_the_words_of_the_one_definition() -> None:
    sql = _shipped_sql()
    # The views sum signs (migration 170: a replaced version counts -1).
    assert f"sumIf(sign, {tables.FAILURE})" in sql["views"]
    assert f"WHERE {tables.CALL}" in sql["views"]
    assert f"sumIf(sign, {tables.HIGH_RISK})" in sql["views"]
    # The README's counts read those views; tests/readside/dashboard/test_exact.py holds
    # each of its queries to the same question asked in these words of audit_events FINAL.


@pytest.mark.clickhouse
def test_every_reader_counts_the_same_calls_and_failures(clickhouse: Client) -> None:
    create_tables(clickhouse)
    now = datetime.now(UTC) - timedelta(minutes=5)
    statuses = ["SUCCESS", "ERROR", "DENIED", "TIMEOUT", "CANCELLED", "UNKNOWN"]
    for i, status in enumerate(statuses * 2):
        common: dict[str, Any] = {"user": "u", "tool": "t", "duration_ms": 1.0, "risk_score": 0,
                                  "risk_level": "HIGH" if i % 4 == 0 else "LOW"}  # fmt: skip
        insert_event(clickhouse, now, phase="ATTEMPT", status="", **common)
        insert_event(clickhouse, now, status=status, **common)
    for event_type in ("HEARTBEAT", "SESSION_START", "TOOLS_LISTED"):  # never calls
        insert_event(clickhouse, now, event_type=event_type, phase="EVENT", status="SUCCESS",
                     user="u", tool="t", duration_ms=0.0, risk_level="LOW")  # fmt: skip

    readme = clickhouse.query(
        f"SELECT count(), countIf({tables.FAILURE}) FROM audit_events FINAL WHERE {tables.CALL}"
    ).result_rows
    view = clickhouse.query("SELECT sum(calls), sum(errors) FROM calls_hourly").result_rows
    since = now - timedelta(hours=1)
    summary = queries.summary(clickhouse, since)
    (tool,) = queries.tools(clickhouse, since)
    report = build(clickhouse, since, lambda _: 0).totals

    assert readme == view == [(12, 8)]
    assert (summary["calls"], summary["failures"]) == (12, 8)
    assert (tool["calls"], tool["failure_rate"]) == (12, round(8 / 12, 4))
    assert (report["calls"], report["failures"]) == (12, 8)
