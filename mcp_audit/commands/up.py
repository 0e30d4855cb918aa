"""``mcp-audit up``: run the whole pipeline on this machine until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from mcp_audit.pipeline import Pipeline
from mcp_audit.settings import PlatformSettings
from mcp_audit.status import Counts, Snapshot, StatusProbe
from processors.settings import ProcessorSettings
from readside.settings import ReadSettings
from schemas.kafka import KafkaSettings
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


# The spool is what each producer stream's latest heartbeat of the last ten minutes reports.
COUNTS = (
    "SELECT (SELECT count() FROM (SELECT event_id FROM audit_events LIMIT 1 BY event_id)),"
    " (SELECT count() FROM (SELECT alert_id FROM audit_alerts LIMIT 1 BY alert_id)),"
    " (SELECT sum(spool) FROM (SELECT argMax(heartbeat['spool_bytes'], seq) AS spool"
    "  FROM audit_events WHERE event_type = 'HEARTBEAT'"
    "  AND event_time > now64() - INTERVAL 10 MINUTE GROUP BY stream_id))"
)


def _counts(pipeline: Pipeline) -> Counts:
    rows = pipeline.run_query(lambda c: c.query(COUNTS).result_rows)
    return Counts(int(rows[0][0]), int(rows[0][1]), int(rows[0][2] or 0))


def _report(pipeline: Pipeline, *, once: bool) -> None:
    group = f"{ProcessorSettings.load().app_id}-enrich"
    probe = StatusProbe(pipeline.kafka, group, lambda: _counts(pipeline))
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
