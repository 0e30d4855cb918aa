"""The producer's counters: what heartbeats report and operators alert on.

Plain integers bumped without a lock: the I/O thread owns ``sent``,
``spooled`` and ``spool_bytes``; call-path counts are approximate under heavy
thread contention (a lost increment is possible, never a wrong direction).
"""

from __future__ import annotations

import logging
import time

from producers.settings import ProducerSettings

log = logging.getLogger("producers")
_LOG_EVERY_S = 10.0


class Counters:
    __slots__ = (
        "_last_log", "_spool_warned", "audit_failures", "dropped", "redactions", "sent",
        "spool_bytes", "spooled",
    )  # fmt: skip

    def __init__(self) -> None:
        self.sent = self.spooled = self.dropped = self.redactions = 0
        self.audit_failures = self.spool_bytes = 0
        self._last_log: dict[str, float] = {}
        self._spool_warned = False

    def _rate_limited(self, what: str) -> bool:
        now = time.monotonic()
        if now - self._last_log.get(what, -_LOG_EVERY_S) < _LOG_EVERY_S:
            return True
        self._last_log[what] = now
        return False

    def failure(self, where: str) -> None:
        """An error inside auditing: counted and logged (rate-limited), never raised."""
        self.audit_failures += 1
        if not self._rate_limited(where):
            log.error("audit failure in %s (total %d)", where, self.audit_failures, exc_info=True)

    def drop(self, why: str) -> None:
        self.dropped += 1
        if not self._rate_limited("drop"):
            log.error("audit event dropped: %s (total dropped %d)", why, self.dropped)

    def check_spool(self, size: int, settings: ProducerSettings) -> None:
        """Log once when the spool crosses its warning level, and once when it falls back."""
        near = size >= settings.spool_max_bytes * settings.spool_warn_fraction
        if near and not self._spool_warned:
            log.warning("audit spool is %d of %d bytes", size, settings.spool_max_bytes)
        elif not near and self._spool_warned:
            log.info("audit spool back to %d bytes", size)
        self._spool_warned = near
