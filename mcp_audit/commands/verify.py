"""``mcp-audit verify``: check every producer stream's sequence numbers and hash chain."""

from __future__ import annotations

import argparse

from sinks.service import open_store
from sinks.settings import SinkSettings
from sinks.verify_store import verify_store

NAME = "verify"
HELP = "check every stream's sequence and hash chain in the store; name each broken row"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="print only problems and totals")


def run(args: argparse.Namespace) -> int:
    client = open_store(SinkSettings.load())
    streams = rows = problems = 0
    for stream_id, checked, findings in verify_store(client):
        streams, rows, problems = streams + 1, rows + checked, problems + len(findings)
        if findings or not args.quiet:
            state = "ok" if not findings else f"{len(findings)} problem(s)"
            print(f"stream {stream_id}: {checked} events, {state}")
        for f in findings:
            print(f"  {f.kind:<11} seq {f.seq:<8} event {f.event_id or '-'}: {f.detail}")
    print(f"{streams} streams, {rows} events, {problems} problems")
    return 1 if problems else 0
