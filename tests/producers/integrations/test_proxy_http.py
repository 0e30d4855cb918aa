"""The streamable-HTTP proxy in front of a real FastMCP server, driven by a real client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiohttp import web
from fastmcp import Client, FastMCP

from mcp_audit.embedded.broker import free_port
from producers.auditor import Auditor
from producers.integrations.proxy_http import build_app
from schemas.kafka import KafkaSettings
from tests.conftest import serving
from tests.producers.conftest import CANARY, consume

pytestmark = [pytest.mark.broker, pytest.mark.mcp]


@pytest.fixture
def upstream() -> Iterator[str]:
    """A FastMCP server over streamable HTTP on a free port, in a thread."""
    mcp = FastMCP("remote")

    @mcp.tool
    def greet(name: str) -> str:
        return f"hello {name}"

    with serving(mcp.http_app()) as url:
        yield url.rstrip("/")


async def test_calls_through_the_http_proxy_are_audited(
    auditor: Auditor, kafka_settings: KafkaSettings, upstream: str
) -> None:
    runner = web.AppRunner(build_app(upstream, auditor))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            await client.list_tools()
            result = await client.call_tool("greet", {"name": CANARY})
            assert result.content[0].text == f"hello {CANARY}"  # type: ignore[union-attr]
    finally:
        await runner.cleanup()
    await asyncio.to_thread(auditor.publisher.flush, 10)
    raw = consume(kafka_settings, 3, timeout_s=10, raw=True)
    assert raw and all(CANARY.encode() not in m.value() for m in raw)
    events = consume(kafka_settings, 3, timeout_s=5)
    results = [e for e in events if e["phase"] == "RESULT"]
    assert [(e["target"]["tool_name"], e["outcome"]["status"]) for e in results] == [
        ("greet", "SUCCESS")
    ]
    assert results[0]["context"]["transport"] == "streamable-http"
    assert results[0]["target"]["tool_fingerprint"] is not None
