"""The stdio proxy in front of real MCP servers, driven by the official SDK client."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from producers.auditor import Auditor
from producers.integrations.proxy_stdio import LineSplitter
from producers.integrations.proxy_wire import ConversationAudit
from producers.integrations.rpc import RpcAudit
from producers.transport.spool import read_segment
from schemas.kafka import KafkaSettings
from schemas.wire import Deserializer
from tests.conftest import require_tool
from tests.producers.conftest import CANARY, consume

pytestmark = [pytest.mark.broker, pytest.mark.mcp]


def proxy_params(kafka: KafkaSettings, tmp_path: Path, *server: str) -> StdioServerParameters:
    env = {
        **os.environ,
        "MCP_AUDIT_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "MCP_AUDIT_KAFKA_TOPIC_RAW": kafka.topic_raw,
        "MCP_AUDIT_PRODUCER_SERVER_ID": "time-server",
        "MCP_AUDIT_PRODUCER_SPOOL_DIR": str(tmp_path / "spool"),
        "MCP_AUDIT_PRODUCER_LINGER_MS": "1",
    }
    return StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_audit.cli", "proxy", "--", *server], env=env
    )


def delivered_or_spooled(kafka: KafkaSettings, tmp_path: Path, count: int) -> list[bytes]:
    """Event bytes on the topic, plus any the proxy spooled because the client stopped it
    (SIGTERM 2 s after closing stdin) before a loaded broker acknowledged them: the
    durable spool is the documented guarantee, replayed at the proxy's next start.
    Waits for ``count`` audit events plus the session's first and final heartbeats, and
    returns the audit events. The client closing the session is a clean stop, so the
    final heartbeat must be there."""
    consumed = consume(kafka, count + 2, timeout_s=20, raw=True, heartbeats=True)
    values = [m.value() for m in consumed]
    for segment in sorted((tmp_path / "spool").glob("slot-*/*.seg")):
        values += [value for _, value in read_segment(segment)]
    decode = Deserializer("AuditEvent")
    unique = {decode(v)["event_id"]: v for v in values}  # an in-flight event may be in both
    beats = [e["heartbeat"] for v in unique.values() if (e := decode(v))["heartbeat"]]
    assert [b["final"] for b in beats].count(True) == 1
    return [v for v in unique.values() if decode(v)["event_type"] != "HEARTBEAT"]


def test_line_splitter_reassembles_lines_across_chunks() -> None:
    lines: list[bytes] = []
    splitter = LineSplitter(lines.append)
    for chunk in (b'{"a":', b'1}\n{"b"', b":2}\n", b"tail"):
        splitter.feed(chunk)
    assert lines == [b'{"a":1}', b'{"b":2}']


async def test_time_server_calls_are_audited_through_the_proxy(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    server = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))
    assert server is not None, "mcp-server-time is a test dependency"
    params = proxy_params(kafka_settings, tmp_path, server, "--local-timezone", "UTC")
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        assert {t.name for t in tools.tools} >= {"get_current_time", "convert_time"}
        ok = await session.call_tool("get_current_time", {"timezone": "Europe/London"})
        assert not ok.is_error and "Europe/London" in ok.content[0].text  # type: ignore[union-attr]
        bad = await session.call_tool("get_current_time", {"timezone": f"Nowhere/{CANARY}"})
        assert bad.is_error
    values = delivered_or_spooled(kafka_settings, tmp_path, 6)
    assert all(CANARY.encode() not in value for value in values)
    decoded = [Deserializer("AuditEvent")(value) for value in values]
    kinds = sorted((e["event_type"], e["phase"]) for e in decoded)
    assert kinds == sorted(
        [("SESSION_START", "EVENT"), ("TOOLS_LISTED", "EVENT")]
        + [("TOOL_CALL", "ATTEMPT"), ("TOOL_CALL", "RESULT")] * 2
    )
    results = [e for e in decoded if e["phase"] == "RESULT"]
    statuses = sorted(_status(e) for e in results)
    assert statuses == ["ERROR", "SUCCESS"]
    listed = next(e for e in decoded if e["event_type"] == "TOOLS_LISTED")
    for event in results:
        assert event["target"]["server_id"] == "time-server"
        assert event["context"]["producer"]["integration"] == "proxy"
        assert event["target"]["tool_fingerprint"] == listed["attributes"]["get_current_time"]
        assert event["actor"]["client_name"] is not None


async def test_git_server_through_the_proxy_keeps_paths_as_digests_under_high_policy(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    policy = tmp_path / "policy.toml"
    policy.write_text('[tools]\n"git_*" = "high"\n')
    server = shutil.which("mcp-server-git", path=str(Path(sys.executable).parent))
    assert server is not None, "mcp-server-git is a test dependency"
    params = proxy_params(kafka_settings, tmp_path, server, "--repository", str(repo))
    assert params.env is not None
    params.env["MCP_AUDIT_PRODUCER_POLICY_FILE"] = str(policy)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        status = await session.call_tool("git_status", {"repo_path": str(repo)})
        assert "No commits yet" in status.content[0].text  # type: ignore[union-attr]
    # session start, the listing the SDK client makes for output schemas, attempt, result
    values = delivered_or_spooled(kafka_settings, tmp_path, 4)
    assert len(values) == 4 and all(str(repo).encode() not in value for value in values)
    decoded = [Deserializer("AuditEvent")(value) for value in values]
    (result,) = [e for e in decoded if e["phase"] == "RESULT"]
    assert result["target"]["classification"] == "HIGH"
    assert result["payload"]["args_json"] is None and len(result["payload"]["args_digest"]) == 64
    assert result["compliance"]["retention_days"] == 2190


@pytest.fixture(scope="session")
def server_everything(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The reference server from npm, installed once per session (CI needs node and npm)."""
    npm = require_tool("npm")
    prefix = tmp_path_factory.mktemp("npm")
    package = "@modelcontextprotocol/server-everything@2026.8.31"
    command = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", package]
    subprocess.run(command, check=True, capture_output=True, timeout=240)
    return str(prefix / "node_modules" / ".bin" / "mcp-server-everything")


