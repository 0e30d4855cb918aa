"""A tree head on the alert topic: an alert's first version, the head in its attributes."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.digest import sign_head
from schemas.kafka import KafkaSettings
from schemas.wire import Deserializer
from sinks.head_publishers import DETECTOR, AlertTopic
from sinks.signing import FileSigner
from tests.sinks.kafka_helpers import read_all

pytestmark = pytest.mark.broker


def test_a_head_is_a_first_version_so_verify_does_not_read_a_forged_later_one(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    head = sign_head(FileSigner(keys), 0, 3600, 67, bytes(32), "", 3_700_000_000)
    publisher = AlertTopic(kafka_settings)
    try:
        publisher.publish(head)
    finally:
        publisher.close()
    [message] = read_all(kafka_settings, kafka_settings.topic_alerts, 1)
    alert = Deserializer("Alert")(message.value())
    assert alert["detector"] == DETECTOR
    # verify reads a count above 1 as a later version of a folded alert (sinks/verify_sealed)
    assert alert["count"] == 1
    assert alert["attributes"]["tree_size"] == "67"
    assert alert["attributes"]["head_hash"] == head.head_hash
