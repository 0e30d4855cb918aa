"""Cluster mode: the migrations' single-node DDL, rewritten for a sharded, replicated cluster.

Contract: a :class:`Layout` turns one migration statement into the statements to
run. :data:`SINGLE_NODE` returns the statement unchanged (byte for byte);
:class:`ClusterLayout` (``MCP_AUDIT_SINK_CLUSTER``) rewrites it:

- every table a migration creates becomes ``<table>_local`` on each node,
  ``ON CLUSTER``, with its MergeTree-family engine made ``Replicated*`` (path
  ``/clickhouse/tables/{shard}/{database}/{table}``, replica ``{replica}``); and a
  ``Distributed`` table under the original name, sharded by :data:`SHARDING`,
  takes the reads and writes, so the sink and the read side keep their SQL;
- a materialized view reads and writes local tables on each node (``TO x_local``,
  ``FROM y_local``): aggregates are kept per shard, read through their
  ``Distributed`` twin;
- ``ALTER`` changing columns runs on both tables; any other ``ALTER`` (settings,
  TTL, indexes, mutations), ``TRUNCATE`` and ``OPTIMIZE`` on the local table only
  (a ``Distributed`` table holds no data); ``DROP`` and ``CREATE`` carry ``ON CLUSTER``;
- ``INSERT`` runs once, through the ``Distributed`` tables.

The rewrite works on tokens (strings, quoted names and comments are never
touched) and splices edits into the original text. Anything it does not
understand is refused with :class:`ClusterDdlError` rather than guessed: a new
table needs its sharding key here, a view must name its ``TO`` table.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from sinks.clickhouse import quote_identifier
from sinks.errors import MigrationError
from sinks.settings import SinkSettings

LOCAL_SUFFIX = "_local"
REPLICA_PATH = "/clickhouse/tables/{shard}/{database}/{table}"
REPLICA_NAME = "{replica}"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# The sharding key of every table, on its Distributed twin. A user's rows share
# a shard (user_id holds the pseudonym the topics are keyed by): a trail, FINAL,
# the keep-first and conflict views (migrations 120, 170: they look up the user's
# stored rows in the inserted block's shard) and erasure stay on one shard. Every
# key is a function of the columns by which rows replace or collapse each other,
# so versions of a row always meet in one shard's merges; and deterministic (never
# rand()): a retried batch splits the same way, so insert deduplication holds.
USER = "cityHash64(user_id)"
SHARDING: Mapping[str, str] = {
    "audit_events": USER,
    "audit_events_incoming": USER,  # must equal audit_events': its view writes locally
    "audit_alerts": USER,  # a folded alert is stored again: same alert, same user
    "audit_conflicts": USER,
    "erased_subjects": USER,  # beside the subject's events
    "events_first": USER,  # a version and its sign -1 copy collapse on one shard
    "user_activity_daily": USER,
    # No user. A hold's versions replace each other by hold_id.
    "legal_holds": "cityHash64(hold_id)",
    # A stream's chain of digests stays together; (stream_id, period_start) replaces.
    "audit_digests": "cityHash64(stream_id)",
    # Leaves spread round robin by index; a leaf written again meets its first version.
    "audit_tree_leaves": "leaf_index",
    "audit_tree_heads": "cityHash64(period_start)",
    "retention_periods": "retention_days",  # a handful of rows, replaced by value
    "schema_migrations": "version",
    # Aggregates are written per shard by their views (each shard holds its part of
    # every group; reads merge them); the key routes only a direct insert (a rebuild).
    "calls_hourly": "cityHash64(server_id, tool_name)",
    "risk_daily": "cityHash64(server_id, risk_level)",
    "events_hourly": "cityHash64(server_id, tool_name)",
    "durations_hourly": "cityHash64(server_id, tool_name)",
    "durations_daily": "cityHash64(server_id, tool_name)",
}

# ALTER commands that change a table's columns: the Distributed twin's columns
# must follow. Every other command acts on stored data or storage settings.
_COLUMN_COMMANDS = {
    ("ADD", "COLUMN"),
    ("DROP", "COLUMN"),
    ("MODIFY", "COLUMN"),
    ("RENAME", "COLUMN"),
    ("COMMENT", "COLUMN"),
}
# Replicated tables deduplicate retried inserts by replicated_deduplication_window.
_DEDUP_SETTING = ("non_replicated_deduplication_window", "replicated_deduplication_window")


class ClusterDdlError(MigrationError):
    """A statement cannot be rewritten for a cluster; the migration must say more."""


class Layout(Protocol):
    """How migration statements become the statements a store runs."""

    @property
    def settings(self) -> dict[str, int]:
        """Query settings of every migration statement and ledger insert."""
        ...

    def rewrite(self, statement: str) -> list[str]:
        """What to run, in order, for one statement of a migration; raises
        :class:`ClusterDdlError` when the statement has no form in this layout."""
        ...

    def setup(self) -> list[str]:
        """Statements run before the migration ledger is read (the database itself)."""
        ...

    @property
    def ledger_engine(self) -> str | None:
        """The engine the ledger table must have in this layout (None: any but Distributed)."""
        ...


class SingleNode:
    """Today's store: every statement as written."""

    ledger_engine: str | None = None
    settings: dict[str, int] = {}  # noqa: RUF012 (never mutated)

    def rewrite(self, statement: str) -> list[str]:
        return [statement]

    def setup(self) -> list[str]:
        return []


