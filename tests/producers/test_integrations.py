"""FastMCP middleware and MCP SDK MCPServer middleware, with real servers and clients in-process."""

from __future__ import annotations

from typing import Any

import pytest
from fastmcp import Client as FastMCPClient
from fastmcp import FastMCP
from mcp.client.client import Client as SdkClient
from mcp.server.mcpserver import MCPServer

from producers.auditor import Auditor
from producers.fastmcp_audit import AuditMiddleware
from producers.mcpserver_audit import AuditServerMiddleware
from producers.privacy.policy import Policy
from schemas.kafka import KafkaSettings
from tests.producers.conftest import CANARY, consume

pytestmark = [pytest.mark.broker, pytest.mark.mcp]


def _by_phase(events: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for event in events:
        grouped.setdefault((event["event_type"], event["phase"]), []).append(event)
    return grouped


def fastmcp_server() -> FastMCP:
    mcp = FastMCP("notes")

    @mcp.tool(annotations={"readOnlyHint": True})
    def lookup(name: str, api_token: str) -> str:
        """Find a note."""
        return f"note for {name}"

    @mcp.tool
    def explode(reason: str) -> str:
        raise ValueError(f"exploded: {reason}")

    @mcp.resource("notes://{slug}")
    def note(slug: str) -> str:
        return f"# {slug}"

    @mcp.prompt
    def summarise(topic: str) -> str:
        return f"Summarise {topic}"

    mcp.add_middleware(AuditMiddleware())
    return mcp


async def test_fastmcp_calls_reads_and_prompts_are_audited(
    auditor: Auditor, kafka_settings: KafkaSettings
) -> None:
    async with FastMCPClient(fastmcp_server()) as client:
        await client.list_tools()
        result = await client.call_tool("lookup", {"name": "bob", "api_token": CANARY})
        assert result.content[0].text == "note for bob"  # type: ignore[union-attr]
        failed = await client.call_tool("explode", {"reason": "test"}, raise_on_error=False)
        assert failed.is_error
        assert (await client.read_resource("notes://intro"))[0].text == "# intro"  # type: ignore[union-attr]
        prompt = await client.get_prompt("summarise", {"topic": "audits"})
        assert "audits" in str(prompt.messages[0].content)
    assert auditor.publisher.flush(10) == 0
    # The in-memory client speaks 2026-07-28: no initialize, so no SESSION_START.
    raw = consume(kafka_settings, 9, raw=True, timeout_s=10)
    assert all(CANARY.encode() not in m.value() for m in raw)
    events = _by_phase(consume(kafka_settings, 9, timeout_s=5))
    results = {
        e["target"]["tool_name"] or e["target"]["resource_uri"] or e["target"]["prompt_name"]: e
        for e in events[("TOOL_CALL", "RESULT")]
        + events[("RESOURCE_READ", "RESULT")]
        + events[("PROMPT_GET", "RESULT")]
    }
    assert results["lookup"]["outcome"]["status"] == "SUCCESS"
    assert results["lookup"]["target"]["annotations"]["read_only"] is True
    assert (
        results["lookup"]["target"]["tool_fingerprint"]
        == events[("TOOLS_LISTED", "EVENT")][0]["attributes"]["lookup"]
    )
    assert results["explode"]["outcome"]["status"] == "ERROR"
    assert results["notes://intro"]["outcome"]["status"] == "SUCCESS"
    assert results["summarise"]["target"]["method"] == "prompts/get"
    assert results["lookup"]["actor"]["client_name"] is not None


async def test_fastmcp_fail_closed_refusal_is_an_mcp_error(
    auditor: Auditor, kafka_settings: KafkaSettings
) -> None:
    auditor.policy = Policy(tools={"lookup": "critical"})
    async with FastMCPClient(fastmcp_server()) as client:
        # The session's event is delivered first: its report would mark the publisher
        # healthy again at any moment (seen as a flake under load).
        assert auditor.publisher.flush(10) == 0
        auditor.publisher.healthy = False
        refused = await client.call_tool(
            "lookup", {"name": "x", "api_token": "t"}, raise_on_error=False
        )
    assert refused.is_error and "refused" in refused.content[0].text  # type: ignore[union-attr]
    auditor.publisher.healthy = True
    assert auditor.publisher.flush(10) == 0
    events = consume(kafka_settings, 2, timeout_s=10)
    assert sorted(e["outcome"]["status"] if e["outcome"] else "-" for e in events) == [
        "-",
        "DENIED",
    ]


async def test_mcp_sdk_server_middleware_audits_calls(
    auditor: Auditor, kafka_settings: KafkaSettings
) -> None:
    server = MCPServer("sdk-notes", middleware=[AuditServerMiddleware()])

    @server.tool()
    def add(a: int, b: int) -> int:
        return a + b

    async with SdkClient(server) as client:
        await client.list_tools()
        result = await client.call_tool("add", {"a": 2, "b": 3})
        assert not result.is_error
    assert auditor.publisher.flush(10) == 0
    events = _by_phase(consume(kafka_settings, 3, timeout_s=10))
    (attempt,) = events[("TOOL_CALL", "ATTEMPT")]
    (done,) = events[("TOOL_CALL", "RESULT")]
    assert attempt["call_id"] == done["call_id"] and done["outcome"]["status"] == "SUCCESS"
    assert done["context"]["producer"]["integration"] == "mcp-sdk"
    assert done["target"]["arg_keys"] == ["a", "b"]
    assert done["target"]["tool_fingerprint"] is not None
    assert done["actor"]["client_name"] is not None  # from _meta: no handshake on 2026-07-28
