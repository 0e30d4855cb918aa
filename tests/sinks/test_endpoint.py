"""The loopback endpoint serves read-only queries to a real clickhouse-connect HTTP client."""

from __future__ import annotations

from collections.abc import Iterator

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from sinks.endpoint import QueryEndpoint
from sinks.enriched import ENRICHED
from sinks.readonly import read_only_client
from sinks.writer import AvroWriter
from tests.sinks.helpers import files_of, messages

pytestmark = pytest.mark.clickhouse


@pytest.fixture
def endpoint(
    writer: AvroWriter, clickhouse: Client, clickhouse_url: str
) -> Iterator[QueryEndpoint]:
    writer.write(ENRICHED, files_of([m.value() for m in messages(30)]), "seed")
    served = QueryEndpoint(read_only_client(clickhouse_url, clickhouse.database, 2), writer, 0)
    served.start()
    try:
        yield served
    finally:
        served.stop()


def test_http_client_reads_and_each_query_is_audited(
    endpoint: QueryEndpoint, clickhouse: Client
) -> None:
    remote = clickhouse_connect.get_client(host="127.0.0.1", port=endpoint.port, username="bob")
    sql = "SELECT count() FROM audit_events WHERE user_id = {user:String}"
    assert remote.query(sql, parameters={"user": f"{1:064x}"}).result_rows == [(5,)]

    audited = clickhouse.query(
        "SELECT attributes FROM audit_events WHERE event_type = 'AUDIT_ACCESS'"
    ).result_rows
    assert [row[0]["operator"] for row in audited] == ["bob"]
    assert "audit_events" in audited[0][0]["sql"]


def test_writes_through_the_endpoint_are_refused(
    endpoint: QueryEndpoint, clickhouse: Client
) -> None:
    remote = clickhouse_connect.get_client(host="127.0.0.1", port=endpoint.port)
    with pytest.raises(DatabaseError):
        remote.command("ALTER TABLE audit_events DELETE WHERE 1")
    with pytest.raises(DatabaseError):
        remote.query("SELECT 1 SETTINGS readonly = 0")
    counts = clickhouse.query(
        "SELECT countIf(event_type != 'AUDIT_ACCESS'), countIf(event_type = 'AUDIT_ACCESS')"
        " FROM audit_events"
    ).result_rows
    assert counts == [(30, 1)]  # nothing deleted; the attempt that reached ClickHouse recorded
