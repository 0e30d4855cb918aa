"""``mcp-audit query "<SQL>"``: read-only SQL on the audit store; the access is audited."""

from __future__ import annotations

import argparse
import socket
import sys

from mcp_audit.settings import PlatformSettings
from sinks.clickhouse import is_embedded
from sinks.operator import OperatorSession
from sinks.readonly import check_read_only, endpoint_client, run_read_only
from sinks.render import FORMATS, render
from sinks.settings import SinkSettings

NAME = "query"
HELP = "run one read-only SQL statement on the audit store (writes and DDL are refused)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sql", help="one SELECT, WITH, SHOW, DESCRIBE or EXPLAIN statement")
    parser.add_argument("--format", choices=FORMATS, default="table")


def _running_pipeline(settings: SinkSettings) -> SinkSettings:
    """With no endpoint named and the embedded store, use a running ``mcp-audit up``'s
    endpoint if one answers: its process owns the store (chDB allows one)."""
    port = PlatformSettings.load().query_port
    if settings.query_endpoint or not is_embedded(settings.clickhouse_url) or not port:
        return settings
    with socket.socket() as probe:
        probe.settimeout(0.3)
        if probe.connect_ex(("127.0.0.1", port)) != 0:
            return settings
    return settings.model_copy(update={"query_endpoint": f"http://127.0.0.1:{port}"})


def run(args: argparse.Namespace) -> int:
    statement = check_read_only(args.sql)
    settings = _running_pipeline(SinkSettings.load())
    if settings.query_endpoint:  # a running sink owns the store: it reads and audits
        columns, rows = run_read_only(endpoint_client(settings), statement)
    else:
        with OperatorSession(settings) as session:
            session.audit("query", sql=statement[:2000])
            columns, rows = run_read_only(session.read_only(), statement)
    sys.stdout.write(render(columns, rows, args.format))
    return 0
