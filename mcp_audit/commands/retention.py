"""``mcp-audit retention``: per classification, the period, the oldest row and what expires when."""

from __future__ import annotations

import argparse
import sys

from readside.render import FORMATS, render
from readside.session import open_read_side
from sinks.retention import retention_report
from sinks.settings import SinkSettings

NAME = "retention"
HELP = "show retention per classification: period, oldest row, next expiry, legal holds"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table")


def run(args: argparse.Namespace) -> int:
    with open_read_side(SinkSettings.load()) as session:
        columns, rows = session.read("retention", retention_report)
    sys.stdout.write(render(columns, rows, args.format))
    return 0
