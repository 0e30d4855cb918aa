"""Streamable HTTP in front, a stdio server behind: how the HTTP-only suite reaches a stdio path.

Each MCP session the suite opens gets its own child (``command``, here
``mcp-audit proxy -- python -m tests.conformance.server --transport stdio``),
and the bridge passes JSON-RPC messages unchanged both ways through the MCP
SDK's own transports: ``StreamableHTTPServerTransport`` toward the suite,
``stdio_client`` toward the child. Only the SDK's routing needs a hint the
stdio wire does not carry: a message from the child that is not a response is
sent on the stream of the client request still waiting (the only one, in the
suite's scenarios), else on the session's GET stream, as the server itself
would do over HTTP.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.transport_security import TransportSecuritySettings
from mcp.shared.message import ServerMessageMetadata, SessionMessage
from mcp.types import JSONRPCError, JSONRPCRequest, JSONRPCResponse
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

IDLE_S = 5.0  # a session with nothing in flight and no GET stream this long ends its child
# The SDK's defaults for a loopback server, so dns-rebinding-protection is judged as there.
LOOPBACK = TransportSecuritySettings(
    allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
    allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
)


class StdioBridge:
    def __init__(self, command: Sequence[str], env: dict[str, str] | None = None) -> None:
        self._params = StdioServerParameters(command=command[0], args=list(command[1:]), env=env)
        self._sessions: dict[str, StreamableHTTPServerTransport] = {}
        self._tasks: anyio.abc.TaskGroup | None = None
        # A child started ahead of the session that will take it: a Python server takes
        # seconds to start, which would otherwise add up over the suite's 30 sessions.
        self._claims, self._standby = anyio.create_memory_object_stream[
            tuple[StreamableHTTPServerTransport, anyio.Event]
        ]()

    @contextlib.asynccontextmanager
    async def running(self, app: Starlette) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tasks:
            self._tasks = tasks
            tasks.start_soon(self._serve)
            try:
                yield
            finally:
                tasks.cancel_scope.cancel()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session_id = Headers(scope=scope).get("mcp-session-id")
        transport = self._sessions.get(session_id or "")
        if transport is None and session_id is None and scope["method"] == "POST":
            transport = await self._open()
        if transport is None:
            await Response("Session not found", status_code=404)(scope, receive, send)
            return
        await transport.handle_request(scope, receive, send)

    async def _open(self) -> StreamableHTTPServerTransport:
        from fastmcp.server.event_store import EventStore

        transport = StreamableHTTPServerTransport(
            uuid.uuid4().hex,
            event_store=EventStore(),
            security_settings=LOOPBACK,
            retry_interval=100,
            idle_timeout=IDLE_S,
        )
        assert transport.mcp_session_id is not None
        self._sessions[transport.mcp_session_id] = transport
        connected = anyio.Event()
        await self._claims.send((transport, connected))  # to the child waiting
        await connected.wait()
        return transport

    async def _serve(self) -> None:
        """A child: started, it waits for a session, starts the next child, then serves."""
        async with stdio_client(self._params) as (from_child, to_child):
            transport, connected = await self._standby.receive()
            assert self._tasks is not None and transport.mcp_session_id is not None
            self._tasks.start_soon(self._serve)
            try:
                async with (
                    transport.connect() as (from_client, to_client),
                    anyio.create_task_group() as pumps,
                ):
                    waiting: list[Any] = []  # the client's unanswered request ids, oldest first
                    pumps.start_soon(_upward, from_client, to_child, waiting)
                    connected.set()
                    assert transport.idle_scope is not None
                    with transport.idle_scope:  # the suite's clients leave without a DELETE
                        await _downward(from_child, to_client, waiting)
                    pumps.cancel_scope.cancel()
            finally:
                self._sessions.pop(transport.mcp_session_id, None)


async def _upward(source: Any, sink: Any, waiting: list[Any]) -> None:
    async for item in source:
        if isinstance(item, Exception):
            continue
        if isinstance(item.message, JSONRPCRequest):
            waiting.append(item.message.id)
        await sink.send(SessionMessage(item.message))


async def _downward(source: Any, sink: Any, waiting: list[Any]) -> None:
    async for item in source:
        if isinstance(item, Exception):
            continue
        message = item.message
        if isinstance(message, JSONRPCResponse | JSONRPCError):
            with contextlib.suppress(ValueError):
                waiting.remove(message.id)
            await sink.send(SessionMessage(message))
        else:
            related = waiting[-1] if waiting else None
            metadata = ServerMessageMetadata(related_request_id=related)
            await sink.send(SessionMessage(message, metadata=metadata))


def bridge_app(command: Sequence[str], env: dict[str, str] | None = None) -> Starlette:
    """An ASGI app serving ``/mcp`` in front of one ``command`` child per session."""
    bridge = StdioBridge(command, env)
    return Starlette(routes=[Route("/mcp", bridge)], lifespan=bridge.running)
