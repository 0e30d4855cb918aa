"""``mcp-audit proxy --upstream ORIGIN``: a streamable-HTTP proxy in front of a remote MCP server.

Every request is forwarded to the same path on the ``upstream`` origin
(``http://host:port``) and its response streamed back as it arrives, bytes
unchanged. The proxy changes only what it must: hop-by-hop headers, ``Host``
(the upstream's), an ``Origin`` that named the proxy itself (it names the
upstream instead, so Host and Origin stay as consistent as the client sent
them), and ``Accept-Encoding`` narrowed to the encodings the audit can read.
A client that goes away ends its exchange at once and the upstream connection
is closed with it, so an abandoned event stream holds nothing; upstream
connections are bounded, and a request that cannot get one within
``POOL_WAIT_S`` is answered 503 rather than left hanging. The listener refuses
foreign Host/Origin names (:mod:`producers.integrations.proxy_guard`). A session's GET
event stream is opened upstream as soon as the session is initialized and
handed to the client's GET, so the server's first requests on it cannot race
past the client (:mod:`producers.integrations.proxy_prefetch`).

Each POST is its own exchange: the JSON-RPC messages in its body are matched
to the responses in its JSON or server-sent-event reply by request id, so no
session id is ever needed; requests left unanswered when the reply ends (or
the client leaves) are recorded. Runs on one asyncio loop; auditing never
raises into the forwarding.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import (
    ClientError,
    ClientResponse,
    ClientSession,
    ClientTimeout,
    DummyCookieJar,
    ServerTimeoutError,
    TCPConnector,
    hdrs,
    web,
)
from multidict import CIMultiDict
from yarl import URL

from producers.auditor import Auditor
from producers.integrations.proxy_guard import HostGuard
from producers.integrations.proxy_prefetch import Prefetch, announces_initialized
from producers.integrations.proxy_wire import ConversationAudit
from producers.integrations.rpc import RpcAudit

log = logging.getLogger(__name__)
# RFC 9110 7.6.1: meaningful for one connection only. Host and Content-Length are set
# by the client library for the upstream connection.
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_NOT_FORWARDED = _HOP | {"host", "content-length"}
_NOT_BACK = _HOP | {"content-length"}
# aiohttp's client adds these when absent: the proxy must not, so it skips them all.
_AUTO = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
_READABLE = {"gzip", "deflate", "identity"}  # what the audit tap can decode
MAX_CONNECTIONS = 256  # upstream connections; each live session's GET stream holds one
POOL_WAIT_S = 10.0  # waiting for one of them, then 503
SHUTDOWN_S = 2.0  # in-flight exchanges get this long to finish when the proxy stops
CLIENT = web.AppKey("client", ClientSession)
# A handler whose client went away is cancelled (aiohttp leaves it running by default,
# holding its upstream connection open); stopping waits SHUTDOWN_S at most.
_RUNNER = {"handler_cancellation": True, "shutdown_timeout": SHUTDOWN_S}


class SseTap:
    """Hands every ``data:`` payload of an event stream (or a whole JSON body) to the audit."""

    def __init__(self, conversation: ConversationAudit, event_stream: bool, encoding: str) -> None:
        self._conversation = conversation
        self._event_stream = event_stream
        self._buffer = bytearray()
        self._inflate = zlib.decompressobj(47) if encoding in ("gzip", "deflate") else None

    def feed(self, chunk: bytes) -> None:
        self._buffer += self._inflate.decompress(chunk) if self._inflate else chunk
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


def build_app(
    upstream: str,
    auditor: Auditor | None,
    *,
    guard: HostGuard | None = None,
    max_connections: int = MAX_CONNECTIONS,
) -> web.Application:
    rpc = RpcAudit(auditor, "proxy", "streamable-http") if auditor is not None else None
    base = upstream.rstrip("/")
    prefetch = Prefetch()

    async def forward(request: web.Request) -> web.StreamResponse:
        if guard is not None and (refused := guard.refusal(request.headers)) is not None:
            return refused
        body = await request.read()
        opened = prefetch.claim(request.method, request.raw_path, request.headers)
        prefetch.forget(request.method, request.raw_path, request.headers)
        conversation = _conversation(rpc, request, body)
        try:
            if opened is not None:  # opened when the session announced itself initialized
                return await _hand_over(request, opened)
            return await _relay(request, body, conversation)
        except ServerTimeoutError:  # no upstream connection free within POOL_WAIT_S
            return web.Response(status=503, text="upstream busy", headers={"Retry-After": "1"})
        except ClientError as exc:  # upstream unreachable: say so
            return web.Response(status=502, text=f"upstream unavailable: {type(exc).__name__}")
        finally:  # a reply that ended, failed or was abandoned: record the unanswered
            if conversation is not None:
                _safely(rpc, conversation.close)

    async def _relay(
        request: web.Request, body: bytes, conversation: ConversationAudit | None
    ) -> web.StreamResponse:
        headers = _toward_upstream(request, base, audited=conversation is not None)
        url = URL(base + request.raw_path, encoded=True)  # same path, as the client spelled it
        async with request.app[CLIENT].request(
            request.method,
            url,
            headers=headers,
            data=body or None,
            skip_auto_headers=_AUTO,
            allow_redirects=False,
        ) as upstream_reply:
            if upstream_reply.status == 202 and announces_initialized(request.method, body):
                # before the client hears the notification was taken (proxy_prefetch)
                await prefetch.open(request.app[CLIENT], url, request.raw_path, headers)
            try:
                return await _stream_back(request, upstream_reply, conversation)
            finally:
                _close_unfinished(upstream_reply)

    async def _hand_over(request: web.Request, stream: ClientResponse) -> web.StreamResponse:
        try:
            return await _stream_back(request, stream, None)
        finally:
            _close_unfinished(stream)
            stream.release()

    async def _stream_back(
        request: web.Request, upstream_reply: ClientResponse, conversation: ConversationAudit | None
    ) -> web.StreamResponse:
        reply = _Relayed(upstream_reply)
        await reply.prepare(request)
        tap = None
        if conversation is not None:
            content_type = upstream_reply.headers.get(hdrs.CONTENT_TYPE, "")
            encoding = upstream_reply.headers.get(hdrs.CONTENT_ENCODING, "identity").lower()
            tap = SseTap(conversation, content_type.startswith("text/event-stream"), encoding)
        async for chunk in upstream_reply.content.iter_any():
            await reply.write(chunk)  # the bytes first, unchanged
            if tap is not None:
                _safely(rpc, tap.feed, chunk)
        if tap is not None:
            _safely(rpc, tap.end)
        await reply.write_eof()
        return reply

    async def open_client(app: web.Application) -> AsyncIterator[None]:
        app[CLIENT] = ClientSession(
            connector=TCPConnector(limit=max_connections),
            # connect: the wait for a pooled connection plus its set-up; reads have no
            # limit, an event stream may be quiet for hours.
            timeout=ClientTimeout(total=None, connect=POOL_WAIT_S),
            auto_decompress=False,
            # Cookies pass through as headers; a jar would replay one client's cookies
            # to every other client.
            cookie_jar=DummyCookieJar(),
        )
        yield
        prefetch.close()
        await app[CLIENT].close()

    app = web.Application(client_max_size=64 * 2**20)
    app.cleanup_ctx.append(open_client)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


class _Relayed(web.StreamResponse):
    """The upstream's status and headers; its length if it gave one, so nothing is re-chunked."""

    def __init__(self, upstream_reply: ClientResponse) -> None:
        back = CIMultiDict(
            (k, v) for k, v in upstream_reply.headers.items() if k.lower() not in _NOT_BACK
        )
        super().__init__(status=upstream_reply.status, reason=upstream_reply.reason, headers=back)
        if (length := upstream_reply.headers.get(hdrs.CONTENT_LENGTH)) is not None:
            self.content_length = int(length)
        self._had_server = hdrs.SERVER in upstream_reply.headers

    async def _prepare_headers(self) -> None:
        await super()._prepare_headers()
        if not self._had_server:  # aiohttp names itself where the upstream named nobody
            self.headers.popall(hdrs.SERVER, None)


