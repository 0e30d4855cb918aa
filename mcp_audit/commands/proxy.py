"""``mcp-audit proxy -- <command> [args]``: audit any stdio MCP server, in any language."""

from __future__ import annotations

import argparse
import signal

from producers.proxy_stdio import run_proxy
from producers.runtime import get_auditor, shutdown

NAME = "proxy"
HELP = "run an MCP server behind a transparent stdio proxy that audits every call"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("server", nargs=argparse.REMAINDER, help="the server command, after --")


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    command = args.server[1:] if args.server[:1] == ["--"] else args.server
    if not command:
        raise SystemExit("mcp-audit proxy: give the server command after --")
    # MCP clients stop a stdio server with SIGTERM soon after closing its stdin: leave
    # through the finally below so queued events are flushed or spooled, not lost.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        return run_proxy(command, get_auditor())
    finally:
        shutdown(timeout_s=1.0)
