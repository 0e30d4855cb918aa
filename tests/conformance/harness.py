"""What the conformance tests and the proxy's stream tests stand up: the conformance server,
the HTTP proxy as the CLI runs it, and a count of open connections."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from mcp_audit.embedded.broker import free_port
from producers.auditor import Auditor
from producers.integrations.proxy_guard import HostGuard
from producers.integrations.proxy_http import proxy_runner
from tests.conformance.server import build_mcpserver, http_app
from tests.conftest import serving


@contextmanager
def conformance_server(audited: bool = False, build: Any = build_mcpserver) -> Iterator[str]:
    """The conformance server over streamable HTTP in a thread; yields its origin."""
    with serving(http_app(build(audited=audited))) as url:
        yield url.rstrip("/")


@asynccontextmanager
async def http_proxy(upstream: str, auditor: Auditor | None) -> AsyncIterator[str]:
    """``mcp-audit proxy --upstream`` as the CLI runs it, on this loop; yields its origin."""
    runner = proxy_runner(upstream, auditor, guard=HostGuard.for_listener("127.0.0.1"))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def established(port: int) -> int:
    """Open TCP connections to ``port`` on this machine (Linux /proc, no extra package)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and int(fields[2].rsplit(":", 1)[1], 16) == port:
                count += 1
    return count
