"""``mcp-audit digest``: append stored events to the sealed log and sign closed periods.

Once by default; with ``--every`` it is the sealing service (the compose stack's
``sealer``), running until SIGTERM with the key directory as its own volume.
"""

from __future__ import annotations

import argparse
import functools
import logging
import signal
import threading
from collections.abc import Sequence

from readside.session import open_read_side
from schemas.kafka import KafkaSettings
from sinks.digests import Sealer
from sinks.sealing import seal_every, sealer_from_settings
from sinks.service import wait_for_store
from sinks.settings import SinkSettings

NAME = "digest"
HELP = "seal the store: append new events to the Merkle log, sign a tree head per closed period"
log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--every", action="store_true",
        help="keep sealing every MCP_AUDIT_SINK_SEAL_EVERY_S until stopped (the sealing service)",
    )  # fmt: skip
    parser.add_argument(
        "--no-alerts", action="store_true",
        help="publish heads to the heads file only, not to the alert topic",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    settings = SinkSettings.load()
    kafka = None if args.no_alerts else KafkaSettings.load()
    if not args.every:
        with open_read_side(settings) as session:  # recorded as an operation, then run
            appended, heads = session.operate(
                "digest", lambda client: sealer_from_settings(client, settings, kafka).cycle()
            )
        print(f"appended {appended} events; signed {len(heads)} tree heads", flush=True)
        return 0
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    client = wait_for_store(settings, stop)
    if client is None:
        return 0
    sealer = sealer_from_settings(client, settings, kafka)
    print(f"mcp-audit digest: sealing every {settings.seal_every_s:g} s", flush=True)
    seal_every(sealer.cycle, settings.seal_every_s, stop, functools.partial(_report, sealer))
    return 0


def _report(sealer: Sealer, appended: int, heads: Sequence[object]) -> None:
    if not (appended or heads):
        return
    size = sealer.state.frontier.size
    print(
        f"appended {appended} events (log size {size}); signed {len(heads)} tree heads"
        f" with key {sealer.signer.key_id}",
        flush=True,
    )
