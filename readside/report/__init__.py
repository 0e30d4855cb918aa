"""The compliance report: measured checks, per-framework scores, recommendations."""
