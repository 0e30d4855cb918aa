"""No call unaudited: hostile request params through every integration still leave an ATTEMPT
and a RESULT for each call.

Real parts throughout: the Auditor on the session broker (events are read at its
publisher, see :class:`tests.producers.hostile_params.Sent`), the proxy's conversation
audit fed the lines a client writes, the stdio proxy in front of the real
``mcp-server-time``, FastMCP and MCP SDK servers with their middlewares driven by
their own clients, and ``@audit_tool``. The clients send raw params through their
dispatcher because their typed calls would correct the hostile values a hostile
client sends as they are.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import pytest
from fastmcp import Client as FastMCPClient
from fastmcp import FastMCP
from fastmcp.server.middleware import Middleware, MiddlewareContext
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from mcp.client.client import Client as SdkClient
from mcp.server.context import ServerMiddleware, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError

from producers.actor import acting_as
from producers.auditor import Auditor
from producers.decorator import audit_tool
from producers.errors import AuditRefused
from producers.event.model import Actor
from producers.fastmcp_audit import AuditMiddleware
from producers.integrations.proxy_stdio import run_proxy
from producers.integrations.proxy_wire import ConversationAudit
from producers.integrations.rpc import AUDITED_METHODS, RpcAudit
from producers.mcpserver_audit import AuditServerMiddleware
from producers.privacy.policy import Policy
from tests.producers.hostile_params import (
    Sent,
    assert_each_call_audited,
    calls,
    json_values,
    params,
)

pytestmark = pytest.mark.broker
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
AUDITED = sorted(AUDITED_METHODS)


@pytest.fixture
def sent(auditor: Auditor, monkeypatch: pytest.MonkeyPatch) -> Sent:
    return Sent(auditor, monkeypatch)


def line(message: dict[str, Any]) -> bytes:
    """As a client may write it: stdlib JSON, so NaN, infinities and big integers too."""
    return json.dumps(message).encode()


@FUZZ
@given(
    setup=st.none() | params(["lookup"]),
    method=st.sampled_from(AUDITED),
    request=params(["lookup", "summarise"]),
    request_id=json_values,
    answer=st.sampled_from(["result", "error", "none"]),
    reply=json_values,
)
def test_proxy_conversation_audits_every_hostile_request(
    auditor: Auditor, sent: Sent, setup: dict[str, Any] | None, method: str,
    request: dict[str, Any], request_id: Any, answer: str, reply: Any,
) -> None:  # fmt: skip
    """The proxies' shared core (stdio and HTTP), fed the lines a hostile client writes."""
    conversation = ConversationAudit(RpcAudit(auditor, "proxy", "stdio", one_connection=True))
    if setup is not None:  # an initialize first: what it leaves behind is read by later calls
        conversation.from_client(line({"jsonrpc": "2.0", "id": "init", "method": "initialize",
                                       "params": setup}))  # fmt: skip
    message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": request}
    conversation.from_client(line(message))
    if answer != "none":
        conversation.from_server(line({"jsonrpc": "2.0", "id": request_id, answer: reply}))
    conversation.close()
    assert_each_call_audited(sent.take(), 1)


@FUZZ
@given(
    hostile=st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", '"\\ud800"']),
    where=st.sampled_from(["id", "name", "argument", "meta"]),
)
def test_proxy_audits_requests_only_lenient_parsers_read(
    auditor: Auditor, sent: Sent, hostile: str, where: str
) -> None:
    """JSON that Python's and pydantic's parsers (an SDK server's) accept and orjson refuses."""
    parts = {"id": "7", "name": '"lookup"', "argument": "1", "meta": "{}"}
    parts[where] = hostile
    raw = (
        f'{{"jsonrpc":"2.0","id":{parts["id"]},"method":"tools/call","params":{{"name":'
        f'{parts["name"]},"arguments":{{"n":{parts["argument"]}}},"_meta":{parts["meta"]}}}}}'
    )
    conversation = ConversationAudit(RpcAudit(auditor, "proxy", "stdio", one_connection=True))
    conversation.from_client(raw.encode())
    conversation.close()
    assert_each_call_audited(sent.take(), 1)


def test_proxy_audits_both_calls_of_a_reused_request_id(auditor: Auditor, sent: Sent) -> None:
    conversation = ConversationAudit(RpcAudit(auditor, "proxy", "stdio", one_connection=True))
    for name in ("first", "second"):
        conversation.from_client(line({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                       "params": {"name": name}}))  # fmt: skip
    conversation.from_server(line({"jsonrpc": "2.0", "id": 1, "result": {}}))
    conversation.close()
    assert_each_call_audited(sent.take(), 2)


