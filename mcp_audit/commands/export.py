"""``mcp-audit export --subject <user id>``: every row of a data subject (GDPR Art. 20)."""

from __future__ import annotations

import argparse
import sys

from mcp_audit.commands.erase import add_subject_arguments
from sinks.operator import OperatorSession
from sinks.render import FORMATS, render
from sinks.settings import SinkSettings
from sinks.subjects import export, subject_pseudonym

NAME = "export"
HELP = "export every stored row of a data subject (JSON lines by default)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_subject_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="json")


def run(args: argparse.Namespace) -> int:
    with OperatorSession(SinkSettings.load()) as session:
        subject = subject_pseudonym(args.subject, args.pseudonym, session.key())
        session.audit("export", subject=subject)
        columns, rows = export(session.client, subject)
    sys.stdout.write(render(columns, rows, args.format))
    return 0
