"""The HTTP proxy under clients that go away: abandoned and reopened event streams, shutdown,
foreign names, and what it forwards. The upstream is the conformance server (MCP SDK)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import ClientSession, ClientTimeout, web

from mcp_audit.embedded.broker import free_port
from schemas.kafka import KafkaSettings
from tests.conformance.harness import conformance_server, established, http_proxy
from tests.conftest import child_env

pytestmark = [pytest.mark.mcp]
ABANDONED = 300  # three times aiohttp's default connection limit, which the old proxy hit
JSON = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t"}},
}


@pytest.fixture
def upstream() -> Iterator[str]:
    with conformance_server() as origin:
        yield origin


@asynccontextmanager
async def proxy(upstream: str) -> AsyncIterator[str]:
    async with http_proxy(upstream, None) as origin:
        yield f"{origin}/mcp"


async def _session(http: ClientSession, url: str) -> str:
    """A new MCP session through ``url``; its id."""
    async with http.post(url, json=INITIALIZE, headers=JSON) as reply:
        assert reply.status == 200, await reply.text()
        session_id = reply.headers["mcp-session-id"]
        await reply.read()
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    async with http.post(url, json=note, headers={**JSON, "mcp-session-id": session_id}) as r:
        assert r.status == 202
    return session_id


async def _open_and_abandon(url: str, session_id: str) -> int:
    """Opens the session's GET event stream, then drops the connection without a word."""
    async with ClientSession() as http:  # its own connection, closed with it
        headers = {"Accept": "text/event-stream", "mcp-session-id": session_id}
        reply = await http.get(url, headers=headers)
        status = reply.status
        reply.close()  # the client goes: no DELETE, no end of stream
    return status


async def test_hundreds_of_abandoned_streams_hold_nothing(upstream: str) -> None:
    port = int(upstream.rsplit(":", 1)[1])
    async with proxy(upstream) as url, ClientSession(timeout=ClientTimeout(total=10)) as http:
        for _ in range(ABANDONED):
            assert await _open_and_abandon(url, await _session(http, url)) == 200
        began = time.monotonic()
        await _session(http, url)  # still answers, at once
        assert time.monotonic() - began < 2
        deadline = time.monotonic() + 3
        while established(port) > 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert established(port) <= 4  # the upstream side of every abandoned stream closed


async def test_a_stream_reopened_after_an_abort_is_served(upstream: str) -> None:
    async with proxy(upstream) as url, ClientSession(timeout=ClientTimeout(total=10)) as http:
        session_id = await _session(http, url)
        for attempt in range(20):
            assert await _open_and_abandon(url, session_id) == 200, attempt
            deadline, status = time.monotonic() + 2, 0
            while time.monotonic() < deadline:  # the upstream may need a moment to notice
                if (status := await _open_and_abandon(url, session_id)) == 200:
                    break
                await asyncio.sleep(0.05)
            assert status == 200, (attempt, status)  # 409: the aborted stream still open


@pytest.mark.broker
def test_the_proxy_stops_in_seconds_with_streams_open(
    upstream: str, kafka_settings: KafkaSettings, tmp_path: Any
) -> None:
    port = free_port()
    env = child_env(kafka_settings, MCP_AUDIT_PRODUCER_SPOOL_DIR=str(tmp_path / "spool"))
    command = [sys.executable, "-m", "mcp_audit.cli", "proxy", "--upstream", upstream]
    child = subprocess.Popen([*command, "--listen", f"127.0.0.1:{port}"], env=env)
    try:
        asyncio.run(_hold_streams(f"http://127.0.0.1:{port}/mcp", child))
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


async def _hold_streams(url: str, child: subprocess.Popen[bytes]) -> None:
    async with ClientSession(timeout=ClientTimeout(total=30)) as http:
        deadline = time.monotonic() + 20
        while True:  # the child is starting
            try:
                session_ids = [await _session(http, url) for _ in range(5)]
                break
            except OSError:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
        headers = {"Accept": "text/event-stream"}
        streams = [
            await http.get(url, headers={**headers, "mcp-session-id": s}) for s in session_ids
        ]
        assert [s.status for s in streams] == [200] * 5
        began = time.monotonic()
        os.kill(child.pid, signal.SIGTERM)
        code = await asyncio.to_thread(child.wait, 30)
        stopped_s = time.monotonic() - began
        for stream in streams:
            stream.close()
    assert stopped_s < 6, stopped_s  # aiohttp's default waits 60 s for open streams
    assert code == 0


async def test_foreign_names_are_refused_like_the_sdk_does(upstream: str) -> None:
    async with proxy(upstream) as url, ClientSession() as http:
        own = url.split("/")[2]
        cases = {
            ("evil.example.com", "http://evil.example.com"): 421,
            (own, "http://evil.example.com"): 403,
            (own, f"http://{own}"): 200,
            (own, None): 200,
        }
        for (host, origin), expected in cases.items():
            headers = {**JSON, "Host": host, **({"Origin": origin} if origin else {})}
            async with http.post(url, json=INITIALIZE, headers=headers) as reply:
                assert reply.status == expected, (host, origin, await reply.text())


class Recorder:
    """An upstream that records what reaches it and answers with a fixed length, no Server."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.seen.append(dict(request.headers))
        reply = web.Response(body=b'{"jsonrpc":"2.0","id":1,"result":{}}')
        reply.content_type = "application/json"
        return reply


@asynccontextmanager
async def recording_upstream() -> AsyncIterator[tuple[Recorder, str]]:
    """A Recorder served on this loop; yields it and its origin."""

    async def name_itself(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Server"] = "upstream"

    recorded = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recorded.handle)
    app.on_response_prepare.append(name_itself)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield recorded, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_the_proxy_forwards_only_what_it_must() -> None:
    async with recording_upstream() as (recorded, origin), proxy(origin) as url:
        own = url.split("/")[2]
        sent = {"Accept": "text/event-stream", "Mcp-Session-Id": "s1", "X-Custom": "1"}
        reader, writer = await asyncio.open_connection("127.0.0.1", int(own.split(":")[1]))
        lines = ["GET /mcp HTTP/1.1", f"Host: {own}", f"Origin: http://{own}"]
        lines += [f"{k}: {v}" for k, v in sent.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        writer.close()
    seen = recorded.seen[-1]
    upstream_host = origin.split("/")[2]
    assert seen == {
        "Host": upstream_host,
        "Origin": f"http://{upstream_host}",  # same-origin to the proxy: same-origin upstream
        **sent,
    }  # no Accept-Encoding, User-Agent or Content-Type of the proxy's own
    assert "Transfer-Encoding: chunked" not in head and "Content-Length: 36" in head
    assert head.count("Server:") == 1 and "Server: upstream" in head