@pytest.mark.slow
async def test_server_everything_tools_resources_prompts_through_the_proxy(
    kafka_settings: KafkaSettings, tmp_path: Path, server_everything: str
) -> None:
    params = proxy_params(kafka_settings, tmp_path, server_everything, "stdio")
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()
        echoed = await session.call_tool("echo", {"message": f"hello {CANARY}"})
        assert CANARY in echoed.content[0].text  # type: ignore[union-attr]
        total = await session.call_tool("get-sum", {"a": 2, "b": 3})
        assert "5" in total.content[0].text  # type: ignore[union-attr]
        uri = "demo://resource/static/document/architecture.md"
        assert (await session.read_resource(uri)).contents
        assert (await session.get_prompt("simple-prompt")).messages
    values = delivered_or_spooled(kafka_settings, tmp_path, 10)
    assert len(values) == 10 and all(CANARY.encode() not in value for value in values)
    decoded = [Deserializer("AuditEvent")(value) for value in values]
    results = [e for e in decoded if e["phase"] == "RESULT"]
    targets = {(e["event_type"], _name(e)) for e in results}
    assert targets == {
        ("TOOL_CALL", "echo"), ("TOOL_CALL", "get-sum"), ("RESOURCE_READ", uri),
        ("PROMPT_GET", "simple-prompt"),
    }  # fmt: skip
    assert all(_status(e) == "SUCCESS" for e in results)


def _status(event: dict[str, Any]) -> str:
    return str(event["outcome"]["status"])


def test_cancelled_and_unanswered_requests_are_recorded(
    auditor: Auditor, kafka_settings: KafkaSettings
) -> None:
    conversation = ConversationAudit(RpcAudit(auditor, "proxy", "stdio", one_connection=True))
    meta = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    for request_id in (1, "1", 2):
        call = {"name": "slow", "arguments": {"n": request_id}, "_meta": meta}
        request = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": call}
        conversation.from_client(orjson.dumps(request))
    conversation.from_client(
        b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2}}'
    )
    conversation.from_server(b'{"jsonrpc":"2.0","id":"1","result":{"content":[]}}')
    conversation.from_server(b"not json at all")
    conversation.close()
    assert auditor.publisher.flush(10) == 0
    results = [e for e in consume(kafka_settings, 6, timeout_s=10) if e["phase"] == "RESULT"]
    # ids 1 and "1" are different requests: only "1" was answered, 1 never was
    assert sorted(e["outcome"]["status"] for e in results) == ["CANCELLED", "SUCCESS", "TIMEOUT"]
    assert all(e["context"]["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736" for e in results)


def _name(event: dict[str, Any]) -> str:
    target = event["target"]
    return str(target["tool_name"] or target["resource_uri"] or target["prompt_name"])
