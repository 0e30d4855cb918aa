"""One module per ``mcp-audit`` subcommand."""
