"""Follow a JSON-RPC conversation from the side and audit it.

Fed complete lines (newline-delimited JSON, as MCP's stdio transport frames
them) from both directions by :mod:`producers.integrations.proxy_stdio`. Matches each
client request to its response by JSON-RPC id, ends calls the client cancels,
and at :meth:`close` records every request that never got an answer. Lines
that are not JSON-RPC are ignored (the bytes were forwarded anyway). Runs on
one thread; never raises.

A line orjson refuses is read again with Python's lenient parser: servers'
parsers accept NaN, infinities and lone surrogates (pydantic's, Python's,
JavaScript's), so a request written that way still runs and must be audited.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

import orjson

from producers.call import Call
from producers.integrations.rpc import RpcAudit

log = logging.getLogger(__name__)


class Unanswered(Exception):
    """Recorded for a request whose connection closed before any response."""

    audit_type = "unanswered"


class ConversationAudit:
    def __init__(self, rpc: RpcAudit) -> None:
        self.rpc = rpc
        self._pending: dict[str, tuple[str, Call | None]] = {}  # request id -> (method, call)

    def from_client(self, line: bytes) -> None:
        for message in _messages(line):
            method = message.get("method")
            if method == "notifications/cancelled":
                params = message.get("params")
                self._cancelled(params if isinstance(params, Mapping) else {})
            elif isinstance(method, str) and "id" in message:
                params = message.get("params")
                params = params if isinstance(params, Mapping) else {}
                call = self.rpc.begin(method, params, message["id"])
                key = _key(message["id"])
                _, earlier = self._pending.get(key, ("", None))
                if (
                    earlier is not None
                ):  # an id reused before its answer: which is answered is unknown
                    earlier.end("UNKNOWN", error=Unanswered("request id reused before a response"))
                self._pending[key] = (method, call)

    def from_server(self, line: bytes) -> None:
        for message in _messages(line):
            if "method" in message or "id" not in message:
                continue  # server-initiated requests and notifications are not calls
            method, call = self._pending.pop(_key(message["id"]), ("", None))
            if call is not None:
                self.rpc.end(call, message.get("result"), message.get("error"))
            if method == "tools/list" and "result" in message:
                self.rpc.tools_listed(message["result"])

    def _cancelled(self, params: Mapping[str, Any]) -> None:
        _, call = self._pending.pop(_key(params.get("requestId")), ("", None))
        if call is not None:
            call.end("CANCELLED", error=Unanswered(str(params.get("reason") or "cancelled")))

    def close(self) -> None:
        """Record every request still waiting for its response."""
        for _, call in self._pending.values():
            if call is not None:
                call.end("TIMEOUT", error=Unanswered("no response before the connection closed"))
        self._pending.clear()


def _key(request_id: Any) -> str:
    # JSON-RPC ids are strings or numbers; 1 and "1" are different requests.
    return f"{type(request_id).__name__}:{request_id}"


def _messages(line: bytes) -> list[Mapping[str, Any]]:
    try:
        decoded = orjson.loads(line)
    except orjson.JSONDecodeError:
        try:
            decoded = json.loads(line)
        except (ValueError, RecursionError):
            return []
    batch = decoded if isinstance(decoded, list) else [decoded]
    return [m for m in batch if isinstance(m, Mapping)]
