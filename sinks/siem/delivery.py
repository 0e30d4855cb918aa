"""Delivering documents to the webhook: retry what may pass, find the records it rejects.

Documents go in requests of at most ``batch_size``, in order, one request at a
time, so the SIEM receives them in the order given. An answer that may pass is
retried with exponential backoff and jitter (waiting at least what a
``Retry-After`` asks), without limit unless ``max_retries`` is set; nothing is
skipped. A rejection of several records does not say which one is at fault,
so the request is split in halves, each delivered again, down to single
records; a single record still rejected is handed back for the dead-letter
topic. The destination's other records are then delivered once each: a
rejected request was not taken in (Splunk HEC may keep the events before a bad
one: those arrive twice, with the same ``metadata.uid``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from schemas.backoff import Backoff
from sinks.errors import SiemRefusedError, SiemUnavailableError
from sinks.siem.settings import SiemSettings
from sinks.siem.webhook import Poster, Reply, Verdict

log = logging.getLogger(__name__)
# A Retry-After beyond this is more likely a destination's bug than its plan; the
# next answer may ask again.
RETRY_AFTER_CEILING_S = 300.0

Wait = Callable[[float], bool]
"""Waits that many seconds; False if the forwarder was stopped meanwhile."""


class WebhookDelivery:
    """Documents to the SIEM webhook in order, each accepted or handed back (module doc)."""

    def __init__(
        self,
        webhook: Poster,
        settings: SiemSettings,
        wait: Wait,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.webhook = webhook
        self.settings = settings
        self._wait = wait
        self._jitter = jitter
        self.requests = 0

    def deliver(self, documents: list[dict[str, Any]]) -> list[tuple[int, str]] | None:
        """Deliver ``documents``; the indices and reasons of those the webhook rejects.

        None if stopped before every document was accepted or rejected. Raises
        :class:`SiemRefusedError` when the webhook refuses the forwarder itself, and
        :class:`SiemUnavailableError` when ``max_retries`` retries did not get through.
        """
        rejected: list[tuple[int, str]] = []
        size = self.settings.batch_size
        for start in range(0, len(documents), size):
            end = min(start + size, len(documents))
            if not self._deliver(documents, start, end, rejected):
                return None
        return rejected

    def _deliver(
        self, documents: list[dict[str, Any]], start: int, end: int, rejected: list[tuple[int, str]]
    ) -> bool:
        reply = self._send(documents[start:end])
        if reply is None:
            return False
        if reply.verdict is Verdict.ACCEPTED:
            return True
        if end - start == 1:
            rejected.append((start, reply.detail))
            return True
        middle = (start + end) // 2
        return self._deliver(documents, start, middle, rejected) and self._deliver(
            documents, middle, end, rejected
        )

    def _send(self, documents: list[dict[str, Any]]) -> Reply | None:
        """The accepting or rejecting reply, retrying the others; None if stopped."""
        backoff = Backoff(self.settings.backoff_base_s, self.settings.backoff_cap_s)
        retries = 0
        while True:
            self.requests += 1
            reply = self.webhook.post(documents)
            verdict = reply.verdict
            if verdict in (Verdict.ACCEPTED, Verdict.REJECTED):
                return reply
            if verdict is Verdict.REFUSED:
                raise SiemRefusedError(
                    "the SIEM webhook refuses the forwarder; check its URL and token",
                    status=reply.status,
                    detail=reply.detail,
                )
            if self.settings.max_retries and retries >= self.settings.max_retries:
                raise SiemUnavailableError(
                    "the SIEM webhook did not accept a batch; it will be sent again next run",
                    attempts=retries + 1,
                    last=reply.detail,
                )
            retries += 1
            wait = self._spread(backoff.wait())
            if reply.retry_after_s is not None:
                wait = max(wait, min(reply.retry_after_s, RETRY_AFTER_CEILING_S))
            log.warning(
                "SIEM webhook did not take %d documents (%s); retry %d in %.1fs",
                len(documents), reply.detail or "no answer", retries, wait,
            )  # fmt: skip
            if not self._wait(wait):
                return None

    def _spread(self, wait: float) -> float:
        # Half fixed, half random: waits still grow, but forwarders that failed
        # together do not all come back at the same instant.
        return wait / 2 + self._jitter() * wait / 2
