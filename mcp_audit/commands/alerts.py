"""``mcp-audit alerts [--follow]``: the security team's view of the alerts topic."""

from __future__ import annotations

import argparse
import signal
import threading

from schemas.kafka import KafkaSettings
from sinks.alert_feed import existing_alerts, follow_alerts, line

NAME = "alerts"
HELP = "show alerts newest first, or follow them as they come (--follow)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--follow", "-f", action="store_true", help="print new alerts as they come")
    parser.add_argument("--limit", type=int, default=50, help="how many existing alerts to show")


def run(args: argparse.Namespace) -> int:
    kafka = KafkaSettings.load()
    if not args.follow:
        for alert in existing_alerts(kafka, args.limit):
            print(line(alert))
        return 0
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    for alert in follow_alerts(kafka, stop):
        print(line(alert), flush=True)
    return 0
