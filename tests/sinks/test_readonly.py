"""Read-only queries: refused before sending, and refused by ClickHouse if they slip through."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from sinks.errors import QueryRefusedError
from sinks.migrate import apply_migrations
from sinks.readonly import check_read_only, read_only_client, run_read_only


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("INSERT INTO audit_events VALUES (1)", "not-read-only"),
        ("ALTER TABLE audit_events DELETE WHERE 1", "not-read-only"),
        ("DROP TABLE audit_events", "not-read-only"),
        ("SELECT 1; DROP TABLE audit_events", "multiple-statements"),
        ("SELECT 1 SETTINGS readonly = 0", "refused-clause"),
        ("SELECT 1 FORMAT JSON", "refused-clause"),
        ("SELECT 1 INTO OUTFILE '/tmp/x'", "refused-clause"),
        ("  -- only a comment", "empty"),
    ],
)
def test_refused_before_sending(sql: str, reason: str) -> None:
    with pytest.raises(QueryRefusedError) as caught:
        check_read_only(sql)
    assert caught.value.fields["reason"] == reason


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count() FROM audit_events;",
        "WITH 1 AS x SELECT x",
        "SELECT 'a; DROP TABLE t' AS text -- settings in a comment",
        'SELECT 1 AS "settings"',
        "SHOW TABLES",
    ],
)
def test_reading_statements_pass(sql: str) -> None:
    assert check_read_only(sql) == sql.strip().rstrip(";")


@pytest.mark.clickhouse
def test_clickhouse_refuses_writes_on_the_read_only_connection(
    clickhouse: Client, clickhouse_url: str
) -> None:
    apply_migrations(clickhouse)
    reader = read_only_client(clickhouse_url, clickhouse.database)

    columns, rows = run_read_only(reader, "SELECT count() AS n FROM audit_events")
    assert (columns, rows) == (["n"], [(0,)])
    with pytest.raises(DatabaseError, match="readonly"):
        reader.command("INSERT INTO erased_subjects (user_id) VALUES ('x')")
    with pytest.raises(DatabaseError, match="readonly"):
        reader.query("SELECT * FROM file('/etc/hostname', 'LineAsString')")
    clickhouse.insert("erased_subjects", [["y"]], column_names=["user_id"])  # writer unaffected
