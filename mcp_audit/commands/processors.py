"""``mcp-audit processors``: run one processors worker (the Faust app in processors.app)."""

from __future__ import annotations

import argparse
import sys

NAME = "processors"
HELP = "run a processors worker: enrich raw events, detect anomalies, raise alerts"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--loglevel", default="info", choices=["crit", "error", "warn", "info", "debug"]
    )


def run(args: argparse.Namespace) -> int:
    # Imported here: building the app reads the MCP_AUDIT_* settings.
    from processors.app import app
    from processors.wiring import worker_arguments

    sys.argv = ["mcp-audit processors", *worker_arguments(args.loglevel)]
    app.main()  # Faust's worker command; exits the process when the worker stops
    return 0
