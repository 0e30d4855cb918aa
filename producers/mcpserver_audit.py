"""MCP Python SDK 2.x: ``MCPServer(..., middleware=[AuditServerMiddleware()])`` audits a server.

A context-tier ``ServerMiddleware``: it sees every inbound request with its
method, raw params, JSON-RPC id and ``_meta`` before validation, and the
handler's result or raised ``MCPError`` after. Tool calls, resource reads and
prompt gets become ATTEMPT + RESULT events, initialize SESSION_START, and
``tools/list`` results fingerprint the tools. A fail-closed class whose events
cannot be persisted is refused with an ``MCPError`` and the refusal audited.
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerMiddleware, ServerRequestContext
from mcp.shared.exceptions import MCPError

from producers.auditor import Auditor
from producers.call import Call
from producers.decorator import status_of
from producers.errors import AuditRefused
from producers.integrations.mcp_auth import caller_facts, sdk_access_token
from producers.integrations.mcp_meta import wire
from producers.integrations.rpc import RpcAudit
from producers.runtime import get_auditor

REFUSED_CODE = -32001  # server-defined JSON-RPC error range


class AuditServerMiddleware(ServerMiddleware[Any]):
    def __init__(self, auditor: Auditor | None = None) -> None:
        self._auditor = auditor
        self._rpc: RpcAudit | None = None

    def _audit(self) -> RpcAudit | None:
        try:
            auditor = self._auditor or get_auditor()
        except AuditRefused as refused:  # the producer could not start, and refuses
            raise MCPError(REFUSED_CODE, str(refused)) from refused
        if auditor is None:
            return None
        if self._rpc is None or self._rpc.auditor is not auditor:
            self._rpc = RpcAudit(auditor, "mcp-sdk", None)
        return self._rpc

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        rpc = self._audit()
        if rpc is None or ctx.request_id is None:
            return await call_next(ctx)
        call = self._begin(rpc, ctx)
        try:
            result = await call_next(ctx)
        except MCPError as error:
            if call is not None:
                rpc.end(call, error={"code": error.error.code, "message": error.error.message})
            raise
        except BaseException as error:
            if call is not None:
                call.end(status_of(error), error=error)
            raise
        self._after(rpc, ctx, call, result)
        return result

    def _begin(self, rpc: RpcAudit, ctx: ServerRequestContext[Any, Any]) -> Call | None:
        """The ATTEMPT, in full or minimal; only a fail-closed refusal escapes."""
        try:
            try:
                session_id = getattr(ctx, "session_id", None)
                token = sdk_access_token()
                facts = caller_facts(session=ctx.session, session_id=session_id, token=token)
            except Exception as exc:  # who calls is unknown: the call is audited minimal
                reason = f"caller: {type(exc).__name__}"
                return rpc.failed(ctx.method, ctx.params, ctx.request_id, reason)
            return rpc.begin(ctx.method, ctx.params, ctx.request_id, facts)
        except AuditRefused as refused:
            raise MCPError(REFUSED_CODE, str(refused)) from refused

    def _after(
        self, rpc: RpcAudit, ctx: ServerRequestContext[Any, Any], call: Call | None, result: Any
    ) -> None:
        try:
            if ctx.method == "tools/list":
                rpc.tools_listed(wire(result))
            if call is not None:
                rpc.end(call, wire(result))
        except Exception:
            rpc.auditor.counters.failure("mcp-sdk")
            if call is not None:  # the result could not be read: the RESULT says so
                call.end("UNKNOWN")
