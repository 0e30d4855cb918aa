"""Building a BatchEnricher the way the app does, for tests that need no broker."""

from __future__ import annotations

from processors.alerts import AlertFolder
from processors.batch import BatchEnricher
from processors.correlation import CallCorrelator
from processors.detectors.suite import DetectorSuite
from processors.messages import RawMessage
from processors.rules_file import load_rules

SECOND_US = 1_000_000


def enricher(call_timeout_s: float = 5.0) -> BatchEnricher:
    return BatchEnricher(
        load_rules(),
        DetectorSuite({}, {}),
        CallCorrelator(int(call_timeout_s * SECOND_US), 1000),
        AlertFolder(300 * SECOND_US),
        max_future_us=3600 * SECOND_US,
        max_age_us=365 * 86_400 * SECOND_US,
        version="test",
    )


def raw(value: bytes | None, offset: int = 0, key: bytes | None = b"u") -> RawMessage:
    return RawMessage("raw", 0, offset, key, value, [("origin", b"test")])
