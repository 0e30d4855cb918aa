"""Read-side fixtures: a seeded store, a read side on it with small limits, tokens, an endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from readside.endpoint import QueryEndpoint
from readside.session import ReadSide
from readside.settings import ReadSettings
from readside.tokens import Tokens
from sinks.enriched import ENRICHED
from sinks.settings import SinkSettings
from sinks.writer import AvroWriter
from tests.sinks.conftest import writer  # noqa: F401 - the migrated store fixture
from tests.sinks.helpers import files_of, messages

LIMITS = ReadSettings.load(environ={}, max_execution_s=2, concurrency=2, max_body_bytes=64 * 1024,
                           max_connections=8, idle_timeout_s=2.0)  # fmt: skip


@pytest.fixture
def seeded(writer: AvroWriter) -> Client:  # noqa: F811
    writer.write(ENRICHED, files_of([m.value() for m in messages(30)]), "seed")
    return writer.client


def sink_settings(client: Client, url: str) -> SinkSettings:
    return SinkSettings.load(environ={}, clickhouse_url=url, database=client.database)


@pytest.fixture(params=[True, False], ids=["checker-on", "checker-off"])
def side(request: pytest.FixtureRequest, seeded: Client, clickhouse_url: str) -> Iterator[ReadSide]:
    """A people's read side; also with the friendly checker off, so the engine alone holds."""
    made = ReadSide(seeded, sink_settings(seeded, clickhouse_url), LIMITS,
                    early_check=request.param)  # fmt: skip
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    made = Tokens(tmp_path / "tokens.json")
    made.ensure("alice")
    return made


@pytest.fixture
def endpoint(side: ReadSide, tokens: Tokens) -> Iterator[QueryEndpoint]:
    served = QueryEndpoint(side, tokens, LIMITS, 0).start()
    try:
        yield served
    finally:
        served.stop()


def access_rows(client: Client) -> list[dict[str, object]]:
    result = client.query(
        "SELECT * FROM audit_events WHERE event_type = 'AUDIT_ACCESS' ORDER BY seq"
    )
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]