SINGLE_NODE = SingleNode()


def layout_for(settings: SinkSettings) -> Layout:
    """The layout the sink's settings ask for (``MCP_AUDIT_SINK_CLUSTER``)."""
    if settings.cluster is None:
        return SINGLE_NODE
    return ClusterLayout(settings.cluster, settings.database)


@dataclass(frozen=True)
class Token:
    kind: str  # space | comment | string | quoted | word | number | punct
    text: str
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else self.text

    @property
    def name(self) -> str:
        """The identifier this token names (backquotes removed)."""
        if self.kind == "quoted":
            return self.text[1:-1]
        return self.text


_LEXER = re.compile(
    r"""(?P<space>\s+)
      | (?P<comment>--[^\n]*|/\*.*?\*/)
      | (?P<string>'(?:[^'\\]|\\.|'')*')
      | (?P<quoted>`(?:[^`\\]|\\.)*`|"(?:[^"\\]|\\.)*")
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<number>[0-9][A-Za-z0-9_.]*)
      | (?P<punct>.)""",
    re.VERBOSE | re.DOTALL,
)


def tokens(sql: str) -> list[Token]:
    """The statement's significant tokens (no spaces, no comments), with positions."""
    found = []
    for match in _LEXER.finditer(sql):
        kind = match.lastgroup or "punct"
        if kind not in ("space", "comment"):
            found.append(Token(kind, match.group(), match.start()))
    return found


@dataclass
class _Edits:
    """Replacements of spans of one statement's text, applied together."""

    sql: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)

    def replace(self, token: Token, text: str) -> None:
        self.spans.append((token.start, token.end, text))

    def insert_after(self, token: Token, text: str) -> None:
        self.spans.append((token.end, token.end, text))

    def apply(self) -> str:
        out, at = [], 0
        for start, end, text in sorted(self.spans, key=lambda span: (span[0], span[1])):
            out.append(self.sql[at:start] + text)
            at = end
        return "".join(out) + self.sql[at:]


