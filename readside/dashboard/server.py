"""The dashboard's HTTP server, for ``mcp-audit up`` (a thread) and ``mcp-audit dashboard``.

Lifecycle of the service (:func:`serve_dashboard`): open the store, build one
:class:`~readside.session.ReadSide` on it, serve until SIGTERM or Ctrl-C
(uvicorn's own handlers), close. On an embedded store this process becomes
its owner (chDB allows one process per data directory) and applies the
migrations, as every people's command does; on a ClickHouse server it signs
in as the dashboard's own user (``deploy/clickhouse/initdb/30-dashboard.sh``:
SELECT on the audit database, INSERT on ``audit_events`` for the access records,
no DDL) and leaves the migrations to the sink.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import uvicorn
from clickhouse_connect.driver.client import Client

from readside.dashboard.app import build_app
from readside.session import ReadSide
from readside.settings import ReadSettings
from readside.tokens import Tokens
from readside.web import require_loopback
from sinks.clickhouse import connect, is_embedded
from sinks.service import open_store
from sinks.settings import SinkSettings

HEADER_BYTES = 64 * 1024


def dashboard_server(
    side: ReadSide,
    tokens: Tokens,
    limits: ReadSettings,
    host: str,
    port: int,
    *,
    container_bind: bool = False,
) -> uvicorn.Server:
    """The dashboard over ``side`` on ``host:port``; refuses a bind :func:`require_loopback`
    refuses. Requests name the loopback Host with ``port`` (so a container publishes it
    on the same port number)."""
    require_loopback(host, "dashboard", container_bind=container_bind)
    config = uvicorn.Config(
        build_app(side, tokens, port),
        host=host,
        port=port,
        log_level="warning",
        limit_concurrency=limits.max_connections,
        timeout_keep_alive=int(limits.idle_timeout_s),
        h11_max_incomplete_event_size=HEADER_BYTES,
    )
    return uvicorn.Server(config)


@contextlib.contextmanager
def dashboard_store(sink: SinkSettings) -> Iterator[Client]:
    """The writing connection the dashboard's read side records accesses on."""
    if is_embedded(sink.clickhouse_url):
        store = open_store(sink)
    else:  # no DDL: the database and its tables are the sink's to make
        store = connect(sink.clickhouse_url)
        store.database = sink.database
    try:
        yield store
    finally:
        store.close()


def serve_dashboard(sink: SinkSettings, read: ReadSettings, host: str, port: int) -> None:
    """Serve the dashboard on ``host:port`` until SIGTERM or Ctrl-C.

    The bind is checked before the store is opened: a refused one changes nothing.
    """
    require_loopback(host, "dashboard", container_bind=read.container_bind)
    tokens = Tokens(read.token_file)
    tokens.ensure()
    with dashboard_store(sink) as store:
        side = ReadSide(store, sink, read)
        try:
            server = dashboard_server(
                side, tokens, read, host, port, container_bind=read.container_bind
            )
            server.run()
        finally:
            side.close()
