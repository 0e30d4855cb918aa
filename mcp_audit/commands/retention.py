"""``mcp-audit retention``: per classification, the period, the oldest row and what expires when."""

from __future__ import annotations

import argparse
import sys

from sinks.operator import OperatorSession
from sinks.render import FORMATS, render
from sinks.retention import retention_report
from sinks.settings import SinkSettings

NAME = "retention"
HELP = "show retention per classification: period, oldest row, next expiry, legal holds"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table")


def run(args: argparse.Namespace) -> int:
    with OperatorSession(SinkSettings.load()) as session:
        session.audit("retention")
        columns, rows = retention_report(session.client)
    sys.stdout.write(render(columns, rows, args.format))
    return 0
