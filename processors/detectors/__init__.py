"""Anomaly detectors: each reads one event's features and its own slice of per-user state."""
