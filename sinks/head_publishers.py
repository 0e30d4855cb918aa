"""Where signed tree heads go besides the store, so that a rewritten store cannot match them.

A :class:`HeadPublisher` receives every head the sealer signs. :class:`HeadsFile`
appends it as a JSON line (fsynced) to a file an auditor copies off;
:class:`AlertTopic` sends it to the alert topic as a LOW ``tree-head`` alert,
which the SIEM forwarder passes on. ``mcp-audit verify --published-heads FILE``
compares the store's heads with such a file (:func:`read_heads_file`).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Protocol

from confluent_kafka import Producer

from schemas.alert_record import alert_record
from schemas.digest import DigestError, TreeHead
from schemas.kafka import KafkaSettings
from schemas.wire import SingleObjectSerializer

log = logging.getLogger(__name__)
DETECTOR = "tree-head"


class HeadPublisher(Protocol):
    def publish(self, head: TreeHead) -> None: ...


class HeadsFile:
    def __init__(self, path: Path) -> None:
        self.path = path

    def publish(self, head: TreeHead) -> None:
        line = json.dumps(head.as_dict(), sort_keys=True, separators=(",", ":")) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)


def read_heads_file(path: Path) -> list[TreeHead]:
    heads = []
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise DigestError("cannot read the published heads", path=str(path)) from exc
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                heads.append(TreeHead.from_dict(json.loads(line)))
            except (ValueError, DigestError) as exc:
                raise DigestError("not a tree head", path=str(path), line=number) from exc
    return heads


class AlertTopic:
    """Each head as an Alert record; the head itself travels in ``attributes``."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self.topic = kafka.topic_alerts
        self._producer = Producer({**kafka.client_config(), "enable.idempotence": True})
        self._encode = SingleObjectSerializer("Alert")

    def publish(self, head: TreeHead) -> None:
        attributes = {k: str(v) for k, v in head.as_dict().items()}
        alert = alert_record(
            detector=DETECTOR,
            severity="LOW",
            time_us=head.sealed_at_us,
            summary=f"tree head: {head.tree_size} events sealed, root {head.root_hash[:16]}",
            window=(head.period_start_us, head.period_end_us),
            attributes=attributes,  # the size too: a head alert is a first version, count 1
        )
        self._producer.produce(self.topic, value=self._encode(alert))
        if self._producer.flush(10.0):
            log.warning("tree head for %s not acknowledged by the broker", head.period_start_us)

    def close(self) -> None:
        self._producer.flush(10.0)
