"""FastMCP (4.x) middleware: ``mcp.add_middleware(AuditMiddleware())`` audits the whole server.

Tool calls, resource reads and prompt gets become ATTEMPT + RESULT events;
initialize becomes SESSION_START; tool listings fingerprint every tool so
later calls carry the fingerprint. A fail-closed class whose events cannot be
persisted is refused with a ToolError (an MCP error the client sees), and the
refusal is audited. Results and exceptions pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastmcp.exceptions import ToolError
from fastmcp.server.dependencies import get_access_token
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext

from producers.auditor import Auditor
from producers.call import Call
from producers.decorator import status_of
from producers.errors import AuditRefused
from producers.integrations.mcp_auth import caller_facts
from producers.integrations.mcp_meta import wire
from producers.integrations.rpc import RpcAudit
from producers.runtime import get_auditor


class AuditMiddleware(Middleware):
    def __init__(self, auditor: Auditor | None = None) -> None:
        self._auditor = auditor
        self._rpc: RpcAudit | None = None

    def _audit(self, context: MiddlewareContext[Any]) -> RpcAudit | None:
        try:
            auditor = self._auditor or get_auditor()
        except AuditRefused as refused:  # the producer could not start, and refuses
            raise ToolError(str(refused)) from refused
        if auditor is None:
            return None
        if self._rpc is None or self._rpc.auditor is not auditor:
            ctx = context.fastmcp_context
            self._rpc = RpcAudit(auditor, "fastmcp", getattr(ctx, "transport", None))
        return self._rpc

    def _facts(self, context: MiddlewareContext[Any]) -> dict[str, Any]:
        ctx = context.fastmcp_context
        try:
            session, session_id = ctx.session if ctx else None, ctx.session_id if ctx else None
        except RuntimeError:
            session, session_id = None, None
        return caller_facts(session=session, session_id=session_id, token=get_access_token())

    async def _audited(
        self,
        method: str,
        params: Mapping[str, Any],
        context: MiddlewareContext[Any],
        call_next: CallNext[Any, Any],
    ) -> Any:
        rpc = self._audit(context)
        call = self._begin(rpc, method, params, context) if rpc is not None else None
        if call is None:
            return await call_next(context)
        try:
            result = await call_next(context)
        except BaseException as error:
            call.end(status_of(error), error=error)
            raise
        try:
            assert rpc is not None
            rpc.end(call, wire(result))
        except Exception:
            call.end("UNKNOWN")
        return result

    def _begin(
        self, rpc: RpcAudit, method: str, params: Mapping[str, Any], context: MiddlewareContext[Any]
    ) -> Call | None:
        """The ATTEMPT, in full or minimal; only a fail-closed refusal escapes."""
        try:
            try:
                request_id, facts = _request_id(context), self._facts(context)
            except Exception as exc:  # who calls is unknown: the call is audited minimal
                return rpc.failed(method, params, None, f"caller: {type(exc).__name__}")
            return rpc.begin(method, params, request_id, facts)
        except AuditRefused as refused:
            raise ToolError(str(refused)) from refused

    async def on_call_tool(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await self._audited("tools/call", _named(context), context, call_next)

    async def on_read_resource(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        params = {"uri": str(context.message.uri), "_meta": context.message.meta}
        return await self._audited("resources/read", params, context, call_next)

    async def on_get_prompt(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        return await self._audited("prompts/get", _named(context), context, call_next)

    async def on_initialize(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        rpc = self._audit(context)
        if rpc is not None:
            params = getattr(context.message, "params", None)
            self._begin(rpc, "initialize", wire(params) or {}, context)
        return await call_next(context)

    async def on_list_tools(
        self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]
    ) -> Any:
        tools: Sequence[Any] = await call_next(context)
        rpc = self._audit(context)
        if rpc is not None:
            try:
                rpc.tools_listed({"tools": [wire(t.to_mcp_tool()) for t in tools]})
            except Exception:
                rpc.auditor.counters.failure("list_tools")
        return tools


def _named(context: MiddlewareContext[Any]) -> dict[str, Any]:
    """Wire-shaped params of a tool call or prompt get: name, arguments, _meta."""
    message = context.message
    return {"name": message.name, "arguments": message.arguments or {}, "_meta": message.meta}


def _request_id(context: MiddlewareContext[Any]) -> str | None:
    ctx = context.fastmcp_context
    try:
        return ctx.request_id if ctx is not None else None
    except RuntimeError:
        return None
