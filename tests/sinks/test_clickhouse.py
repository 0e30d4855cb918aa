"""The embedded store is the real ClickHouse engine: DDL, inserts and selects through chDB."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from clickhouse_connect.driver.client import Client

from schemas.errors import ConfigError
from sinks.clickhouse import connect, embedded_path

pytestmark = pytest.mark.clickhouse


def test_insert_and_select(clickhouse: Client) -> None:
    clickhouse.command(
        "CREATE TABLE calls (event_id String, event_time DateTime64(6, 'UTC'),"
        " tool LowCardinality(String)) ENGINE = MergeTree ORDER BY (tool, event_time)"
    )
    when = datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=UTC)
    clickhouse.insert(
        "calls",
        [("e1", when, "read_file"), ("e2", when, "read_file"), ("e3", when, "delete")],
        column_names=["event_id", "event_time", "tool"],
    )

    rows = clickhouse.query(
        "SELECT tool, count() FROM calls GROUP BY tool ORDER BY tool"
    ).result_rows
    assert rows == [("delete", 1), ("read_file", 2)]
    stored = clickhouse.query("SELECT event_time FROM calls LIMIT 1").result_rows[0][0]
    assert stored.replace(tzinfo=UTC) == when


def test_each_test_gets_its_own_database(clickhouse: Client) -> None:
    assert clickhouse.query("SHOW TABLES").result_rows == []


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ConfigError):
        connect("postgres://localhost/x")


def test_relative_embedded_path_is_resolved() -> None:
    assert embedded_path("chdb:///var/lib/x") == "/var/lib/x"
    assert embedded_path("chdb://memory") == ":memory:"
    assert embedded_path("chdb://./data").endswith("/data")
