"""``mcp-audit erase --subject <user id>``: clear a subject's personal values (GDPR Art. 17)."""

from __future__ import annotations

import argparse

from sinks.operator import OperatorSession
from sinks.settings import SinkSettings
from sinks.subjects import erase, subject_pseudonym

NAME = "erase"
HELP = "erase a data subject's personal values from the audit store (integrity is kept)"


def add_subject_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--subject", help="the user id (pseudonymised with the configured key)")
    who.add_argument("--pseudonym", help="the subject's pseudonym, 64 hex characters")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_subject_arguments(parser)


def run(args: argparse.Namespace) -> int:
    with OperatorSession(SinkSettings.load()) as session:
        subject = subject_pseudonym(args.subject, args.pseudonym, session.key())
        session.audit("erase", subject=subject)
        rows = erase(session.client, subject, session.settings.operator)
    print(f"erased personal values of {subject} in {rows} rows")
    return 0
