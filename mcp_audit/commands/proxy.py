"""``mcp-audit proxy -- <command> [args]``: audit any stdio MCP server, in any language."""

from __future__ import annotations

import argparse
import signal
import threading

from producers.proxy_stdio import run_proxy
from producers.runtime import get_auditor, shutdown

NAME = "proxy"
HELP = "run an MCP server behind a transparent stdio proxy that audits every call"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("server", nargs=argparse.REMAINDER, help="the server command, after --")


# An MCP client closing a session closes stdin, waits 2 s, then sends SIGTERM to
# the process tree and SIGKILL 2 s later (mcp.client.stdio). SIGTERM must not
# kill the proxy outright: the server gets it too and exits, the proxy finishes
# auditing what it read, and flushes briefly, spooling what the broker has not
# taken, before the SIGKILL could come.
TERMINATING_FLUSH_S = 1.0


def run(args: argparse.Namespace) -> int:
    command = args.server[1:] if args.server[:1] == ["--"] else args.server
    if not command:
        raise SystemExit("mcp-audit proxy: give the server command after --")
    terminating = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: terminating.set())
    try:
        return run_proxy(command, get_auditor())
    finally:
        shutdown(TERMINATING_FLUSH_S if terminating.is_set() else 10.0)
