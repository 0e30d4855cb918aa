"""``mcp-audit siem``: forward alerts to a SIEM webhook as OCSF JSON until stopped."""

from __future__ import annotations

import argparse
import signal
import threading

from schemas.kafka import KafkaSettings
from sinks.siem.forwarder import open_forwarder
from sinks.siem.settings import SiemSettings

NAME = "siem"
HELP = "forward alerts to a SIEM webhook as OCSF JSON (Ctrl-C or SIGTERM stops)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: everything is in MCP_AUDIT_SIEM_* and MCP_AUDIT_KAFKA_*."""


def run(args: argparse.Namespace) -> int:
    settings = SiemSettings.load()
    kafka = KafkaSettings.load()
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with open_forwarder(settings, kafka) as forwarder:
        print(f"mcp-audit siem: forwarding {kafka.topic_alerts} as OCSF", flush=True)
        forwarder.run(stop)
    return 0
