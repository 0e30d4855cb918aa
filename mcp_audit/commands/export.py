"""``mcp-audit export --subject <user id>``: every row of a data subject (GDPR Art. 20)."""

from __future__ import annotations

import argparse
import sys

from mcp_audit.commands.erase import add_subject_arguments, pseudonym_key
from readside.render import FORMATS, render
from readside.session import open_read_side
from readside.subjects import export, subject_pseudonym
from sinks.settings import SinkSettings

NAME = "export"
HELP = "export every stored row of a data subject (JSON lines by default)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_subject_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="json")


def run(args: argparse.Namespace) -> int:
    settings = SinkSettings.load()
    subject = subject_pseudonym(args.subject, args.pseudonym, pseudonym_key(settings))
    with open_read_side(settings) as session:
        columns, rows = session.read("export", lambda c: export(c, subject), subject=subject)
    sys.stdout.write(render(columns, rows, args.format))
    return 0
