"""Who is calling, as an MCP server framework exposes it: session, client and OAuth token.

Shared by the FastMCP and MCP SDK integrations. Every lookup is defensive:
outside a request, or on a transport without a session or auth, the field is
simply absent (never an error; never a dependency on a session id).
"""

from __future__ import annotations

from typing import Any


def token_facts(token: Any) -> dict[str, Any]:
    """user id (OAuth subject), client id and scopes from an SDK or FastMCP AccessToken."""
    if token is None:
        return {"auth_method": None}
    return {
        "user_id": getattr(token, "subject", None),
        "client_id": getattr(token, "client_id", None),
        "scopes": tuple(getattr(token, "scopes", ()) or ()),
        "auth_method": "oauth",
    }


def client_facts(session: Any) -> dict[str, Any]:
    """The client's name and version from the initialize handshake, when there was one."""
    params = getattr(session, "client_params", None)
    info = getattr(params, "client_info", None)
    return {
        "client_name": getattr(info, "name", None),
        "client_version": getattr(info, "version", None),
    }


def caller_facts(*, session: Any, session_id: Any, token: Any) -> dict[str, Any]:
    """Actor fields the framework knows; None values mean "not known here"."""
    facts = {**client_facts(session), **token_facts(token)}
    facts["session_id"] = session_id if isinstance(session_id, str) else None
    return facts


def sdk_access_token() -> Any:
    try:
        from mcp.server.auth.middleware.auth_context import get_access_token
    except ImportError:  # pragma: no cover - the SDK is a dependency
        return None
    return get_access_token()
