"""Producers: audit MCP calls from inside MCP servers and publish them to Kafka."""
