"""``mcp-audit verify``: check every producer stream's sequence numbers and hash chain."""

from __future__ import annotations

import argparse
from pathlib import Path

from clickhouse_connect.driver.client import Client

from readside.session import open_read_side
from sinks.digests import check_digests, load_public_key, stored_digests
from sinks.settings import SinkSettings
from sinks.verify_store import verify_store

NAME = "verify"
HELP = "check every stream's sequence and hash chain in the store; name each broken row"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="print only problems and totals")
    parser.add_argument(
        "--public-key", type=Path, help="digest public key (default: the sink's key file + .pub)"
    )


def run(args: argparse.Namespace) -> int:
    settings = SinkSettings.load()
    with open_read_side(settings) as session:
        return session.read("verify", lambda client: _verify(client, settings, args), lambda _: 0)


def _verify(client: Client, settings: SinkSettings, args: argparse.Namespace) -> int:
    streams = rows = problems = expired = 0
    for stream_id, checked, findings in verify_store(client):
        found = [f for f in findings if f.problem]
        streams, rows, problems = streams + 1, rows + checked, problems + len(found)
        expired += len(findings) - len(found)
        if found or not args.quiet:
            state = "ok" if not found else f"{len(found)} problem(s)"
            print(f"stream {stream_id}: {checked} events, {state}")
        for f in found:
            print(f"  {f.kind:<11} seq {f.seq:<8} event {f.event_id or '-'}: {f.detail}")
    print(f"{streams} streams, {rows} events, {problems} problems")
    if expired:
        print(f"{expired} older sequence numbers absent, as retention deletes them (not checked)")
    return 1 if problems + _check_digests(client, settings, args.public_key) else 0


def _check_digests(client: Client, settings: SinkSettings, public_key: Path | None) -> int:
    """Check the signed digests when there are any; returns the number of problems."""
    count = len(stored_digests(client))
    path = public_key or settings.digest_key_file.with_suffix(".pub")
    if count == 0:
        print("no signed digests yet (mcp-audit digest seals closed periods)")
        return 0
    if not path.exists():
        print(f"{count} signed digests, not checked: no public key at {path}")
        return 1
    problems = check_digests(client, load_public_key(path), settings.digest_period_s)
    for problem in problems:
        print(f"  digest: {problem}")
    print(f"{count} signed digests, {len(problems)} problems")
    return len(problems)