class ClusterLayout:
    """Statements for a cluster named in ``remote_servers`` (see the module's contract)."""

    ledger_engine: str | None = "Distributed"

    def __init__(self, cluster: str, database: str, sharding: Mapping[str, str] = SHARDING) -> None:
        if not IDENTIFIER.match(cluster):
            raise ClusterDdlError("a cluster name is a plain identifier", cluster=cluster)
        self.cluster = cluster
        self.database = database
        self.sharding = sharding

    @property
    def settings(self) -> dict[str, int]:
        # An INSERT through a Distributed table returns once every shard has its rows:
        # the ledger row and a migration's backfill are there for the next statement
        # and the next start.
        return {"distributed_foreground_insert": 1}

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER {self.cluster}"

    def setup(self) -> list[str]:
        return [f"CREATE DATABASE IF NOT EXISTS {quote_identifier(self.database)}{self.on_cluster}"]

    def rewrite(self, statement: str) -> list[str]:
        toks = tokens(statement)
        head = [t.upper for t in toks[:3]]
        if head[:1] == ["INSERT"]:
            return [statement]
        if head[:2] == ["CREATE", "TABLE"]:
            return self._create_table(statement, toks)
        if head[:3] == ["CREATE", "MATERIALIZED", "VIEW"] or head[:2] == ["CREATE", "VIEW"]:
            return [self._create_view(statement, toks)]
        if head[:2] == ["ALTER", "TABLE"]:
            return self._alter(statement, toks)
        if head[:2] in (["DROP", "VIEW"], ["DROP", "TABLE"]):
            return self._drop(statement, toks)
        if head[:2] in (["TRUNCATE", "TABLE"], ["OPTIMIZE", "TABLE"]):
            return [self._on_local(statement, toks)]
        raise ClusterDdlError("no cluster form for this statement", statement=statement[:120])

    def local(self, table: str) -> str:
        return table + LOCAL_SUFFIX

    def sharding_key(self, table: str) -> str:
        try:
            return self.sharding[table]
        except KeyError:
            raise ClusterDdlError(
                "no sharding key for this table; add it to sinks/cluster.py SHARDING",
                table=table,
            ) from None

    # -- statements ----------------------------------------------------------

    def _create_table(self, sql: str, toks: list[Token]) -> list[str]:
        at, name = _object_name(toks, 2)
        key = self.sharding_key(name.name)
        edits = _Edits(sql)
        edits.replace(name, self.local(name.name))
        edits.insert_after(name, self.on_cluster)
        rest = toks[at + 1 :]
        if rest and rest[0].upper == "AS":
            source = _plain_table(rest, 1, sql)
            self.sharding_key(source.name)  # a copied structure must be a table we shard
            edits.replace(source, self.local(source.name))
        elif not rest or rest[0].text != "(":
            raise ClusterDdlError("a table is created with columns or AS another", table=name.name)
        self._replicate_engine(edits, rest, name.name)
        header = sql[: name.start]
        distributed = (
            f"{header}{name.name}{self.on_cluster} AS {self.local(name.name)}"
            f" ENGINE = Distributed({self.cluster}, {_string(self.database)},"
            f" {_string(self.local(name.name))}, {key})"
        )
        return [edits.apply(), distributed]

    def _replicate_engine(self, edits: _Edits, rest: list[Token], table: str) -> None:
        at = _find_top_level(rest, "ENGINE")
        if at is None or at + 2 >= len(rest) or rest[at + 1].text != "=":
            raise ClusterDdlError("a table names its engine (ENGINE = ...)", table=table)
        engine = rest[at + 2]
        if engine.text == "Null":
            return  # stores nothing: nothing to replicate
        if not engine.text.endswith("MergeTree") or engine.text.startswith("Replicated"):
            raise ClusterDdlError(
                "no cluster form for this engine", table=table, engine=engine.text
            )
        replica_args = f"{_string(REPLICA_PATH)}, {_string(REPLICA_NAME)}"
        following = rest[at + 3] if at + 3 < len(rest) else None
        if following is not None and following.text == "(":
            closing = _closing(rest, at + 3)
            empty = closing == at + 4
            edits.replace(engine, "Replicated" + engine.text)
            edits.insert_after(following, replica_args + ("" if empty else ", "))
        else:
            edits.replace(engine, f"Replicated{engine.text}({replica_args})")
        settings = _find_top_level(rest, "SETTINGS")
        for token in rest[settings:] if settings is not None else []:
            if token.kind == "word" and token.text == _DEDUP_SETTING[0]:
                edits.replace(token, _DEDUP_SETTING[1])

    def _create_view(self, sql: str, toks: list[Token]) -> str:
        materialized = toks[1].upper == "MATERIALIZED"
        at, name = _object_name(toks, 3 if materialized else 2)
        edits = _Edits(sql)
        edits.insert_after(name, self.on_cluster)
        if materialized:
            rest = toks[at + 1 :]
            if not rest or rest[0].upper != "TO":
                raise ClusterDdlError(
                    "in cluster mode a materialized view writes a TO table", view=name.name
                )
            target = _plain_table(rest, 1, sql)
            self.sharding_key(target.name)
            edits.replace(target, self.local(target.name))
            for table in _read_tables(toks[at + 1 :]):
                self.sharding_key(table.name)  # reads only tables that have a local form
                edits.replace(table, self.local(table.name))
        return edits.apply()

    def _alter(self, sql: str, toks: list[Token]) -> list[str]:
        at, name = _object_name(toks, 2)
        self.sharding_key(name.name)
        commands = _split_commands(toks[at + 1 :])
        on_columns = [_changes_columns(command) for command in commands]
        if any(on_columns) and not all(on_columns):
            raise ClusterDdlError(
                "an ALTER changes columns or storage, not both: split it", table=name.name
            )
        local = _Edits(sql)
        local.replace(name, self.local(name.name))
        local.insert_after(name, self.on_cluster)
        if not all(on_columns):
            return [local.apply()]
        twin = _Edits(sql)
        twin.insert_after(name, self.on_cluster)
        return [local.apply(), twin.apply()]

    def _drop(self, sql: str, toks: list[Token]) -> list[str]:
        _, name = _object_name(toks, 2)
        edits = _Edits(sql)
        edits.insert_after(name, self.on_cluster)
        if toks[1].upper == "VIEW":
            return [edits.apply()]
        self.sharding_key(name.name)
        local = _Edits(sql)
        local.replace(name, self.local(name.name))
        local.insert_after(name, self.on_cluster)
        return [edits.apply(), local.apply()]

    def _on_local(self, sql: str, toks: list[Token]) -> str:
        _, name = _object_name(toks, 2)
        self.sharding_key(name.name)
        edits = _Edits(sql)
        edits.replace(name, self.local(name.name))
        edits.insert_after(name, self.on_cluster)
        return edits.apply()