@pytest.mark.mcp
@pytest.mark.slow
def test_stdio_proxy_in_front_of_a_real_server_audits_every_hostile_call(
    auditor: Auditor, sent: Sent
) -> None:
    """One proxy session, a real server behind it, a hostile client writing ~100 requests:
    at the end every request has its ATTEMPT and RESULT (answered, or unanswered at close)."""
    server = shutil.which("mcp-server-time", path=str(Path(sys.executable).parent))
    assert server is not None, "mcp-server-time is a test dependency"
    client_in, proxy_in = os.pipe()  # what the client writes, the proxy reads
    proxy_out, client_out = os.pipe()  # what the proxy writes, the client reads
    proxy = threading.Thread(
        target=run_proxy, args=([server],),
        kwargs={"auditor": auditor, "stdin": client_in, "stdout": client_out}, daemon=True,
    )  # fmt: skip
    replies = bytearray()
    reader = threading.Thread(target=_drain, args=(proxy_out, replies), daemon=True)
    proxy.start()
    reader.start()
    ids: list[str] = []

    def send(message: dict[str, Any]) -> None:
        os.write(proxy_in, line(message) + b"\n")

    send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "fuzz", "version": "1"}}})  # fmt: skip
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    @settings(max_examples=100, deadline=None, database=None)
    @given(
        method=st.sampled_from(AUDITED),
        request=params(["get_current_time", "convert_time"]),
        request_id=json_values,
    )
    def hostile_call(method: str, request: dict[str, Any], request_id: Any) -> None:
        ids.append(json.dumps(request_id))
        send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": request})

    hostile_call()
    ids.append("plain")  # and a plain call last: the proxy still forwards and matches answers
    send({"jsonrpc": "2.0", "id": "plain", "method": "tools/call",
          "params": {"name": "get_current_time", "arguments": {"timezone": "UTC"}}})  # fmt: skip
    _wait_for(replies, b'"id":"plain"')
    os.close(proxy_in)  # the client hangs up: the server exits, the proxy records the rest
    proxy.join(timeout=60)
    reader.join(timeout=10)
    assert not proxy.is_alive()
    events = sent.take()
    found = calls(events)
    assert_each_call_audited(events, len(ids))
    starts = [e for e in events if e["event_type"] == "SESSION_START"]
    assert len(starts) == 1 and starts[0]["actor"]["client_name"] == "fuzz"
    (plain,) = [p for p in found.values() if p["ATTEMPT"]["context"]["request_id"] == "plain"]
    assert plain["RESULT"]["outcome"]["status"] == "SUCCESS"
    statuses = Counter(p["RESULT"]["outcome"]["status"] for p in found.values())
    assert statuses["ERROR"] > 0, statuses  # the server answered hostile calls with errors


