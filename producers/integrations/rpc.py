"""Audit MCP JSON-RPC traffic: the shared core of the proxy and the SDK middlewares.

Works on wire-shaped dicts (camelCase keys, ``_meta``), so it does not depend
on any SDK's models. Never depends on a session id: a request is identified by
its JSON-RPC id and, when the client sends one, the W3C ``traceparent`` in
``_meta``. 2026-07-28 requests carry client info and protocol version in
``_meta`` instead of an initialize handshake; both are read from either place.

Every audited request leaves its ATTEMPT: reading the request is total (see
:mod:`producers.integrations.mcp_meta`), and a failure anyway still writes the minimal ATTEMPT
of :meth:`producers.auditor.Auditor.begin_minimal` (server, method, target, request
id and the reason), so its RESULT follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from producers.auditor import Auditor
from producers.call import Call
from producers.errors import AuditRefused
from producers.event.model import Actor, Annotations
from producers.event.origin import producer_info
from producers.integrations.mcp_meta import (
    NAME_LIMIT,
    PROTOCOL_VERSION_KEY,
    TARGET_LIMIT,
    ai_context,
    annotations_of,
    client_info,
    protocol_version,
    tool_fingerprint,
    trace_context,
    wire_text,
)

# method -> (event type, the params key naming the target, the params key holding arguments)
AUDITED_METHODS = {
    "tools/call": ("TOOL_CALL", "name", "arguments"),
    "resources/read": ("RESOURCE_READ", "uri", None),
    "prompts/get": ("PROMPT_GET", "name", "arguments"),
}


class RpcAudit:
    """Turns one connection's requests and responses into audit events. Not thread-safe."""

    def __init__(
        self,
        auditor: Auditor,
        integration: str,
        transport: str | None,
        *,
        one_connection: bool = False,
    ) -> None:
        # Only a proxy sees one connection; a middleware serves many, so it must not
        # attribute one client's initialize to another client's requests.
        self.one_connection = one_connection
        self.auditor = auditor
        self.integration = integration
        self.transport = transport
        self.protocol_version: str | None = None
        self.client: tuple[str | None, str | None] = (None, None)

    def begin(
        self,
        method: str,
        params: Mapping[str, Any] | None,
        request_id: Any,
        facts: Mapping[str, Any] | None = None,
    ) -> Call | None:
        """The ATTEMPT of an audited request; None for methods that are not audited, and
        for an audited one only when not even its minimal ATTEMPT could be written.

        Never raises but :class:`AuditRefused`, for a fail-closed class.
        """
        spec = AUDITED_METHODS.get(method)
        if not isinstance(params, Mapping):
            params = {}
        if spec is None:
            if method == "initialize":
                self._initialize(params)
            return None
        kind, name_key, args_key = spec
        try:
            meta = params.get("_meta")
            if not isinstance(meta, Mapping):
                meta = None
            stated = meta.get(PROTOCOL_VERSION_KEY) if meta else None
            version = (stated is not None and protocol_version(stated)) or self.protocol_version
            producer = producer_info(self.integration, self.transport, version)
            return self.auditor.begin(
                kind, target_name(params.get(name_key)), params.get(args_key) if args_key else {},
                producer, actor=self.actor(params, facts), request_id=request_text(request_id),
                trace=trace_context(meta), ai=ai_context(meta),
            )  # fmt: skip
        except AuditRefused:
            raise
        except Exception as exc:
            return self.failed(method, params, request_id, f"request: {type(exc).__name__}")

    def failed(self, method: str, params: Any, request_id: Any, reason: str) -> Call | None:
        """The minimal ATTEMPT of a request that could not be read in full (``reason``);
        None for a method that is not audited. Raises only :class:`AuditRefused`."""
        spec = AUDITED_METHODS.get(method)
        if spec is None:
            self.auditor.counters.failure(method)
            return None
        try:
            name = target_name(params.get(spec[1])) if isinstance(params, Mapping) else ""
        except Exception:  # a JSON value nested past the recursion limit has no text
            name = ""
        try:
            request = request_text(request_id)
        except Exception:
            request = None
        producer = producer_info(self.integration, self.transport)
        return self.auditor.begin_minimal(
            spec[0], name, producer, request_id=request, reason=reason
        )

    def actor(self, params: Mapping[str, Any], facts: Mapping[str, Any] | None = None) -> Actor:
        """The caller: what the framework knows (``facts``), else the client info on the wire."""
        name, version = client_info(params)
        if name is None and self.one_connection:
            name, version = self.client
        known = {k: v for k, v in (facts or {}).items() if v is not None}
        return self.auditor.actor(**{"client_name": name, "client_version": version, **known})

    def _initialize(self, params: Mapping[str, Any]) -> None:
        try:
            self.protocol_version = protocol_version(params.get("protocolVersion"))
            self.client = client_info(params)
            producer = producer_info(self.integration, self.transport, self.protocol_version)
            actor = self.actor(params)
        except Exception:  # no call to audit: the session start is what is lost
            self.auditor.counters.failure("initialize")
            return
        self.auditor.record("SESSION_START", producer, actor=actor, method="initialize")

    def end(self, call: Call, result: Any = None, error: Any = None) -> None:
        """The RESULT: a JSON-RPC error, a tool result flagged isError, or success."""
        if error is not None:
            call.end("ERROR", error=RpcError(error))
        elif isinstance(result, Mapping) and result.get("isError"):
            call.end(
                "ERROR", error=RpcError({"message": _content_text(result), "code": "tool_error"})
            )
        else:
            call.end("SUCCESS", result=result)

    def tools_listed(self, result: Any) -> None:
        """Fingerprint each listed tool so later calls carry it, and audit the listing."""
        tools = result.get("tools") if isinstance(result, Mapping) else None
        if not isinstance(tools, list):
            return
        prints = {}
        for tool in tools:
            if isinstance(tool, Mapping) and isinstance(tool.get("name"), str):
                prints[tool["name"]] = tool_fingerprint(tool)
                self.auditor.annotations[tool["name"]] = annotations_of(tool) or Annotations()
        self.auditor.fingerprints.update(prints)
        producer = producer_info(self.integration, self.transport, self.protocol_version)
        self.auditor.record("TOOLS_LISTED", producer, method="tools/list", attributes=prints)


