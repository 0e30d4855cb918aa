"""Cluster mode's DDL, for every migration: parsed by ClickHouse, checked for its structure.

No ClickHouse cluster (or Keeper) runs here, so the checks are of the text: chDB's
own parser formats every generated statement (``formatQuery``), and the checks
below read that canonical form, not the rewriter's tokens: ON CLUSTER on every
DDL, Replicated engines, a Distributed twin per local table with the sharding key
the design asks for, views from local tables to local tables. Then the cluster
DDL runs on chDB configured as a one-shard cluster (a subprocess: chDB takes one
data directory per process), with the two things only Keeper can do removed
(ON CLUSTER, the Replicated engines), and rows flow through it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from readside.holds import new_hold, place
from readside.subjects import erase
from schemas.errors import ConfigError
from sinks.clickhouse import connect
from sinks.cluster import (
    REPLICA_NAME,
    REPLICA_PATH,
    SINGLE_NODE,
    ClusterDdlError,
    ClusterLayout,
    layout_for,
)
from sinks.enriched import ENRICHED
from sinks.errors import MigrationError
from sinks.migrate import _LEDGER_DDL, Migration, apply_migrations, available
from sinks.sealing import sealer_from_settings
from sinks.settings import SinkSettings
from sinks.tables import ERASABLE
from sinks.writer import AvroWriter
from tests.sinks.helpers import files_of, messages

CLUSTER, DATABASE = "mcp_audit_cluster", "mcp_audit"
REPO = Path(__file__).resolve().parents[2]
LAYOUT = ClusterLayout(CLUSTER, DATABASE)
COLUMN_COMMANDS = re.compile(r"^\(?(ADD|DROP|MODIFY|RENAME|COMMENT) COLUMN\b")


def cluster_statements(migration: Migration) -> list[str]:
    return [out for statement in migration.statements() for out in LAYOUT.rewrite(statement)]


def canonical(client: Client, statement: str) -> str:
    """The statement as ClickHouse's parser reads it (raises if it does not parse)."""
    result = client.query("SELECT formatQuery({q:String})", parameters={"q": statement})
    return str(result.result_rows[0][0])


# -- the structural oracle, on canonical text -----------------------------------


@dataclass
class Table:
    name: str
    engine: str
    args: str
    columns: list[str]
    order_by: str
    copies: str | None


@dataclass
class Catalog:
    """What a sequence of canonical cluster statements creates, and what is wrong with it."""

    cluster: str
    database: str
    tables: dict[str, Table] = field(default_factory=dict)
    views: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def read(self, statement: str) -> None:
        first = statement.splitlines()[0]
        if first.startswith("INSERT"):
            return
        if f" ON CLUSTER {self.cluster}" not in first:
            self.problems.append(f"no ON CLUSTER: {first}")
        if first.startswith("CREATE TABLE"):
            self._table(statement, first)
        elif first.startswith("CREATE MATERIALIZED VIEW"):
            self._view(statement, first)
        elif first.startswith("ALTER TABLE"):
            self._alter(statement, first)
        elif first.startswith(("TRUNCATE", "OPTIMIZE")) and not _named(
            first, r"(?:TRUNCATE|OPTIMIZE) TABLE"
        ).endswith("_local"):
            self.problems.append(f"data statement on a Distributed table: {first}")

    def _table(self, statement: str, first: str) -> None:
        name = _named(first, "CREATE TABLE")
        copies = re.search(r" AS (\w+)$", first)
        engine = re.search(r"^ENGINE = `?(\w+)`?(?:\((.*)\))?$", statement, re.MULTILINE)
        order = re.search(r"^ORDER BY (.*)$", statement, re.MULTILINE)
        columns = re.findall(r"^    `(\w+)` ", statement, re.MULTILINE)
        if engine is None:
            self.problems.append(f"no engine: {first}")
            return
        table = Table(
            name,
            engine[1],
            engine[2] or "",
            columns,
            order[1] if order else "",
            copies[1] if copies else None,
        )
        self.tables[name] = table
        if "MergeTree" in table.engine:
            replicated_args = f"'{REPLICA_PATH}', '{REPLICA_NAME}'"
            if not table.engine.startswith("Replicated"):
                self.problems.append(f"not replicated: {name} {table.engine}")
            elif not table.args.startswith(replicated_args):
                self.problems.append(f"replica path/name not the macros': {name}")
        if (table.engine == "Distributed") == name.endswith("_local"):
            self.problems.append(f"a local table must store, its twin distribute: {name}")

    def _view(self, statement: str, first: str) -> None:
        name = _named(first, "CREATE MATERIALIZED VIEW")
        target = re.search(r" TO (\w+)$", first)
        reads = re.findall(r"(?<!ARRAY )\b(?:FROM|JOIN)\s+(\w+)\b(?!\s*\()", statement)
        if target is None:
            self.problems.append(f"view without TO table: {name}")
            return
        self.views[name] = (target[1], reads)
        for table in [target[1], *reads]:
            if not table.endswith("_local") or table not in self.tables:
                self.problems.append(f"view {name} does not go local to local: {table}")

    def _alter(self, statement: str, first: str) -> None:
        name = _named(first, "ALTER TABLE")
        if name.endswith("_local"):
            return
        commands = [line.strip() for line in statement.splitlines()[1:]]
        if not all(COLUMN_COMMANDS.match(command) for command in commands):
            self.problems.append(f"storage ALTER on a Distributed table: {name}")

    def check_twins(self) -> None:
        for name, table in self.tables.items():
            if not name.endswith("_local"):
                continue
            twin = self.tables.get(name.removesuffix("_local"))
            if twin is None or twin.engine != "Distributed":
                self.problems.append(f"no Distributed twin: {name}")
                continue
            args = [arg.strip() for arg in twin.args.split(",", 3)]
            expected = [self.cluster, f"'{self.database}'", f"'{name}'"]
            if args[:3] != expected or twin.copies != name:
                self.problems.append(f"twin of {name} is not over it: {twin.args}")
                continue
            self._check_key(table, args[3] if len(args) > 3 else "")

    def _check_key(self, table: Table, key: str) -> None:
        """A table that has users shards by user (their trail on one shard); any other
        by columns of its sorting key (versions of a row meet in one shard's merges)."""
        source = self.tables.get(table.copies or "", table)
        if "user_id" in source.columns:
            if key != "cityHash64(user_id)":
                self.problems.append(f"{table.name} has users but shards by {key!r}")
        elif not key or not set(re.findall(r"\b[a-z_]+\b", key)) - {"cityhash64"} <= set(
            re.findall(r"\b[a-z_]+\b", source.order_by)
        ):
            self.problems.append(f"{table.name} shards by {key!r}, not by its key")