def _wait_for(replies: bytearray, needle: bytes, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while needle not in replies and time.monotonic() < deadline:
        time.sleep(0.05)
    assert needle in replies, "the server behind the proxy never answered"


def _drain(fd: int, into: bytearray) -> None:
    while chunk := os.read(fd, 65536):
        into += chunk
    os.close(fd)


class SeenByFastMCP(Middleware):
    """Outside the audit middleware: which calls reached FastMCP's call hooks at all (params
    it cannot validate into a call are refused before them, and nothing runs)."""

    def __init__(self) -> None:
        self.calls = 0

    async def _seen(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        self.calls += 1
        return await call_next(context)

    on_call_tool = on_read_resource = on_get_prompt = _seen


def notes_server(seen: Middleware) -> FastMCP:
    mcp = FastMCP("notes")

    @mcp.tool
    def lookup(name: str) -> str:
        return f"note for {name}"

    @mcp.prompt
    def summarise(topic: str) -> str:
        return f"Summarise {topic}"

    @mcp.resource("notes://{slug}")
    def note(slug: str) -> str:
        return f"# {slug}"

    mcp.add_middleware(seen)
    mcp.add_middleware(AuditMiddleware())
    return mcp


class SeenBySdk(ServerMiddleware[Any]):
    """Outside the audit middleware: which calls reached the SDK's middleware tier at all
    (a malformed ``_meta`` is refused before it, and nothing runs)."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: Any) -> Any:
        if ctx.method in AUDITED_METHODS:
            self.calls += 1
        return await call_next(ctx)


async def _raw(client: Any, method: str, request: dict[str, Any], request_id: Any = None) -> bool:
    """The request as a hostile client sends it: what the client's session stamps on every
    request (protocol version, client info in ``_meta`` on 2026-07-28), then the hostile
    params over it, sent as they are whatever the answer. False when the client library
    itself refused to send it (a ``_meta`` that is not an object): nothing reached the server."""
    session = client.session
    data: dict[str, Any] = {"method": method, "params": {}}
    opts: dict[str, Any] = {"timeout": 10}
    session._stamp(data, opts)
    stamped = data["params"]
    sent = {**stamped, **{k: v for k, v in request.items() if k != "_meta"}}
    if "_meta" in request:
        hostile = request["_meta"]
        meta = stamped.get("_meta", {})
        sent["_meta"] = {**meta, **hostile} if isinstance(hostile, dict) else hostile
    if request_id is not None:
        opts["request_id"] = request_id
    try:
        await session._dispatcher.send_raw_request(method, sent, opts)
    except MCPError:
        pass  # the server's answer: an error is an answer
    except (TypeError, ValueError):
        return False
    return True


@pytest.mark.mcp
@FUZZ
@given(method=st.sampled_from(AUDITED), request=params(["lookup", "summarise", "absent"]))
async def test_fastmcp_middleware_audits_every_hostile_call(
    auditor: Auditor, sent: Sent, method: str, request: dict[str, Any]
) -> None:
    seen = SeenByFastMCP()
    async with FastMCPClient(notes_server(seen)) as client:
        sent.take()
        await _raw(client, method, request)
    # FastMCP turns some params away before any middleware runs: then nothing runs.
    event(f"reached the middleware: {seen.calls}")
    assert_each_call_audited(sent.take(), seen.calls)


ids = st.integers(1_000, 2**53) | st.text(min_size=1, max_size=12) | st.just("i" * 100_000)


@pytest.mark.mcp
@FUZZ
@given(
    mode=st.sampled_from(["legacy", "auto"]),
    method=st.sampled_from(AUDITED),
    request=params(["add", "absent"]),
    request_id=ids,
)
async def test_mcp_sdk_middleware_audits_every_hostile_call(
    auditor: Auditor, sent: Sent, mode: str, method: str, request: dict[str, Any], request_id: Any
) -> None:
    """The SDK's middleware sees raw params before validation: every call must be audited."""
    seen = SeenBySdk()
    server = MCPServer("sdk-notes", middleware=[seen, AuditServerMiddleware()])

    @server.tool()
    def add(a: int, b: int) -> int:
        return a + b

    async with SdkClient(server, mode=mode) as client:
        sent.take()
        await _raw(client, method, request, request_id)
    event(f"reached the middleware: {seen.calls}")
    assert_each_call_audited(sent.take(), seen.calls)


class Hostile(Exception):
    """An exception whose audit type is not text and whose text cannot be made."""

    audit_type: ClassVar[Any] = ("not", "text")

    def __str__(self) -> str:
        raise RuntimeError("no text")


@FUZZ
@given(
    name=st.text(max_size=8) | st.sampled_from(["\ud800", "x" * 1_200_000]),
    actor=st.builds(Actor, client_name=json_values, client_version=json_values, scopes=json_values),
    args=st.lists(json_values, max_size=3),
    raises=st.booleans(),
)
def test_decorator_audits_every_call_of_a_hostile_tool(
    auditor: Auditor, sent: Sent, name: str, actor: Actor, args: list[Any], raises: bool
) -> None:
    def tool(*values: Any) -> Any:
        if raises:
            raise Hostile
        return values

    audited = audit_tool(tool, name=name)
    with acting_as(actor):
        if raises:
            with pytest.raises(Hostile):
                audited(*args)
        else:
            assert audited(*args) == tuple(args)
    assert_each_call_audited(sent.take(), 1)


def test_a_call_whose_full_event_cannot_be_made_is_written_minimal(
    auditor: Auditor, sent: Sent
) -> None:
    """What is known (server, method, tool, request id) and why, in both phases; counted."""
    rpc = RpcAudit(auditor, "mcp-sdk", None)
    before = auditor.counters.audit_failures
    facts = {"scopes": [{"not": "a scope"}]}  # a framework's token facts no Actor can hold
    call = rpc.begin("tools/call", {"name": "lookup", "arguments": {"q": 1}}, 42, facts)
    assert call is not None
    rpc.end(call, {"content": []})
    found = calls(sent.take())
    assert len(found) == 1
    (phases,) = found.values()
    for written in phases.values():
        assert written["attributes"] == {"audit_failure": "request: TypeError"}
        assert written["target"]["server_id"] == "test-server"
        assert written["target"]["tool_name"] == "lookup"
        assert written["target"]["method"] == "tools/call"
        assert written["context"]["request_id"] == "42"
    assert phases["RESULT"]["outcome"]["status"] == "SUCCESS"
    assert auditor.counters.audit_failures == before + 1


def test_fail_closed_call_is_refused_when_not_even_a_minimal_event_can_be_written(
    auditor: Auditor, sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No event of this server can be encoded (a server id the schema cannot hold): the
    critical tool is refused before it runs, the medium one runs, unaudited but counted."""
    monkeypatch.setattr(auditor, "policy", Policy(tools={"charge": "critical"}))
    monkeypatch.setattr(auditor, "server_id", None)
    ran: list[str] = []

    @audit_tool
    def charge() -> None:
        ran.append("charge")

    @audit_tool
    def lookup() -> None:
        ran.append("lookup")

    before = auditor.counters.audit_failures
    with pytest.raises(AuditRefused, match="cannot be audited"):
        charge()
    lookup()
    assert ran == ["lookup"]
    assert sent.take() == []
    assert auditor.counters.audit_failures == before + 4  # each: the full event, the minimal