class RpcError(Exception):
    """A JSON-RPC error object as an exception, so it is audited like a raised one."""

    def __init__(self, error: Any) -> None:
        message = error.get("message", "") if isinstance(error, Mapping) else str(error)
        super().__init__(message)
        self.code = error.get("code") if isinstance(error, Mapping) else None
        self.audit_type = "tool_error" if self.code == "tool_error" else f"jsonrpc {self.code}"


def _content_text(result: Mapping[str, Any]) -> str:
    content = result.get("content")
    if not isinstance(content, list):
        return ""
    return " ".join(str(c.get("text", "")) for c in content if isinstance(c, Mapping))


def target_name(value: Any) -> str:
    """The tool, prompt or resource a request names; what it sent as text if not a string.
    Resource URIs can be long: cut at ``TARGET_LIMIT``, still far below a message's size."""
    if type(value) is str and len(value) <= TARGET_LIMIT and value.isascii():
        return value  # nearly every name: checked without a call
    if value is None:
        return ""
    text = wire_text(value, TARGET_LIMIT)
    return text if text is not None else wire_text(str(value), TARGET_LIMIT) or ""


def request_text(value: Any) -> str | None:
    """A JSON-RPC id as the event's request id (ids are strings or numbers; others as text)."""
    if value is None:
        return None
    text = value if type(value) is str else str(value)
    return text if len(text) <= NAME_LIMIT and text.isascii() else wire_text(text)
