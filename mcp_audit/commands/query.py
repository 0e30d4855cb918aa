"""``mcp-audit query "<SQL>"``: one read-only statement on the audit store, audited."""

from __future__ import annotations

import argparse
import sys

from mcp_audit.settings import PlatformSettings
from readside.guard import check_read_only
from readside.remote import endpoint_query
from readside.render import FORMATS, render
from readside.session import open_read_side
from readside.settings import ReadSettings
from sinks.clickhouse import is_embedded
from sinks.settings import SinkSettings

NAME = "query"
HELP = "run one read-only SQL statement on the audit store (writes and DDL are refused)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sql", help="one SELECT or WITH statement, SHOW TABLES or DESCRIBE")
    parser.add_argument("--format", choices=FORMATS, default="table")


def run(args: argparse.Namespace) -> int:
    statement = check_read_only(args.sql)
    sink, read, platform = SinkSettings.load(), ReadSettings.load(), PlatformSettings.load()
    answer = None
    if is_embedded(sink.clickhouse_url) and (read.endpoint or read.port):
        url = read.endpoint or f"http://127.0.0.1:{read.port}"
        tokens = read.token_file
        if "token_file" not in read.model_fields_set:  # up keeps it in its data directory
            tokens = platform.data_dir / "read-tokens.json"
        answer = endpoint_query(url, tokens, statement, required=bool(read.endpoint))
    if answer is None:  # no `up` owns the store: this process opens it
        with open_read_side(sink) as session:
            answer = session.query(statement)
    sys.stdout.write(render(*answer, args.format))
    return 0
