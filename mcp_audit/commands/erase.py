"""``mcp-audit erase --subject <user id>``: clear a subject's personal values (GDPR Art. 17)."""

from __future__ import annotations

import argparse

from readside.session import open_read_side
from readside.subjects import erase, subject_pseudonym
from sinks.cluster import layout_for
from sinks.settings import SinkSettings

NAME = "erase"
HELP = "erase a data subject's personal values from the audit store (integrity is kept)"


def add_subject_arguments(parser: argparse.ArgumentParser) -> None:
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--subject", help="the user id (pseudonymised with the configured key)")
    who.add_argument("--pseudonym", help="the subject's pseudonym, 64 hex characters")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_subject_arguments(parser)


def pseudonym_key(settings: SinkSettings) -> bytes | None:
    secret = settings.pseudonym_key
    return secret.get_secret_value().encode() if secret else None


def run(args: argparse.Namespace) -> int:
    settings = SinkSettings.load()
    subject = subject_pseudonym(args.subject, args.pseudonym, pseudonym_key(settings))
    layout = layout_for(settings)
    with open_read_side(settings) as session:
        rows = session.operate(
            "erase", lambda c: erase(c, subject, session.operator, layout), subject=subject
        )
    print(f"erased personal values of {subject} in {rows} rows")
    return 0
