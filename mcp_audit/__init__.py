"""mcp-audit: the audit trail for MCP servers. This package composes the parts."""

__version__ = "0.1.0"
