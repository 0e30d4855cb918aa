"""The event stream the HTTP proxy opens ahead of a client: served only to that session's
client with the same credentials, and closed when nobody claims it.

The upstream is a few lines of aiohttp, not an MCP server: it echoes the credentials each
GET stream was opened with and notes when that stream's reader went away, which no MCP
server tells a test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import ClientSession, web

from mcp_audit.embedded.broker import free_port
from producers.integrations import proxy_prefetch
from tests.conformance.harness import http_proxy

pytestmark = [pytest.mark.mcp]
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


class Upstream:
    def __init__(self) -> None:
        self.opened: list[str] = []
        self.gone: list[str] = []

    async def post(self, request: web.Request) -> web.Response:
        return web.Response(status=202)

    async def get(self, request: web.Request) -> web.StreamResponse:
        who = request.headers.get("Authorization", "")
        self.opened.append(who)
        reply = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await reply.prepare(request)
        await reply.write(f"data: {json.dumps(who)}\n\n".encode())
        try:
            while True:
                await asyncio.sleep(0.05)
                await reply.write(b": ping\n\n")
        except (ConnectionError, asyncio.CancelledError):
            self.gone.append(who)
            raise


@asynccontextmanager
async def through_proxy() -> AsyncIterator[tuple[Upstream, str]]:
    upstream = Upstream()
    app = web.Application()
    app.router.add_post("/mcp", upstream.post)
    app.router.add_get("/mcp", upstream.get)
    runner = web.AppRunner(app, handler_cancellation=True)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with http_proxy(f"http://127.0.0.1:{port}", None) as proxy:
            yield upstream, f"{proxy}/mcp"
    finally:
        await runner.cleanup()


async def _initialized(http: ClientSession, url: str, token: str) -> None:
    headers = {"mcp-session-id": "s1", "Authorization": token}
    async with http.post(url, json=INITIALIZED, headers=headers) as reply:
        assert reply.status == 202


async def _first_event(http: ClientSession, url: str, token: str) -> str:
    headers = {"mcp-session-id": "s1", "Authorization": token, "Accept": "text/event-stream"}
    async with http.get(url, headers=headers) as stream:
        line = await stream.content.readline()
        return str(json.loads(line.removeprefix(b"data: ")))


async def test_the_stream_is_open_before_the_client_hears_it_was_initialized() -> None:
    async with through_proxy() as (upstream, url), ClientSession() as http:
        await _initialized(http, url, "Bearer alice")
        assert upstream.opened == ["Bearer alice"]  # nothing the client sends can overtake it
        assert await _first_event(http, url, "Bearer alice") == "Bearer alice"
        assert upstream.opened == ["Bearer alice"]  # handed over, not opened again


async def test_another_credential_never_gets_the_stream_opened_for_the_first() -> None:
    async with through_proxy() as (upstream, url), ClientSession() as http:
        await _initialized(http, url, "Bearer alice")
        assert await _first_event(http, url, "Bearer mallory") == "Bearer mallory"
        assert upstream.opened == ["Bearer alice", "Bearer mallory"]


async def test_an_unclaimed_stream_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(proxy_prefetch, "CLAIM_S", 0.2)
    async with through_proxy() as (upstream, url), ClientSession() as http:
        await _initialized(http, url, "Bearer alice")
        for _ in range(50):
            if upstream.gone:
                break
            await asyncio.sleep(0.1)
        assert upstream.gone == ["Bearer alice"]


async def test_a_delete_closes_the_sessions_unclaimed_stream() -> None:
    async with through_proxy() as (upstream, url), ClientSession() as http:
        await _initialized(http, url, "Bearer alice")
        headers = {"mcp-session-id": "s1", "Authorization": "Bearer alice"}
        async with http.delete(url, headers=headers) as reply:
            assert reply.status == 405  # this upstream has no DELETE; the proxy forgot anyway
        for _ in range(50):
            if upstream.gone:
                break
            await asyncio.sleep(0.1)
        assert upstream.gone == ["Bearer alice"]
