"""``mcp-audit query "<SQL>"``: read-only SQL on the audit store; the access is audited."""

from __future__ import annotations

import argparse
import sys

from sinks.operator import OperatorSession
from sinks.readonly import check_read_only, endpoint_client, run_read_only
from sinks.render import FORMATS, render
from sinks.settings import SinkSettings

NAME = "query"
HELP = "run one read-only SQL statement on the audit store (writes and DDL are refused)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sql", help="one SELECT, WITH, SHOW, DESCRIBE or EXPLAIN statement")
    parser.add_argument("--format", choices=FORMATS, default="table")


def run(args: argparse.Namespace) -> int:
    statement = check_read_only(args.sql)
    settings = SinkSettings.load()
    if settings.query_endpoint:  # a running sink owns the store: it reads and audits
        columns, rows = run_read_only(endpoint_client(settings), statement)
    else:
        with OperatorSession(settings) as session:
            session.audit("query", sql=statement[:2000])
            columns, rows = run_read_only(session.read_only(), statement)
    sys.stdout.write(render(columns, rows, args.format))
    return 0
