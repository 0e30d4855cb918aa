"""``mcp-audit topics``: create the pipeline's topics on the configured cluster."""

from __future__ import annotations

import argparse

from mcp_audit.topics import ensure_topics
from schemas.kafka import KafkaSettings

NAME = "topics"
HELP = "create the raw, enriched, alert and dead-letter topics if they are missing"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for the broker"
    )


def run(args: argparse.Namespace) -> int:
    settings = KafkaSettings.load()
    created = ensure_topics(settings, timeout_s=args.timeout)
    for topic in settings.topics():
        print(f"{topic}: {'created' if topic in created else 'exists'}")
    return 0