def _close_unfinished(upstream_reply: ClientResponse) -> None:
    """Ended early (the client left, the proxy stops): the upstream side must close too,
    never go back to the pool half-read."""
    if not upstream_reply.content.at_eof():
        upstream_reply.close()


def _toward_upstream(request: web.Request, base: str, audited: bool) -> CIMultiDict[str]:
    """The client's headers as the upstream should see them."""
    connection_named = {
        token.strip().lower()
        for value in request.headers.getall(hdrs.CONNECTION, ())
        for token in value.split(",")
    }
    headers = CIMultiDict(
        (k, v)
        for k, v in request.headers.items()
        if k.lower() not in _NOT_FORWARDED and k.lower() not in connection_named
    )
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is not None and origin.lower() == f"{request.scheme}://{request.host}".lower():
        headers[hdrs.ORIGIN] = str(URL(base).origin())  # same-origin to us: same-origin upstream
    if audited and hdrs.ACCEPT_ENCODING in headers:
        headers[hdrs.ACCEPT_ENCODING] = _readable(request.headers.getall(hdrs.ACCEPT_ENCODING))
    return headers


def _readable(values: list[str]) -> str:
    """Accept-Encoding narrowed to what the audit can decode (it must read the replies)."""
    kept = [
        item.strip()
        for value in values
        for item in value.split(",")
        if item.split(";")[0].strip().lower() in _READABLE
    ]
    return ", ".join(kept) or "identity"


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


def _safely(rpc: RpcAudit | None, step: Callable[..., None], *args: Any) -> None:
    if rpc is None:
        return
    try:
        step(*args)
    except Exception:
        rpc.auditor.counters.failure("proxy-http")


def proxy_runner(
    upstream: str,
    auditor: Auditor | None,
    *,
    guard: HostGuard | None = None,
    max_connections: int = MAX_CONNECTIONS,
) -> web.AppRunner:
    """The proxy as :func:`run_http_proxy` runs it, ready to ``setup()`` on a site."""
    app = build_app(upstream, auditor, guard=guard, max_connections=max_connections)
    return web.AppRunner(app, **_RUNNER)  # type: ignore[arg-type]


def run_http_proxy(
    upstream: str,
    auditor: Auditor | None,
    host: str,
    port: int,
    *,
    allowed_hosts: tuple[str, ...] = (),
    max_connections: int = MAX_CONNECTIONS,
) -> None:
    """Serve until interrupted (SIGINT or SIGTERM)."""
    guard = HostGuard.for_listener(host, allowed_hosts)
    web.run_app(
        build_app(upstream, auditor, guard=guard, max_connections=max_connections),
        host=host,
        port=port,
        print=None,
        **_RUNNER,  # type: ignore[arg-type]
    )
