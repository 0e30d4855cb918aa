"""People's SQL: the engine refuses every attack class, with the friendly checker on and off.

Each attack is run through a real read side on chDB (the ``side`` fixture runs every test
twice: once with :func:`check_read_only`, once without it), and each test then looks at
what the attack would have changed: the file it would have written, the row it would have
inserted, the limit it would have raised.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from readside.errors import QueryRefusedError, ReadSideError
from readside.guard import check_read_only
from readside.session import ReadSide
from tests.readside.conftest import access_rows

pytestmark = pytest.mark.clickhouse
SECRET = "s3cr3t-canary-in-a-file"
ATTACKS = {
    "file table function": "SELECT * FROM file('{secret}', 'LineAsString')",
    "file scalar function": "SELECT file('{secret}')",
    "file behind a # comment": "SELECT 1 # ;\n, file('{secret}')",
    "file behind a $$ string": "SELECT $$ ' $$ AS a, fIlE('{secret}') AS b",
    "insert into function": "INSERT INTO FUNCTION file('{out}', 'LineAsString') SELECT 'x'",
    "into outfile": "SELECT 'x' INTO OUTFILE '{out}'",
    "into outfile after a comment": "SELECT 'x' -- ;\nINTO OUTFILE '{out}'",
    "into outfile closing the wrapper": "SELECT 'x') INTO OUTFILE '{out}' --",
    "url": "SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')",
    "s3": "SELECT * FROM s3('http://127.0.0.1:9/bucket/key', 'LineAsString')",
    "remote": "SELECT * FROM remote('127.0.0.1:9', system.one)",
    "mysql": "SELECT * FROM mysql('127.0.0.1:9', 'db', 'table', 'user', 'password')",
    "postgresql": "SELECT * FROM postgresql('127.0.0.1:9', 'db', 'table', 'user', 'pw')",
    "executable": "SELECT * FROM executable('id', 'LineAsString', 'x String')",
    "python objects": "SELECT * FROM python('os')",
    # A SETTINGS clause inside the wrapper binds only that subquery and cannot lift the
    # connection's readonly or limits: the test is what it would have unlocked.
    "settings: readonly for a file": "SELECT * FROM file('{secret}', 'LineAsString')"
    " SETTINGS readonly = 0",
    "settings: python": "SELECT * FROM python('os') SETTINGS allow_python_table_function = 1",
    "two statements": "SELECT 1; SELECT 2",
    "a write after a read": "SELECT 1; INSERT INTO erased_subjects (user_id) VALUES ('x')",
    "insert": "INSERT INTO erased_subjects (user_id) VALUES ('x')",
    "drop": "DROP TABLE audit_events",
    "alter delete": "ALTER TABLE audit_events DELETE WHERE 1",
    "set": "SET readonly = 0",
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_the_engine_refuses_each_attack(
    attack: str, side: ReadSide, seeded: Client, tmp_path: Path
) -> None:
    secret, out = tmp_path / "secret.txt", tmp_path / "out.txt"
    secret.write_text(SECRET)
    sql = ATTACKS[attack].format(secret=secret, out=out)
    session = side.session("eve", via="test")

    for run in (lambda: session.query(sql), lambda: session.raw(sql, {}, "TabSeparated")):
        try:
            answer = run()
        except (QueryRefusedError, DatabaseError, ReadSideError):
            continue
        raise AssertionError(f"{attack} was answered: {str(answer)[:200]}")

    assert not out.exists()
    assert seeded.query("SELECT count() FROM erased_subjects").result_rows == [(0,)]
    assert seeded.query("SELECT count() FROM audit_events WHERE event_type != 'AUDIT_ACCESS'"
                        ).result_rows == [(30,)]  # fmt: skip
    recorded = access_rows(seeded)
    assert len(recorded) == 2  # each refusal is recorded, whole
    assert {r["status"] for r in recorded} <= {"DENIED", "ERROR"}
    assert all(r["attributes"]["sql"] == sql for r in recorded)  # type: ignore[index]
    assert all(r["attributes"]["operator"] == "eve" for r in recorded)  # type: ignore[index]


def test_reads_pass_and_are_recorded_with_rows_and_duration(side: ReadSide, seeded: Client) -> None:
    session = side.session("alice", via="test")
    long_sql = "SELECT count() AS n FROM audit_events /*" + "x" * 5000 + "*/"
    assert session.query(long_sql) == (["n"], [(30,)])
    assert session.query("SHOW TABLES")[1]
    assert ("user_id",) in {(row[0],) for row in session.query("DESCRIBE audit_events")[1]}
    assert session.raw("SELECT arrayJoin([1, 2])", {}, "TabSeparated") == b"1\n2\n"

    first, *_, last = access_rows(seeded)
    assert first["status"] == "SUCCESS" and first["attributes"]["sql"] == long_sql  # type: ignore[index]
    assert first["attributes"]["rows"] == "1"  # type: ignore[index]
    assert last["attributes"]["rows"] == "2"  # type: ignore[index]


def test_a_client_cannot_raise_the_time_limit(side: ReadSide) -> None:
    session = side.session("eve", via="test")
    heavy = "SELECT sum(sipHash64(number)) FROM numbers(100000000000)"
    for sql in (heavy, f"SELECT * FROM ({heavy} SETTINGS max_execution_time = 3600)"):
        started = time.monotonic()
        with pytest.raises((DatabaseError, QueryRefusedError)) as caught:
            session.query(sql)
        assert isinstance(caught.value, QueryRefusedError) or "TIMEOUT" in str(caught.value)
        assert time.monotonic() - started < 10


def test_a_slow_query_does_not_starve_another_reader(side: ReadSide) -> None:
    def hog() -> None:
        with pytest.raises(DatabaseError):
            side.session("eve", "test").query(
                "SELECT sum(sipHash64(number)) FROM numbers(100000000000)"
            )

    slow = threading.Thread(target=hog)
    slow.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert side.session("alice", "test").query("SELECT 1 AS one") == (["one"], [(1,)])
    assert time.monotonic() - started < 1.5  # the slow one holds its own slot for 2 s
    slow.join()


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("INSERT INTO audit_events VALUES (1)", "not-read-only"),
        ("SELECT 1; DROP TABLE audit_events", "multiple-statements"),
        ("SELECT 1 # ;\n; DROP TABLE t", "multiple-statements"),
        ("SELECT 1 SETTINGS readonly = 0", "refused-clause"),
        ("SELECT 1 FORMAT JSON", "refused-clause"),
        ("SELECT 1 INTO OUTFILE '/tmp/x'", "refused-clause"),
        ("  -- only a comment", "empty"),
        ("EXPLAIN SELECT 1", "not-read-only"),
    ],
)
def test_the_friendly_checker_names_what_is_wrong(sql: str, reason: str) -> None:
    with pytest.raises(QueryRefusedError) as caught:
        check_read_only(sql)
    assert caught.value.fields["reason"] == reason


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT count() FROM numbers(10)",
        "SELECT count() FROM generateSeries(1, 10)",
        "SELECT count() FROM values('x UInt8', 1, 2)",
    ],
)
def test_table_functions_that_only_generate_values_are_answered(sql: str, side: ReadSide) -> None:
    # zeros() is refused too, by the engine: chDB counts it as a write at readonly = 1.
    assert side.session("alice", via="test").query(sql)[1]
