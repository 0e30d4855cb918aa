"""Migrations apply once, in order, are recorded, and refuse edited history."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.client import Client

from sinks.errors import MigrationError
from sinks.migrate import apply_migrations, available

pytestmark = pytest.mark.clickhouse


def test_applies_every_migration_once_and_records_it(clickhouse: Client) -> None:
    versions = [m.version for m in available()]

    assert apply_migrations(clickhouse) == versions
    assert apply_migrations(clickhouse) == []

    recorded = clickhouse.query("SELECT version FROM schema_migrations ORDER BY version")
    assert [row[0] for row in recorded.result_rows] == versions
    tables = {row[0] for row in clickhouse.query("SHOW TABLES").result_rows}
    assert {"audit_events", "audit_alerts", "legal_holds", "calls_hourly"} <= tables


def test_versions_are_unique_and_statements_split(clickhouse: Client) -> None:
    migrations = available()
    assert len({m.version for m in migrations}) == len(migrations)
    assert all(m.statements() for m in migrations)
    assert not any(s.endswith(";") for m in migrations for s in m.statements())


def test_an_edited_applied_migration_is_refused(clickhouse: Client) -> None:
    apply_migrations(clickhouse)
    clickhouse.command(
        "ALTER TABLE schema_migrations UPDATE checksum = 'x' WHERE version = 1",
        settings={"mutations_sync": 2},
    )
    clickhouse.command("OPTIMIZE TABLE schema_migrations FINAL")

    with pytest.raises(MigrationError):
        apply_migrations(clickhouse)


def test_half_applied_migration_completes_on_rerun(clickhouse: Client) -> None:
    first = available()[0]
    clickhouse.command(first.statements()[0])  # as if the process died after one statement

    apply_migrations(clickhouse)

    assert clickhouse.query("SELECT count() FROM schema_migrations").result_rows[0][0] == len(
        available()
    )
