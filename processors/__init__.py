"""Processors: Faust agents that enrich raw audit events and raise alerts."""
