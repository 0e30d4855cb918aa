"""Dead letters the broker does not acknowledge are the broker's failure, named as such."""

from __future__ import annotations

import pytest

from mcp_audit.embedded.broker import free_port
from schemas.kafka import KafkaSettings
from sinks.dead_letter import DeadLetters
from sinks.errors import BrokerUnavailableError, StoreUnavailableError
from tests.sinks.helpers import FakeMessage


def test_letters_no_broker_acknowledges_raise_the_broker_error_not_the_stores() -> None:
    # Nothing listens on that port: no broker can acknowledge the letter.
    kafka = KafkaSettings.load(environ={}, bootstrap_servers=f"127.0.0.1:{free_port()}")
    letters = DeadLetters(kafka)
    letters.send(FakeMessage(b"\x00bad"), "invalid", "no such schema")
    with pytest.raises(BrokerUnavailableError) as refused:
        letters.flush(timeout_s=0.5)
    assert not isinstance(refused.value, StoreUnavailableError)  # ClickHouse is not the cause
    assert refused.value.fields == {"topic": kafka.topic_dead_letter, "pending": 1}
