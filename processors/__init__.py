"""mcp-audit processors: enrich raw audit events with risk, compliance and anomalies; alert."""

__version__ = "0.1.0"
