"""The loopback query endpoint: enough of ClickHouse's HTTP interface for clickhouse-connect.

chDB allows one process per data directory, so while ``mcp-audit up`` owns
the embedded store, people read through it: ``mcp-audit query`` (or any
clickhouse-connect client given the token as its password) points at
``http://127.0.0.1:PORT``. Each request passes, in order: the connection
cap, the request checks of :mod:`readside.web` (Host, cross-site), POST
only with a bounded body, the token (``Authorization: Basic`` password or
``X-ClickHouse-Key``; the user name sent is ignored), and then the
operator's :class:`~readside.session.ReadSession`, which records it.
Refusals after authentication are recorded too.

Lifecycle: ``QueryEndpoint(...).start()`` serves on a daemon thread;
``stop()`` closes the socket. It binds to loopback only.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from readside.errors import NotAuthenticatedError, RequestRefusedError
from readside.session import ReadSide
from readside.settings import ReadSettings
from readside.tokens import Tokens
from readside.web import allowed_hosts, check_request, require_loopback
from schemas.errors import McpAuditError
from sinks.clickhouse import is_embedded
from sinks.settings import SinkSettings

log = logging.getLogger(__name__)
_FORMAT = re.compile(r"\s+FORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
# Output formats only: none of them reads or writes a file of its own.
FORMATS = frozenset({"Native", "TabSeparated", "TabSeparatedWithNames", "TabSeparatedRaw",
                     "TabSeparatedWithNamesAndTypes", "TSV", "TSVWithNames", "CSV",
                     "CSVWithNames", "JSON", "JSONEachRow", "JSONCompact", "JSONCompactEachRow",
                     "RowBinary", "RowBinaryWithNamesAndTypes", "Pretty", "PrettyCompact",
                     "Arrow", "Parquet"})  # fmt: skip
_CODE = re.compile(r"Code: (\d+)\.")


class QueryEndpoint:
    def __init__(self, side: ReadSide, tokens: Tokens, limits: ReadSettings, port: int) -> None:
        require_loopback("127.0.0.1", "query endpoint")
        self.side = side
        self.tokens = tokens
        self.limits = limits
        self._server = _BoundedServer(("127.0.0.1", port), _handler(self), limits.max_connections)
        self.port = int(self._server.server_address[1])
        self.hosts = allowed_hosts(self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> QueryEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def answer(self, sql: str, params: dict[str, str], operator: str) -> tuple[bytes, str]:
        """The result bytes and their format; raises on refusal or a ClickHouse error."""
        session = self.side.session(operator, via="endpoint")
        match = _FORMAT.search(sql)
        fmt = match[1] if match else params.get("default_format", "TabSeparated")
        statement = sql[: match.start()] if match else sql
        if fmt not in FORMATS:
            refusal = RequestRefusedError("this output format is not served", reason="format")
            session.refused("query", refusal, sql=sql)
            raise refusal
        bound = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        return session.raw(statement, bound, fmt), fmt

    def refused(self, exc: Exception) -> None:
        """Record a request refused before it named an operator (PCI-DSS 10.2.4)."""
        self.side.session("unauthenticated", via="endpoint").refused("query", exc)


class _BoundedServer(ThreadingHTTPServer):
    """A thread per connection, at most ``limit`` at once; more are closed at once."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: Any, limit: int) -> None:
        self._slots = threading.BoundedSemaphore(limit)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                b"Connection: close\r\n\r\n")  # fmt: skip
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def _handler(endpoint: QueryEndpoint) -> type[BaseHTTPRequestHandler]:
    limits = endpoint.limits

    class Handler(BaseHTTPRequestHandler):
        timeout = limits.idle_timeout_s  # a silent or slow client is dropped
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._refuse(405, "SQL is accepted only as a POST body")

        def do_OPTIONS(self) -> None:
            self._refuse(403, "cross-origin requests are refused")

        def do_POST(self) -> None:
            try:
                check_request({k.lower(): v for k, v in self.headers.items()}, endpoint.hosts)
                length = self._length()
                operator = endpoint.tokens.operator(self._token())
            except (RequestRefusedError, NotAuthenticatedError) as exc:
                endpoint.refused(exc)
                self.close_connection = True
                self._refuse(403 if isinstance(exc, RequestRefusedError) else 401, str(exc))
                return
            params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            body = self.rfile.read(length)
            text = body.decode("utf-8", "replace")
            sql = " ".join(p for p in (params.get("query", ""), text) if p)
            if not sql.strip():
                self._send(200, b"Ok.\n", {})
                return
            try:
                data, fmt = endpoint.answer(sql, params, operator)
            except (McpAuditError, DatabaseError) as exc:
                code = _CODE.search(str(exc))
                text = str(exc) if code else f"Code: 164. DB::Exception: {exc}. (READONLY)"
                headers = {"X-ClickHouse-Exception-Code": code[1] if code else "164"}
                self._send(500, text.encode() + b"\n", headers)
                return
            summary = json.dumps({"read_rows": "0", "written_rows": "0"})
            headers = {"X-ClickHouse-Format": fmt, "X-ClickHouse-Timezone": "UTC",
                       "X-ClickHouse-Summary": summary}  # fmt: skip
            self._send(200, data, headers)

        def _length(self) -> int:
            raw = self.headers.get("Content-Length")
            if self.headers.get("Transfer-Encoding") or raw is None or not raw.isdigit():
                raise RequestRefusedError("a Content-Length body is required", reason="length")
            if int(raw) > limits.max_body_bytes:
                raise RequestRefusedError(
                    "the request body is too large", reason="too-large", limit=limits.max_body_bytes
                )
            return int(raw)

        def _token(self) -> str:
            key = self.headers.get("X-ClickHouse-Key")
            if key:
                return key
            scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() == "basic":
                try:
                    return base64.b64decode(encoded, validate=True).decode().split(":", 1)[-1]
                except (binascii.Error, UnicodeDecodeError):
                    pass
            raise NotAuthenticatedError("a read token is required", reason="no-token")

        def _refuse(self, status: int, text: str) -> None:
            self._send(status, f"Code: 497. DB::Exception: {text}. (ACCESS_DENIED)\n".encode(),
                       {"X-ClickHouse-Exception-Code": "497"})  # fmt: skip

        def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            with contextlib.suppress(OSError):  # the client went away
                self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("query endpoint: " + format, *args)

    return Handler


def port_answers(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port`` (a running ``up``'s endpoint)."""
    with socket.socket() as probe:
        probe.settimeout(0.3)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def serve_queries(store: Client, sink: SinkSettings, read: ReadSettings) -> Iterator[None]:
    """While inside, serve the query endpoint on ``read.port`` for the embedded ``store``.

    Only the process that owns an embedded store needs it (chDB allows one);
    a ClickHouse server has its own HTTP interface and reader users.
    """
    if not read.port or not is_embedded(sink.clickhouse_url):
        yield
        return
    tokens = Tokens(read.token_file)
    tokens.ensure()
    side = ReadSide(store, sink, read)
    endpoint = QueryEndpoint(side, tokens, read, read.port).start()
    try:
        yield
    finally:
        endpoint.stop()
        side.close()