# -- token helpers -------------------------------------------------------------


def _object_name(toks: list[Token], at: int) -> tuple[int, Token]:
    """The object a statement names after its keywords (and IF [NOT] EXISTS)."""
    words = [t.upper for t in toks]
    if words[at : at + 3] == ["IF", "NOT", "EXISTS"]:
        at += 3
    elif words[at : at + 2] == ["IF", "EXISTS"]:
        at += 2
    return at, _plain_table(toks, at, " ".join(t.text for t in toks[:at]))


def _plain_table(toks: list[Token], at: int, context: str) -> Token:
    """An unqualified table name at ``at``: the cluster adds the database itself."""
    if at >= len(toks) or toks[at].kind not in ("word", "quoted"):
        raise ClusterDdlError("a table name was expected", near=context[:120])
    if at + 1 < len(toks) and toks[at + 1].text == ".":
        raise ClusterDdlError("migrations name tables without their database", near=context[:120])
    return toks[at]


def _depths(toks: list[Token]) -> Iterator[tuple[int, Token]]:
    depth = 0
    for token in toks:
        if token.text == ")":
            depth -= 1
        yield depth, token
        if token.text == "(":
            depth += 1


def _find_top_level(toks: list[Token], word: str) -> int | None:
    for index, (depth, token) in enumerate(_depths(toks)):
        if depth == 0 and token.upper == word:
            return index
    return None


def _closing(toks: list[Token], opening: int) -> int:
    depth = 0
    for index in range(opening, len(toks)):
        if toks[index].text == "(":
            depth += 1
        elif toks[index].text == ")":
            depth -= 1
            if depth == 0:
                return index
    raise ClusterDdlError("unbalanced parentheses", near=toks[opening].text)


def _changes_columns(command: list[Token]) -> bool:
    words = tuple(token.upper for token in command[:2])
    return words in _COLUMN_COMMANDS


def _split_commands(toks: list[Token]) -> list[list[Token]]:
    commands: list[list[Token]] = [[]]
    for depth, token in _depths(toks):
        if depth == 0 and token.text == ",":
            commands.append([])
        else:
            commands[-1].append(token)
    return [command for command in commands if command]


def _read_tables(toks: list[Token]) -> Iterator[Token]:
    """The tables a SELECT reads: names after FROM or JOIN (not ARRAY JOIN, not a
    subquery or table function)."""
    for index, token in enumerate(toks[:-1]):
        if token.upper == "FROM" or (
            token.upper == "JOIN" and (index == 0 or toks[index - 1].upper != "ARRAY")
        ):
            following = toks[index + 1]
            if following.kind not in ("word", "quoted"):
                continue  # a subquery
            after = toks[index + 2] if index + 2 < len(toks) else None
            if after is not None and after.text == "(":
                continue  # a table function
            if after is not None and after.text == ".":
                raise ClusterDdlError(
                    "a view reads tables without their database", near=following.text
                )
            yield following


def _string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
