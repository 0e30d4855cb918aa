"""``mcp-audit verify``: check every stream's chain and the sealed log's signed tree heads."""

from __future__ import annotations

import argparse
from pathlib import Path

from clickhouse_connect.driver.client import Client

from readside.session import open_read_side
from schemas.digest import TreeHead
from sinks.digests import now_us
from sinks.head_publishers import read_heads_file
from sinks.row_check import check_rows
from sinks.settings import SinkSettings
from sinks.signing import PUBLIC_NAME, load_public_key
from sinks.verify_log import check_log
from sinks.verify_sealed import check_sealed
from sinks.verify_store import verify_store

NAME = "verify"
HELP = (
    "check every stream's sequence and hash chain, every row's content hash and the signed"
    " tree heads; name each missing, altered or unsealed row and period"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true", help="print only problems and totals")
    parser.add_argument(
        "--public-key", type=Path,
        help=f"tree-head public key (default: {PUBLIC_NAME} in the signing key directory)",
    )  # fmt: skip
    parser.add_argument(
        "--published-heads", type=Path, metavar="FILE",
        help="tree heads published outside the store, to compare (default: the heads file,"
        " when it exists)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    settings = SinkSettings.load()
    with open_read_side(settings) as session:
        return session.read("verify", lambda client: _verify(client, settings, args), lambda _: 0)


def _verify(client: Client, settings: SinkSettings, args: argparse.Namespace) -> int:
    key_path = args.public_key or settings.signing_key_dir / PUBLIC_NAME
    published_path = args.published_heads or settings.heads_file
    published: list[TreeHead] = []
    if args.published_heads is not None or published_path.exists():
        published = read_heads_file(published_path)
    public_key = load_public_key(key_path) if key_path.exists() else None
    report = check_log(
        client, public_key, settings.digest_period_s, now_us(),
        allowance_s=settings.seal_every_s, lateness_s=settings.seal_lateness_s,
        published=published,
    )  # fmt: skip
    streams = rows = problems = expired = 0
    absent_streams = {a.leaf.stream_id for a in report.absent}
    for stream_id, checked, findings in verify_store(
        client, report.expired, report.sealed_from_us, absent_streams
    ):
        found = [f for f in findings if f.problem]
        named = {f.seq for f in found if f.kind == "missing"}
        lost = [a for a in report.missing(stream_id) if a.leaf.seq not in named]
        streams, rows = streams + 1, rows + checked
        problems += len(found) + len(lost)
        expired += len(findings) - len(found)
        if found or lost or not args.quiet:
            count = len(found) + len(lost)
            state = "ok" if not count else f"{count} problem(s)"
            print(f"stream {stream_id}: {checked} events, {state}")
        for f in found:
            print(f"  {f.kind:<11} seq {f.seq:<8} event {f.event_id or '-'}: {f.detail}")
        for a in lost:
            detail = f"sealed as leaf {a.leaf_index}, not in the store (deleted or re-chained)"
            print(f"  {'missing':<11} seq {a.leaf.seq:<8} event {a.leaf.event_id}: {detail}")
    print(f"{streams} streams, {rows} events, {problems} problems")
    hashed = check_rows(client)
    for altered in hashed.altered:
        print(f"  row: {altered.describe()}")
    problems += len(hashed.altered)
    print(
        f"{hashed.checked} rows hashed, {len(hashed.altered)} altered, {hashed.erased} erased"
        f" on record, {hashed.unhashed} stored before row hashes (not checked)"
    )
    if expired:
        print(f"{expired} older sequence numbers absent, as retention deletes them (not checked)")
    if report.heads:
        newest = report.heads[-1]
        cut = newest.sealed_at_us - settings.seal_lateness_s * 1_000_000
        sealed = check_sealed(client, newest.tree_size, cut, now_us())
        for mismatch in sealed.named:
            print(f"  sealed: {mismatch.describe()}")
        problems += sealed.problems
        print(
            f"sealed content: {sealed.problems} altered, rolled back, resealed or deleted;"
            f" {sealed.count('superseded')} superseded legitimately (INCOMPLETE, folded alert);"
            f" {sealed.count('pending')} new versions waiting for the next seal;"
            f" {sealed.count('sealed before content')} sealed before leaves held content"
        )
    for problem in report.problems:
        print(f"  log: {problem}")
    heads = report.heads
    span = f", {heads[0].tree_size}..{heads[-1].tree_size} events" if heads else ""
    print(f"{len(heads)} signed tree heads{span}, {len(report.problems)} problems")
    if report.unsealed:
        print(f"{report.unsealed} events not sealed yet (the sealer's next cycle appends them)")
    return 1 if problems or report.problems else 0
