"""Read-only SQL for people: one SELECT-like statement, run on a connection that cannot write.

Two locks, either sufficient alone: :func:`check_read_only` refuses anything
but a single reading statement (and SETTINGS, FORMAT or INTO OUTFILE clauses)
before it is sent, and :func:`read_only_client` opens a connection with
ClickHouse's ``readonly = 1``, which refuses writes, DDL, table functions and
changes of settings on the server side.
"""

from __future__ import annotations

import re
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from schemas.errors import PlatformError
from sinks.clickhouse import connect
from sinks.errors import QueryRefusedError
from sinks.settings import SinkSettings

READING_STATEMENTS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS"})
REFUSED_CLAUSES = frozenset({"SETTINGS", "FORMAT", "OUTFILE"})
_LITERALS = re.compile(
    "|".join(
        (
            r"--[^\n]*",
            r"/\*.*?\*/",
            r"'(?:[^'\\]|\\.|'')*'",
            r"`(?:[^`\\]|\\.)*`",
            r'"(?:[^"\\]|\\.)*"',
        )
    ),
    re.DOTALL,
)
# Duplicates share every sorting-key column, skip-index value and partition, so
# FINAL may stay within partitions and trust skip indexes without the exact mode.
QUERY_SETTINGS = {
    "do_not_merge_across_partitions_select_final": 1,
    "use_skip_indexes_if_final": 1,
    "use_skip_indexes_if_final_exact_mode": 0,
}
_WORD = re.compile(r"[A-Za-z_]+")


def check_read_only(sql: str, allow: frozenset[str] = frozenset()) -> str:
    """The statement without a trailing semicolon, or :class:`QueryRefusedError` saying why.

    ``allow`` lifts the refusal of some clauses (the HTTP endpoint lets clients choose
    their FORMAT and SETTINGS; ``readonly`` there still cannot be changed).
    """
    statement = sql.strip().rstrip(";").strip()
    bare = _LITERALS.sub(" ", statement)
    if not bare.strip():
        raise QueryRefusedError("empty query", reason="empty")
    if ";" in bare:
        raise QueryRefusedError("one statement at a time", reason="multiple-statements")
    words = [word.upper() for word in _WORD.findall(bare)]
    if not words or words[0] not in READING_STATEMENTS:
        raise QueryRefusedError(
            "only reading statements are allowed (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS)",
            reason="not-read-only",
            statement=words[0] if words else "",
        )
    refused = (REFUSED_CLAUSES - allow).intersection(words)
    if refused:
        raise QueryRefusedError(
            "this clause is not allowed here", reason="refused-clause", clause=sorted(refused)[0]
        )
    return statement


def read_only_client(url: str, database: str, level: int = 1) -> Client:
    """A connection on ``database`` that ClickHouse itself keeps read-only.

    ``level`` 1 also forbids changing settings; 2 allows settings (never ``readonly``).
    """
    client = connect(url)
    client.database = database
    for name, value in QUERY_SETTINGS.items():
        client.set_client_setting(name, value)
    client.set_client_setting("readonly", level)  # last: it locks what may be set after
    return client


def endpoint_client(settings: SinkSettings) -> Client:
    """A client on a running sink's query endpoint, as the operator (who is audited there)."""
    endpoint = str(settings.query_endpoint)
    if not endpoint.startswith("http://127.0.0.1:") and not endpoint.startswith(
        "http://localhost:"
    ):
        raise QueryRefusedError("the query endpoint is loopback only", reason="not-loopback")
    try:
        return clickhouse_connect.get_client(dsn=endpoint, username=settings.operator)
    except Exception as exc:
        raise PlatformError("cannot reach the sink's query endpoint", url=endpoint) from exc


def run_read_only(client: Client, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of a checked query on a read-only client."""
    result = client.query(check_read_only(sql))
    return list(result.column_names), [tuple(row) for row in result.result_rows]
