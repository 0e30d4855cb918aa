"""``mcp-audit up``: run the pipeline on this machine until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from mcp_audit.platform import Platform
from mcp_audit.settings import PlatformSettings
from schemas.kafka import KafkaSettings
from sinks.settings import SinkSettings

NAME = "up"
HELP = "start the broker, topics and audit store (embedded by default) and run until stopped"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="where embedded data lives")
    parser.add_argument(
        "--once", action="store_true", help="start, report, and stop (a smoke check)"
    )


def run(args: argparse.Namespace) -> int:
    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    platform = Platform(
        PlatformSettings.load(**overrides), KafkaSettings.load(), SinkSettings.load()
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with platform:
        print(
            f"mcp-audit up: broker {platform.kafka.bootstrap_servers}, "
            f"topic {platform.kafka.topic_raw}, store {platform.sink_settings.clickhouse_url}",
            flush=True,
        )
        if not args.once:
            print("waiting for producers; Ctrl-C stops everything", flush=True)
            stop.wait()
    print("mcp-audit: stopped", flush=True)
    return 0
