"""A loopback read-only query endpoint speaking enough of ClickHouse's HTTP interface.

chDB allows one process per data directory, so while the sink owns the
embedded store, people read through it: ``mcp-audit query`` (or any
clickhouse-connect client, Grafana excepted) points at
``http://127.0.0.1:PORT``. Every request runs on a ``readonly = 2``
connection (reads and settings only; ``readonly`` itself cannot be changed)
after :func:`sinks.readonly.check_read_only`, and every query other than a
client's connection probes is recorded as an AUDIT_ACCESS event naming the
HTTP user.

Lifecycle: ``QueryEndpoint(...).start()`` serves on a daemon thread;
``stop()`` closes the socket. It binds to 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from schemas.errors import McpAuditError
from sinks.access import record_access
from sinks.readonly import QUERY_SETTINGS, check_read_only
from sinks.writer import AvroWriter

log = logging.getLogger(__name__)
_TRANSPORT = {"query", "database", "query_id", "session_id", "default_format", "compress",
              "decompress", "user", "password", "wait_end_of_query", "session_timeout",
              "enable_http_compression", "client_protocol_version", "quota_key"}  # fmt: skip
_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_PROBES = (
    "SELECT version(), timezone()",
    "SELECT name, value, readonly FROM system.settings",
    "SELECT 1 AS check",
)
_CODE = re.compile(r"Code: (\d+)\.")


class QueryEndpoint:
    def __init__(self, reader: Client, writer: AvroWriter, port: int) -> None:
        self.reader = reader
        self.writer = writer
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> QueryEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def answer(self, sql: str, params: dict[str, str], user: str) -> tuple[bytes, str]:
        """The result bytes and their format; raises on refusal or a ClickHouse error."""
        statement = check_read_only(sql, allow=frozenset({"FORMAT", "SETTINGS"}))
        if not statement.startswith(_PROBES):
            record_access(self.writer, user, "query", sql=statement[:2000], via="endpoint")
        match = _FORMAT.search(statement)
        fmt = match[1] if match else params.get("default_format", "TabSeparated")
        settings = {k: v for k, v in params.items() if k not in _TRANSPORT and "param_" not in k}
        bound = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        body = self.reader.raw_query(
            statement if match else f"{statement}\nFORMAT {fmt}",
            parameters=bound or None,
            settings={**QUERY_SETTINGS, **settings},
        )
        return body, fmt


def _handler(endpoint: QueryEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self._serve(self.rfile.read(length))

        def _serve(self, body: bytes) -> None:
            params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            sql = " ".join(p for p in (params.get("query", ""), body.decode("utf-8")) if p)
            if not sql:
                self._send(200, b"Ok.\n", {})
                return
            try:
                data, fmt = endpoint.answer(sql, params, self._user(params))
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

        def _user(self, params: dict[str, str]) -> str:
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                return base64.b64decode(auth[6:]).decode("utf-8", "replace").split(":", 1)[0]
            return self.headers.get("X-ClickHouse-User") or params.get("user", "unknown")

        def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("query endpoint: " + format, *args)

    return Handler