def _named(first: str, prefix: str) -> str:
    found = re.match(prefix + r" (?:IF (?:NOT )?EXISTS )?(\w+)", first)
    assert found is not None, first
    return found[1]


@pytest.fixture(scope="module")
def every_cluster_statement(clickhouse_url: str) -> list[str]:
    """The ledger's and every migration's cluster statements, as ClickHouse parses them
    (a statement that does not parse fails here)."""
    statements = LAYOUT.rewrite(_LEDGER_DDL)
    for migration in available():
        statements += cluster_statements(migration)
    client = connect(clickhouse_url)
    return [canonical(client, statement) for statement in statements]


def catalog_of(statements: list[str]) -> Catalog:
    catalog = Catalog(CLUSTER, DATABASE)
    for statement in statements:
        catalog.read(statement)
    catalog.check_twins()
    return catalog


# -- tests ----------------------------------------------------------------------


def test_single_node_statements_are_the_files_own() -> None:
    for migration in available():
        for statement in migration.statements():
            assert SINGLE_NODE.rewrite(statement) == [statement]
    assert SINGLE_NODE.setup() == []
    assert not SINGLE_NODE.settings


class Recording:
    """The client the runner is given, recording what it sends (and sending it)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.commands: list[tuple[str, Any]] = []

    def command(self, sql: str, settings: Any = None, **kwargs: Any) -> Any:
        self.commands.append((sql, settings))
        return self.client.command(sql, settings=settings, **kwargs)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self.client.query(*args, **kwargs)

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        return self.client.insert(*args, **kwargs)


@pytest.mark.clickhouse
def test_single_node_runs_today_s_statements_byte_for_byte(clickhouse: Client) -> None:
    recording = Recording(clickhouse)

    apply_migrations(recording)  # type: ignore[arg-type]

    expected = [_LEDGER_DDL] + [s for m in available() for s in m.statements()]
    assert [sql for sql, _ in recording.commands] == expected
    assert all(settings is None for _, settings in recording.commands)


@pytest.mark.clickhouse
def test_every_cluster_statement_parses_and_has_the_cluster_structure(
    every_cluster_statement: list[str],
) -> None:
    catalog = catalog_of(every_cluster_statement)

    assert catalog.problems == []
    single_node = {
        name
        for migration in available()
        for statement in migration.statements()
        if (name := _created_table(statement))
    } | {"schema_migrations"}
    distributed = {n for n, t in catalog.tables.items() if t.engine == "Distributed"}
    assert distributed == single_node
    assert catalog.tables["audit_events_local"].engine == "ReplicatedReplacingMergeTree"
    assert catalog.tables["events_first_local"].engine == "ReplicatedCollapsingMergeTree"
    assert catalog.tables["audit_events_incoming_local"].engine == "Null"
    # The sink writes incoming; its view stores on the same shard audit_events reads.
    assert catalog.tables["audit_events_incoming"].args == catalog.tables[
        "audit_events"
    ].args.replace("audit_events_local", "audit_events_incoming_local")
    assert catalog.views["audit_events_first_mv"][0] == "audit_events_local"
    assert set(catalog.views["events_first_mv"][1]) == {"audit_events_local", "events_first_local"}


@pytest.mark.clickhouse
def test_every_single_node_statement_parses(clickhouse: Client) -> None:
    for migration in available():
        for statement in migration.statements():
            canonical(clickhouse, statement)


def _created_table(statement: str) -> str | None:
    found = re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", statement)
    return found[1] if found else None


BROKEN = {
    "no ON CLUSTER": (" ON CLUSTER mcp_audit_cluster", ""),
    "not replicated": (
        "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}',"
        " '{replica}', enriched_time)",
        "ReplacingMergeTree(enriched_time)",
    ),
    "sharded at random": (
        "'audit_events_local', cityHash64(user_id)",
        "'audit_events_local', rand()",
    ),
    "view reads the Distributed table": ("FROM audit_events_local", "FROM audit_events"),
    "storage ALTER on the twin": (
        "ALTER TABLE audit_events_local ON",
        "ALTER TABLE audit_events ON",
    ),
    "truncates the twin": ("TRUNCATE TABLE events_first_local", "TRUNCATE TABLE events_first"),
}


@pytest.mark.clickhouse
@pytest.mark.parametrize("fault", sorted(BROKEN))
def test_the_oracle_catches_a_forgetful_migration(
    every_cluster_statement: list[str], fault: str
) -> None:
    old, new = BROKEN[fault]
    broken = [statement.replace(old, new, 1) for statement in every_cluster_statement]
    assert broken != every_cluster_statement

    assert catalog_of(broken).problems


@pytest.mark.clickhouse
def test_the_oracle_catches_a_missing_twin(every_cluster_statement: list[str]) -> None:
    without = [s for s in every_cluster_statement if "Distributed(" not in s]

    assert any("no Distributed twin" in p for p in catalog_of(without).problems)


REFUSED = {
    "a table with no sharding key": "CREATE TABLE IF NOT EXISTS new_table (a UInt8)"
    " ENGINE = MergeTree ORDER BY a",
    "a view without a TO table": "CREATE MATERIALIZED VIEW v ENGINE = MergeTree ORDER BY a"
    " AS SELECT 1 AS a FROM audit_events",
    "a view reading an unknown table": "CREATE MATERIALIZED VIEW v TO calls_hourly AS"
    " SELECT * FROM somewhere_else",
    "an ALTER of columns and storage": "ALTER TABLE audit_events ADD COLUMN x UInt8,"
    " MODIFY SETTING min_bytes_for_wide_part = 1",
    "a qualified name": "ALTER TABLE other.audit_events ADD COLUMN x UInt8",
    "an engine with no cluster form": "CREATE TABLE IF NOT EXISTS audit_events (a UInt8)"
    " ENGINE = Memory",
    "an already replicated engine": "CREATE TABLE IF NOT EXISTS audit_events (a UInt8)"
    " ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY a",
    "a statement it does not know": "RENAME TABLE audit_events TO audit_events_old",
    "a table copied from an unknown one": "CREATE TABLE IF NOT EXISTS audit_events"
    " AS elsewhere ENGINE = Null",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_the_layout_cannot_place_is_refused(case: str) -> None:
    with pytest.raises(ClusterDdlError):
        LAYOUT.rewrite(REFUSED[case])


def test_a_refused_statement_stops_its_migration_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sent: list[str] = []

    # A stand-in store: the cluster ledger's own DDL (ON CLUSTER) cannot run on chDB in
    # this process, and what matters is only what the runner sends.
    class Ledger:
        def command(self, sql: str, **_: Any) -> None:
            sent.append(sql)

        def query(self, sql: str, **_: Any) -> Any:
            return type("Result", (), {"result_rows": []})()

    bad = Migration(
        999,
        "forgot_the_key",
        "ALTER TABLE audit_events ADD COLUMN x UInt8;\n"
        "CREATE TABLE IF NOT EXISTS brand_new (a UInt8) ENGINE = MergeTree ORDER BY a;\n",
    )
    monkeypatch.setattr("sinks.migrate.available", lambda: [bad])

    with pytest.raises(ClusterDdlError) as refused:
        apply_migrations(Ledger(), layout=LAYOUT)  # type: ignore[arg-type]

    assert refused.value.fields["table"] == "brand_new"
    assert not any("audit_events" in sql for sql in sent)  # the good first statement did not run


def test_strings_and_comments_are_never_rewritten() -> None:
    out = LAYOUT.rewrite(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS v TO calls_hourly AS\n"
        "-- FROM audit_events in a comment\n"
        "SELECT 'FROM audit_events' AS s, x FROM audit_events AS e ARRAY JOIN arr AS x"
    )

    assert out == [
        "CREATE MATERIALIZED VIEW IF NOT EXISTS v ON CLUSTER mcp_audit_cluster"
        " TO calls_hourly_local AS\n-- FROM audit_events in a comment\n"
        "SELECT 'FROM audit_events' AS s, x FROM audit_events_local AS e ARRAY JOIN arr AS x"
    ]


# Statements made outside the migrations: erasure and legal holds (readside/subjects.py,
# readside/holds.py) mutate, the report's advice optimizes. Through a Distributed table
# ClickHouse refuses both; through the layout they reach every shard's stored rows.
OUTSIDE = {
    "ALTER TABLE audit_events UPDATE session_id = '' WHERE user_id = {s:String}": [
        "ALTER TABLE audit_events_local ON CLUSTER mcp_audit_cluster"
        " UPDATE session_id = '' WHERE user_id = {s:String}"
    ],
    "ALTER TABLE audit_alerts UPDATE legal_hold = true WHERE alert_time >= {start:DateTime64(6)}": [
        "ALTER TABLE audit_alerts_local ON CLUSTER mcp_audit_cluster"
        " UPDATE legal_hold = true WHERE alert_time >= {start:DateTime64(6)}"
    ],
    "OPTIMIZE TABLE audit_events FINAL": [
        "OPTIMIZE TABLE audit_events_local ON CLUSTER mcp_audit_cluster FINAL"
    ],
    "DROP TABLE IF EXISTS retention_periods": [
        "DROP TABLE IF EXISTS retention_periods ON CLUSTER mcp_audit_cluster",
        "DROP TABLE IF EXISTS retention_periods_local ON CLUSTER mcp_audit_cluster",
    ],
}


@pytest.mark.parametrize("statement", sorted(OUTSIDE))
def test_mutations_and_optimize_run_on_the_local_tables(statement: str) -> None:
    assert LAYOUT.rewrite(statement) == OUTSIDE[statement]


NOT_IDENTIFIERS = ["", "1cluster", "a-b", "a b", "c;DROP TABLE x", "c ON CLUSTER d", "é"]


@pytest.mark.parametrize("name", [*NOT_IDENTIFIERS, "x" * 65])
def test_the_cluster_setting_is_a_plain_identifier(name: str) -> None:
    with pytest.raises(ConfigError):
        SinkSettings.load({"MCP_AUDIT_SINK_CLUSTER": name})


@pytest.mark.parametrize("name", NOT_IDENTIFIERS)
def test_the_layout_takes_only_a_plain_identifier(name: str) -> None:
    with pytest.raises(ClusterDdlError):
        ClusterLayout(name, DATABASE)


def test_the_cluster_setting_selects_the_layout() -> None:
    assert layout_for(SinkSettings.load({})) is SINGLE_NODE
    layout = layout_for(SinkSettings.load({"MCP_AUDIT_SINK_CLUSTER": "prod_1"}))
    assert isinstance(layout, ClusterLayout) and layout.cluster == "prod_1"


# -- the cluster DDL run on a one-shard chDB cluster ------------------------------

ONE_SHARD_CONFIG = """<clickhouse>
  <tcp_port>19000</tcp_port>
  <remote_servers><one><shard><replica><host>localhost</host><port>19000</port></replica>
  </shard></one></remote_servers>
  <macros><shard>01</shard><replica>r1</replica></macros>
