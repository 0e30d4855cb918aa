"""Enriched records no processors' key vouches for: set aside for the dead-letter topic
and alerted, never stored as genuine (:mod:`schemas.record_mac`).

Lifecycle: one :class:`Vouching` per sink when ``MCP_AUDIT_SINK_PROCESSOR_KEYS_DIR`` is
set; :meth:`Vouching.split` runs on each batch's enriched messages before they are
prepared, so a refused record never reaches ClickHouse; the store dead-letters the
refused ones (reason ``unverified-processor``) and sends one CRITICAL alert per batch
that had any (:func:`refusal_alert`).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemas.alert_record import alert_record
from schemas.integrity import load_key_dir
from schemas.record_mac import REASON, RecordCheck
from sinks.prepare import Rejection

log = logging.getLogger(__name__)
DETECTOR = "unverified_enriched"


class Vouching:
    def __init__(self, keys_dir: Path) -> None:
        self.check = RecordCheck(load_key_dir(keys_dir, "processors'"))
        log.info("enriched records checked under processors' keys %s", self.check.key_ids)

    def split(self, messages: Sequence[Any]) -> tuple[list[Any], list[Rejection]]:
        """The messages a held key vouches for, and the others as rejections."""
        refusal = self.check.refusal
        kept: list[Any] = []
        refused: list[Rejection] = []
        for message in messages:
            why = refusal(message.value(), message.headers())
            if why is None:
                kept.append(message)
            else:
                refused.append(Rejection(message, REASON, why))
        return kept, refused


def refusal_alert(refused: Sequence[Rejection], now_us: int | None = None) -> dict[str, Any]:
    """One Alert record for a batch's refused records: how many, why, where the first was.
    Its count stays 1 (a folded count would need evidence ids, and nothing refused is
    stored); the number refused is in the summary and ``attributes``."""
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    first = refused[0].message
    why = Counter(r.detail for r in refused)
    place = f"{first.topic()}[{first.partition()}]@{first.offset()}"
    return alert_record(
        detector=DETECTOR,
        severity="CRITICAL",
        time_us=now_us,
        summary=(
            f"{len(refused)} enriched records refused, no processors' key vouches for them"
            f" (first at {place}: {refused[0].detail}); they are on the dead-letter topic"
        ),
        attributes={
            "refused": str(len(refused)),
            "first_topic": str(first.topic()),
            "first_partition": str(first.partition()),
            "first_offset": str(first.offset()),
            **{f"why:{reason}": str(n) for reason, n in why.most_common(5)},
        },
    )
