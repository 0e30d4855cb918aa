"""Versioned DDL migrations, applied in order at start and recorded in ``schema_migrations``.

Lifecycle: :func:`apply_migrations` runs before the sink or a command touches
the audit tables. Each ``migrations/NNN_name.sql`` file is applied once; its
statements are idempotent, so a run interrupted half way is simply repeated.
An applied file whose text changed is refused rather than silently diverging.

A :class:`~sinks.cluster.Layout` says what each statement becomes: as written
(single node, the default), or rewritten for a cluster (``MCP_AUDIT_SINK_CLUSTER``,
sinks/cluster.py). The ledger records the file's checksum either way; a store
set up in one layout is refused in the other.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from clickhouse_connect.driver.client import Client

from sinks.cluster import SINGLE_NODE, Layout
from sinks.errors import MigrationError

_FILE_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_LEDGER_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String,"
    " checksum String, applied_at DateTime64(6, 'UTC') DEFAULT now64(6))"
    " ENGINE = ReplacingMergeTree ORDER BY version"
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self) -> list[str]:
        """Statements end with ``;`` at the end of a line; comment lines are dropped."""
        lines = [line for line in self.sql.splitlines() if not line.lstrip().startswith("--")]
        chunks = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
        return [chunk.strip() for chunk in chunks if chunk.strip()]


def available() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    found = []
    for entry in (resources.files("sinks") / "migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda migration: migration.version)
    return found


def applied(client: Client, layout: Layout = SINGLE_NODE) -> dict[int, str]:
    """Version -> checksum of the migrations already recorded."""
    for statement in layout.setup():
        client.command(statement)
    _check_layout(client, layout)
    for statement in layout.rewrite(_LEDGER_DDL):
        client.command(statement)
    rows = client.query("SELECT version, checksum FROM schema_migrations FINAL").result_rows
    return {int(version): str(checksum) for version, checksum in rows}


def apply_migrations(
    client: Client, until: int | None = None, layout: Layout = SINGLE_NODE
) -> list[int]:
    """Apply what is missing (up to version ``until``, when given: a store as an older
    release left it, for upgrade tests); returns the versions applied by this call."""
    done = applied(client, layout)
    newly = []
    for migration in available():
        if until is not None and migration.version > until:
            break
        if migration.version in done:
            _check_unchanged(migration, done[migration.version])
            continue
        _apply(client, migration, layout)
        newly.append(migration.version)
    return newly


def _check_unchanged(migration: Migration, checksum: str) -> None:
    if checksum != migration.checksum:
        raise MigrationError(
            "an applied migration was edited; add a new one instead",
            version=migration.version,
            name=migration.name,
        )


def _check_layout(client: Client, layout: Layout) -> None:
    """Refuse a store set up in the other layout: single-node DDL on one node of a
    cluster (or the reverse) would leave tables the other nodes never see."""
    rows = client.query(
        "SELECT engine FROM system.tables"
        " WHERE database = currentDatabase() AND name = 'schema_migrations'"
    ).result_rows
    if not rows:
        return
    found = str(rows[0][0])
    if (found == "Distributed") != (layout.ledger_engine == "Distributed"):
        raise MigrationError(
            "the store was set up in another layout (MCP_AUDIT_SINK_CLUSTER)",
            ledger_engine=found,
            expected=layout.ledger_engine or "a single-node engine",
        )


def _apply(client: Client, migration: Migration, layout: Layout) -> None:
    for statement in _statements(migration, layout):
        try:
            client.command(statement, settings=layout.settings or None)
        except Exception as exc:
            raise MigrationError(
                "migration statement failed",
                version=migration.version,
                name=migration.name,
                statement=statement[:200],
            ) from exc
    client.insert(
        "schema_migrations",
        [(migration.version, migration.name, migration.checksum)],
        column_names=["version", "name", "checksum"],
        settings=layout.settings or None,
    )


def _statements(migration: Migration, layout: Layout) -> list[str]:
    """What the migration runs in this layout; refuses (ClusterDdlError) before running
    any of them if one statement has no form in it."""
    return [out for statement in migration.statements() for out in layout.rewrite(statement)]