</clickhouse>
"""
_ON_CLUSTER = re.compile(r" ON CLUSTER \w+")
_REPLICATED = re.compile(
    r"\bReplicated(\w*MergeTree)\(" + re.escape(f"'{REPLICA_PATH}', '{REPLICA_NAME}'") + r"(, )?"
)


class WithoutKeeper:
    """Runs cluster DDL on chDB, which has no Keeper: without ON CLUSTER (one node) and
    with the Replicated engines' plain counterparts. Everything else runs as generated."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def command(self, sql: str, **kwargs: Any) -> Any:
        return self.client.command(_REPLICATED.sub(r"\1(", _ON_CLUSTER.sub("", sql)), **kwargs)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self.client.query(*args, **kwargs)

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        return self.client.insert(*args, **kwargs)


def one_shard_main(path: str, config: str) -> None:
    """In a process of its own: the cluster migrations on a one-shard chDB cluster."""
    import clickhouse_connect

    client = clickhouse_connect.get_client(
        interface="chdb", path=path, chdb_options={"config-file": config}
    )
    client.command(f"CREATE DATABASE IF NOT EXISTS {DATABASE}")
    client.database = DATABASE
    store = WithoutKeeper(client)
    layout = ClusterLayout("one", DATABASE)
    first = apply_migrations(store, layout=layout)  # type: ignore[arg-type]
    again = apply_migrations(store, layout=layout)  # type: ignore[arg-type]
    # The sink's own writer, through audit_events_incoming (Distributed, then Null, then
    # the keep-first view into audit_events_local): 7 users, 10 events each.
    writer = AvroWriter(client, f"chdb://{path}", parse_threads=2)
    try:
        writer.write(ENRICHED, files_of([m.value() for m in messages(70)]), "one-shard")
    finally:
        writer.close()
    counts = {
        name: client.query(sql).result_rows[0][0]
        for name, sql in {
            "audit_events": "SELECT count() FROM audit_events FINAL",
            "audit_events_local": "SELECT count() FROM audit_events_local",
            "events_first": "SELECT sum(sign) FROM events_first",
            "events_hourly": "SELECT sum(events) FROM events_hourly",
            "calls_hourly": "SELECT sum(calls) FROM calls_hourly",
            "user_activity_daily": "SELECT sum(events) FROM user_activity_daily",
            "per_user": "SELECT uniqExact(user_id) * 10 FROM audit_events",
            # An IN subquery on a Distributed table inside a query on another, as the
            # legal-hold predicates read (deploy/clickhouse/cluster/users.xml).
            "not_held": "SELECT count() FROM audit_events WHERE user_id NOT IN"
            " (SELECT value FROM legal_holds FINAL WHERE active AND kind = 'subject')",
        }.items()
    }
    # Erasure and a legal hold, by the read side's own functions in the cluster layout:
    # their mutations must reach the local tables (a Distributed table refuses them).
    two = "SELECT DISTINCT user_id FROM audit_events ORDER BY user_id LIMIT 2"
    kept, erased = (row[0] for row in client.query(two).result_rows)
    place(store, new_hold("subject", kept), "legal", layout)  # type: ignore[arg-type]
    erase(store, erased, "dpo", layout)  # type: ignore[arg-type]
    people = {}
    people["held"] = client.query(
        "SELECT countIf(legal_hold) FROM audit_events WHERE user_id = {u:String}",
        parameters={"u": kept},
    ).result_rows[0][0]
    cleared = " AND ".join(f"{c} = {e}" for c, e in ERASABLE["audit_events"].items())
    people["erased"] = client.query(
        f"SELECT countIf({cleared}) FROM audit_events WHERE user_id = {{u:String}}",
        parameters={"u": erased},
    ).result_rows[0][0]
    try:
        apply_migrations(client)
        refused = ""
    except MigrationError as exc:
        refused = exc.message
    print(json.dumps({"first": first, "again": again, "counts": counts, "refused": refused,
                      "people": people}))  # fmt: skip


@pytest.mark.clickhouse
def test_the_cluster_migrations_run_and_carry_rows_on_a_one_shard_cluster(tmp_path: Path) -> None:
    config = tmp_path / "config.xml"
    config.write_text(ONE_SHARD_CONFIG)
    code = (
        "import sys; from tests.sinks.test_cluster_ddl import one_shard_main;"
        " one_shard_main(sys.argv[1], sys.argv[2])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "store"), str(config)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["first"] == [m.version for m in available()]
    assert result["again"] == []
    assert set(result["counts"].values()) == {70}, result["counts"]
    assert "another layout" in result["refused"]
    assert result["people"] == {"held": 10, "erased": 10}  # each user's 10 rows


def test_the_sealer_refuses_cluster_mode_instead_of_sealing_nothing(tmp_path: Path) -> None:
    settings = SinkSettings.load(environ={}, cluster="c", clickhouse_url=f"chdb://{tmp_path}")
    with pytest.raises(ConfigError, match="cluster mode"):
        sealer_from_settings(None, settings, None)  # type: ignore[arg-type]
