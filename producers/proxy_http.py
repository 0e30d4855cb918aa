"""``mcp-audit proxy --upstream ORIGIN``: a streamable-HTTP proxy in front of a remote MCP server.

Every request is forwarded to the same path on the ``upstream`` origin
(``http://host:port``) and its response
streamed back as it arrives, bodies unchanged (compression is not requested
upstream, so the audit can read them). Each POST is its own exchange: the
JSON-RPC messages in its body are matched to the responses in its JSON or
server-sent-event reply by request id, so no session id is ever needed;
requests left unanswered when the reply ends are recorded. Runs on one asyncio
loop; auditing never raises into the forwarding.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from producers.auditor import Auditor
from producers.proxy_wire import ConversationAudit
from producers.rpc import RpcAudit

log = logging.getLogger(__name__)
_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
_NOT_BACK = _HOP | {"content-encoding"}
CLIENT = web.AppKey("client", ClientSession)


class SseTap:
    """Hands every ``data:`` payload of an event stream (or a whole JSON body) to ``emit``."""

    def __init__(self, conversation: ConversationAudit, event_stream: bool) -> None:
        self._conversation = conversation
        self._event_stream = event_stream
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        if not self._event_stream:
            return
        *lines, rest = bytes(self._buffer).split(b"\n")
        self._buffer = bytearray(rest)
        for line in lines:
            if line.startswith(b"data:"):
                self._conversation.from_server(line[5:].strip())

    def end(self) -> None:
        if not self._event_stream and self._buffer:
            self._conversation.from_server(bytes(self._buffer))
        self._conversation.close()


def build_app(upstream: str, auditor: Auditor | None) -> web.Application:
    rpc = RpcAudit(auditor, "proxy", "streamable-http") if auditor is not None else None
    base = upstream.rstrip("/")

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        conversation = _conversation(rpc, request, body)
        try:
            return await _relay(request, body, base, _tap_for(conversation))
        except ClientError as exc:  # upstream unreachable: say so, record the unanswered
            if conversation is not None:
                _safely(rpc, lambda _: conversation.close(), b"")
            return web.Response(status=502, text=f"upstream unavailable: {type(exc).__name__}")

    async def _relay(
        request: web.Request, body: bytes, base: str, tap_for: Any
    ) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        headers["Accept-Encoding"] = "identity"
        url = base + request.path_qs  # same path on the upstream origin
        async with request.app[CLIENT].request(
            request.method, url, headers=headers, data=body
        ) as upstream_reply:
            back = {k: v for k, v in upstream_reply.headers.items() if k.lower() not in _NOT_BACK}
            reply = web.StreamResponse(status=upstream_reply.status, headers=back)
            await reply.prepare(request)
            tap = tap_for(upstream_reply.headers.get("Content-Type", ""))
            async for chunk in upstream_reply.content.iter_any():
                await reply.write(chunk)  # the bytes first, unchanged
                _safely(rpc, tap.feed if tap else None, chunk)
            if tap is not None:
                _safely(rpc, lambda _: tap.end(), b"")
            await reply.write_eof()
            return reply

    async def open_client(app: web.Application) -> Any:
        app[CLIENT] = ClientSession(timeout=ClientTimeout(total=None), auto_decompress=False)
        yield
        await app[CLIENT].close()

    app = web.Application(client_max_size=64 * 2**20)
    app.cleanup_ctx.append(open_client)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def _conversation(
    rpc: RpcAudit | None, request: web.Request, body: bytes
) -> ConversationAudit | None:
    if rpc is None or request.method != "POST" or not body:
        return None
    conversation = ConversationAudit(rpc)
    try:
        conversation.from_client(body)
    except Exception:
        rpc.auditor.counters.failure("proxy-http")
    return conversation


def _tap_for(conversation: ConversationAudit | None) -> Any:
    """A factory: the reply's content type decides how its body is read."""

    def tap(content_type: str) -> SseTap | None:
        if conversation is None:
            return None
        return SseTap(conversation, content_type.startswith("text/event-stream"))

    return tap


def _safely(rpc: RpcAudit | None, feed: Any, chunk: bytes) -> None:
    if feed is None or rpc is None:
        return
    try:
        feed(chunk)
    except Exception:
        rpc.auditor.counters.failure("proxy-http")


def run_http_proxy(upstream: str, auditor: Auditor | None, host: str, port: int) -> None:
    """Serve until interrupted."""
    web.run_app(build_app(upstream, auditor), host=host, port=port, print=None)
