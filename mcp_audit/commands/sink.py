"""``mcp-audit sink``: store enriched events and alerts in ClickHouse until stopped."""

from __future__ import annotations

import argparse
import signal
import threading

from readside.endpoint import serve_queries
from readside.settings import ReadSettings
from schemas.kafka import KafkaSettings
from sinks.service import Sink, wait_for_store
from sinks.settings import SinkSettings

NAME = "sink"
HELP = "consume enriched events and alerts into ClickHouse (Ctrl-C or SIGTERM stops)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--migrate-only", action="store_true", help="apply schema migrations and exit"
    )


def run(args: argparse.Namespace) -> int:
    settings = SinkSettings.load()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    client = wait_for_store(settings, stop)  # applies the migrations
    if client is None or args.migrate_only:
        return 0
    read = ReadSettings.load()
    with (
        Sink(settings, KafkaSettings.load(), client) as sink,
        serve_queries(client, settings, read),
    ):
        print(f"mcp-audit sink: storing into {settings.database}", flush=True)
        sink.run(stop)
    return 0
