"""Sinks: store enriched events and alerts in ClickHouse (embedded chDB or a server)."""
