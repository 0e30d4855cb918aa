"""Sink fixtures: a migrated test database with the Avro writer on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clickhouse_connect.driver.client import Client

from sinks.migrate import apply_migrations
from sinks.writer import AvroWriter


@pytest.fixture
def writer(clickhouse: Client, clickhouse_url: str) -> Iterator[AvroWriter]:
    """The audit tables migrated in this test's database, and a writer on them."""
    apply_migrations(clickhouse)
    made = AvroWriter(clickhouse, clickhouse_url, parse_threads=2)
    try:
        yield made
    finally:
        made.close()
