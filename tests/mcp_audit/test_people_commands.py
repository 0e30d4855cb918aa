"""People's commands end to end through the CLI on real chDB: read-only query, erase, export,
retention, holds; each use leaves an AUDIT_ACCESS row in a verifiable chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from mcp_audit.cli import main
from readside.endpoint import QueryEndpoint
from readside.session import ReadSide
from readside.settings import ReadSettings
from readside.subjects import pseudonym
from readside.tokens import Tokens, current_user
from schemas.integrity import chain_hash
from sinks.enriched import ENRICHED
from sinks.migrate import apply_migrations
from sinks.settings import SinkSettings
from sinks.writer import AvroWriter
from tests.readside.test_subjects import as_event, chain
from tests.sinks.helpers import files_of, messages

pytestmark = pytest.mark.clickhouse
KEY = "k3y"


@pytest.fixture
def store(
    clickhouse: Client, clickhouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Client]:
    apply_migrations(clickhouse)
    writer = AvroWriter(clickhouse, clickhouse_url)
    writer.write(ENRICHED, files_of([m.value() for m in messages(21)]), "seed")
    writer.close()
    for name, value in {
        "CLICKHOUSE_URL": clickhouse_url, "DATABASE": clickhouse.database,
        "PSEUDONYM_KEY": KEY,
    }.items():  # fmt: skip
        monkeypatch.setenv(f"MCP_AUDIT_SINK_{name}", value)
    monkeypatch.setenv("MCP_AUDIT_READ_PORT", "0")  # no `up` to ask: open the store directly
    yield clickhouse


def access_rows(client: Client) -> list[dict[str, object]]:
    result = client.query(
        "SELECT * FROM audit_events WHERE event_type = 'AUDIT_ACCESS' ORDER BY seq"
    )
    return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]


def test_query_prints_rows_and_is_audited(
    store: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = "SELECT tool_name, count() AS n FROM audit_events WHERE server_id = 'files' GROUP BY 1"
    assert main(["query", sql, "--format", "json"]) == 0

    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed == [{"tool_name": "read_file", "n": 21}]
    (access,) = access_rows(store)
    assert access["attributes"] == {
        "operator": current_user(), "action": "query", "sql": sql, "via": "cli", "rows": "1",
        "sql_sha256": hashlib.sha256(sql.encode()).hexdigest(),
    }  # fmt: skip
    assert chain_hash("", as_event(access)) == access["hash"]


def test_writes_are_refused_with_a_clear_error(
    store: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["query", "ALTER TABLE audit_events DELETE WHERE 1"]) == 2

    assert "only reading statements are allowed" in capsys.readouterr().err
    assert store.query("SELECT count() FROM audit_events").result_rows[0][0] == 21  # refused early


def test_erase_then_export(
    store: Client, clickhouse_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    subject = pseudonym("user-3", KEY.encode())
    writer = AvroWriter(store, clickhouse_url)
    writer.write(ENRICHED, files_of(chain(subject, 3)), "subject")
    writer.close()
    assert main(["erase", "--subject", "user-3"]) == 0
    assert main(["export", "--pseudonym", subject]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"erased personal values of {subject} in 3 rows"
    exported = [json.loads(line) for line in lines[1:]]
    assert len(exported) == 3 and {(row["ip"], row["user_id"]) for row in exported} == {
        ("", subject)
    }
    erase_row, export_row = access_rows(store)
    assert export_row["prev_hash"] == erase_row["hash"]  # the access stream is chained
    assert erase_row["attributes"]["subject"] == subject  # type: ignore[index]


def test_retention_and_holds(store: Client, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["retention"]) == 0
    report = capsys.readouterr().out
    assert "HIGH" in report and "2190" in report

    assert main(["hold", "place", "--server", "files"]) == 0
    hold_id = capsys.readouterr().out.split()[-1]
    assert store.query("SELECT countIf(legal_hold) FROM audit_events").result_rows[0][0] == 21
    assert main(["hold", "list"]) == 0
    assert hold_id in capsys.readouterr().out
    assert main(["hold", "release", hold_id]) == 0
    assert store.query("SELECT countIf(legal_hold) FROM audit_events").result_rows[0][0] == 0


def test_query_goes_through_a_running_sinks_endpoint(
    store: Client,
    clickhouse_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    tokens = Tokens(tmp_path / "tokens.json")
    tokens.ensure()  # as `up` does for the user running it
    limits = ReadSettings.load(environ={})
    side = ReadSide(store, SinkSettings.load(), limits)
    endpoint = QueryEndpoint(side, tokens, limits, 0).start()
    try:
        monkeypatch.setenv("MCP_AUDIT_READ_ENDPOINT", f"http://127.0.0.1:{endpoint.port}")
        monkeypatch.setenv("MCP_AUDIT_READ_TOKEN_FILE", str(tokens.path))
        assert main(["query", "SELECT count() AS n FROM audit_events", "--format", "csv"]) == 0
    finally:
        endpoint.stop()
        side.close()

    recorded = access_rows(store)  # the client's connection probes too: every request is
    # 21 events and the access rows recorded before this query answered (its own comes after)
    assert capsys.readouterr().out == f"n\n{21 + len(recorded) - 1}\n"
    assert {r["attributes"]["via"] for r in recorded} == {"endpoint"}  # type: ignore[index]
    assert {r["attributes"]["operator"] for r in recorded} == {current_user()}  # type: ignore[index]
