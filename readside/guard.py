"""People's SQL, held to one reading statement by the engine itself.

Three layers, each sufficient for what it covers, none trusting the others:

1. :func:`check_read_only` is the friendly early error: a lexer that names
   what is wrong before anything is sent. It is a courtesy, not a lock:
   ClickHouse knows comment and quoting forms it may not (``#`` comments,
   ``$$`` strings), so nothing below depends on it.
2. :func:`engine_statement` hands the engine the people's text only as a
   subquery, ``SELECT * FROM (\\n<text>\\n)``, so the engine's own parser refuses
   a second statement, ``INTO OUTFILE``, ``FORMAT`` and anything else that is
   not one query (chDB runs ``a; b`` and writes ``INTO OUTFILE`` files, being
   a local client). ``SHOW TABLES`` and ``DESCRIBE t`` are translated to the
   system tables they read.
3. :func:`guarded_client` opens a connection with the limits set and then
   ``readonly = 1`` (writes, DDL, setting changes and the file, url, s3,
   remote, mysql, executable... table functions refused by the engine), and
   :func:`refuse_file_access` refuses a statement whose engine-parsed tree
   calls a function that reads files or other services: in chDB the scalar
   ``file()`` reads any path even at ``readonly = 1`` (measured), and no
   privilege governs it there. On a ClickHouse server the reader user's
   grants do the same (``deploy/clickhouse/initdb/20-readers.sql``).
"""

from __future__ import annotations

import re
from typing import Any

from clickhouse_connect.driver.client import Client

from readside.errors import QueryRefusedError
from readside.settings import ReadSettings
from sinks.clickhouse import connect

READING_STATEMENTS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC"})
REFUSED_CLAUSES = frozenset({"SETTINGS", "FORMAT", "OUTFILE"})
_LITERALS = re.compile(
    "|".join(
        (
            r"--[^\n]*",
            r"#[^\n]*",
            r"/\*.*?\*/",
            r"\$\$.*?\$\$",
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
_WORD = re.compile(r"(?<![.\w])[A-Za-z_]\w*")  # not the table part of system.settings
_SHOW_TABLES = re.compile(r"\s*SHOW\s+TABLES\s*;?\s*", re.IGNORECASE)
_DESCRIBE = re.compile(
    r"\s*DESC(?:RIBE)?\s+(?:TABLE\s+)?`?([A-Za-z_][A-Za-z0-9_]*)`?\s*;?\s*", re.IGNORECASE
)
# Table functions that only generate values; every other one reaches files or services.
_GENERATORS = frozenset({"numbers", "numbers_mt", "zeros", "zeros_mt", "generate_series",
                         "generateseries", "values", "null", "view", "generaterandom"})  # fmt: skip
_AST_FUNCTION = re.compile(r"^\s*Function (\S+)", re.MULTILINE)


def check_read_only(sql: str, allow: frozenset[str] = frozenset()) -> str:
    """The statement without a trailing semicolon, or :class:`QueryRefusedError` saying why.

    ``allow`` lifts the refusal of some clauses. A friendly early error only:
    the engine enforces the same whether or not this ran (module docstring).
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
            "only reading statements are allowed (SELECT, WITH, SHOW TABLES, DESCRIBE)",
            reason="not-read-only",
            statement=words[0] if words else "",
        )
    refused = (REFUSED_CLAUSES - allow).intersection(words)
    if refused:
        raise QueryRefusedError(
            "this clause is not allowed here", reason="refused-clause", clause=sorted(refused)[0]
        )
    return statement


def engine_statement(sql: str) -> tuple[str, dict[str, str]]:
    """What the engine runs for people's ``sql``, and parameters it binds.

    The text stays on lines of its own inside the parentheses, so a trailing
    comment cannot swallow the closing one.
    """
    if _SHOW_TABLES.fullmatch(sql):
        return ("SELECT name FROM system.tables WHERE database = currentDatabase()"
                " ORDER BY name"), {}  # fmt: skip
    described = _DESCRIBE.fullmatch(sql)
    if described:
        return (
            "SELECT name, type, default_kind AS default_type, default_expression, comment"
            " FROM system.columns WHERE database = currentDatabase()"
            " AND table = {describe_table:String} ORDER BY position"
        ), {"describe_table": described[1]}
    return f"SELECT * FROM (\n{sql}\n)", {}


def owner_settings() -> dict[str, Any]:
    """Engine settings of the store owner's own commands: read-only, no result caps."""
    return {**QUERY_SETTINGS, "allow_python_table_function": 0}  # python() reads our objects


def people_settings(limits: ReadSettings) -> dict[str, Any]:
    """The engine settings every people's connection carries (fixed before readonly)."""
    return {
        **owner_settings(),
        "max_execution_time": limits.max_execution_s,
        "max_result_rows": limits.max_result_rows,
        "max_result_bytes": limits.max_result_bytes,
        "result_overflow_mode": "throw",
        "max_memory_usage": limits.max_memory_bytes,
    }


def guarded_client(url: str, database: str, settings: dict[str, Any]) -> Client:
    """A connection on ``database`` that the engine keeps read-only, with ``settings``."""
    client = connect(url)
    client.database = database
    for name, value in settings.items():
        client.set_client_setting(name, value)
    client.set_client_setting("readonly", 1)  # last: it locks everything set before
    return client


def file_functions(client: Client) -> frozenset[str]:
    """Lower-case names of the functions that read files or reach other services."""
    rows = client.query("SELECT lower(name) FROM system.table_functions").result_rows
    return frozenset({str(row[0]) for row in rows} - _GENERATORS | {"file"})


def explain_ast(client: Client, statement: str, parameters: dict[str, Any] | None) -> str:
    """The engine's own parse of ``statement`` (nothing runs)."""
    return client.raw_query(
        f"EXPLAIN AST {statement}\nFORMAT TabSeparatedRaw", parameters=parameters or None
    ).decode("utf-8", "replace")


def refuse_file_access(tree: str, denied: frozenset[str]) -> None:
    """:class:`QueryRefusedError` if the parse ``tree`` calls a function in ``denied``."""
    called = {name.lower() for name in _AST_FUNCTION.findall(tree)} & denied
    if called:
        raise QueryRefusedError(
            "functions that read files or reach other services are not allowed",
            reason="file-access",
            function=sorted(called)[0],
        )
