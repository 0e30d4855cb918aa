"""The machinery integrations share, and the proxies: MCP JSON-RPC auditing, ``_meta``, callers.

:mod:`.rpc` audits wire-shaped JSON-RPC for the proxies and both SDK middlewares;
:mod:`.mcp_meta` and :mod:`.mcp_auth` read what the wire and the frameworks say about
the caller. The stdio and streamable-HTTP proxies are the ``proxy_*`` modules. The
middlewares users import stay where they import them: :mod:`producers.fastmcp_audit`,
:mod:`producers.mcpserver_audit`, :mod:`producers.decorator`, :mod:`producers.api`.
"""
