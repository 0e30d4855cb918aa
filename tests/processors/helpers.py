"""Building a BatchEnricher the way the app does, for tests that need no broker."""

from __future__ import annotations

from processors.batch import BatchEnricher
from processors.messages import RawMessage
from processors.settings import ProcessorSettings
from processors.wiring import build_enricher

SECOND_US = 1_000_000


def enricher(call_timeout_s: float = 5.0) -> BatchEnricher:
    """An enricher with default settings and plain dicts for detector state."""
    settings = ProcessorSettings.load(environ={}, call_timeout_s=call_timeout_s)
    return build_enricher(settings, state=None)


def raw(value: bytes | None, offset: int = 0, key: bytes | None = b"u") -> RawMessage:
    return RawMessage("raw", 0, offset, key, value, [("origin", b"test")])
