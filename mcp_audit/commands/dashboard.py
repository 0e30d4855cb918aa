"""``mcp-audit dashboard``: the built-in dashboard as a service of its own (compose's).

The same app ``mcp-audit up`` serves (:mod:`readside.dashboard.server`), on
the store that ``MCP_AUDIT_SINK_CLICKHOUSE_URL`` names, with the operators'
tokens of ``MCP_AUDIT_READ_TOKEN_FILE``. It binds to loopback unless
``MCP_AUDIT_READ_CONTAINER_BIND`` lets it listen on a container's every interface.
"""

from __future__ import annotations

import argparse
import signal

from mcp_audit.settings import PlatformSettings
from readside.dashboard.server import serve_dashboard
from readside.settings import ReadSettings
from sinks.settings import SinkSettings

NAME = "dashboard"
HELP = "serve the built-in dashboard on a store (a ClickHouse server, or chDB it then owns)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options: MCP_AUDIT_PLATFORM_DASHBOARD_HOST/PORT, MCP_AUDIT_READ_*, MCP_AUDIT_SINK_*."""


def run(args: argparse.Namespace) -> int:
    sink, read, platform = SinkSettings.load(), ReadSettings.load(), PlatformSettings.load()
    if "token_file" not in read.model_fields_set:  # as `up` and `token` keep it
        read = read.model_copy(update={"token_file": platform.data_dir / "read-tokens.json"})
    host, port = platform.dashboard_host, platform.dashboard_port
    # No token in the output: a container's log is read by more people than its operators.
    print(
        f"mcp-audit dashboard: serving {sink.database} on {host}:{port};"
        f" `mcp-audit token` prints the link with your token",
        flush=True,
    )
    # uvicorn stops on these, then raises them again to the handlers it found: a no-op
    # here, so that a stop asked for is a clean exit (0), as for every other service.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: None)
    serve_dashboard(sink, read, host, port)
    return 0
