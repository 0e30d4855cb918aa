"""``mcp-audit up --demo``: real MCP servers and an SDK client making audited traffic."""
