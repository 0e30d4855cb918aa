"""``mcp-audit up``: run the whole pipeline on this machine until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from mcp_audit.pipeline import Pipeline
from mcp_audit.settings import PlatformSettings
from mcp_audit.status import Snapshot, StatusProbe
from processors.settings import ProcessorSettings
from readside.settings import ReadSettings
from schemas.kafka import KafkaSettings
from sinks.progress import store_counts
from sinks.settings import SinkSettings

NAME = "up"
HELP = "run the broker, processors, sink, store and dashboard (embedded by default) until stopped"
STATUS_EVERY_S = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="where embedded data lives")
    parser.add_argument(
        "--once", action="store_true", help="start, report one status line, and stop"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="also run demo MCP servers and a client acting as several users (some anomalous)",
    )


def run(args: argparse.Namespace) -> int:
    overrides = {"data_dir": args.data_dir} if args.data_dir else {}
    pipeline = Pipeline(
        PlatformSettings.load(**overrides),
        KafkaSettings.load(),
        SinkSettings.load(),
        ReadSettings.load(),
        demo=args.demo,
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: pipeline.stopping.set())
    with pipeline:
        kafka, store = pipeline.kafka, pipeline.platform.sink_settings.clickhouse_url
        print(f"mcp-audit up: broker {kafka.bootstrap_servers}, store {store}", flush=True)
        if pipeline.dashboard_url:
            print(f"dashboard: {pipeline.dashboard_url}", flush=True)
        if pipeline.query_endpoint:
            print(f'queries: mcp-audit query "SQL" (endpoint {pipeline.query_endpoint})')
        print("producers: send to topic " + kafka.topic_raw + "; Ctrl-C stops everything")
        _report(pipeline, once=args.once)
    print("\nmcp-audit: stopped", flush=True)
    return 0


def _report(pipeline: Pipeline, *, once: bool) -> None:
    group = ProcessorSettings.load().enrich_group
    probe = StatusProbe(pipeline.kafka, group, lambda: pipeline.run_query(store_counts))
    previous: Snapshot | None = None
    try:
        while True:
            snapshot = probe.snapshot()
            end = "\n" if once or not sys.stdout.isatty() else "\r"
            print(snapshot.line(previous), end=end, flush=True)
            previous = snapshot
            if once or pipeline.stopping.wait(STATUS_EVERY_S):
                return
    finally:
        probe.close()
