"""Fixtures of the processors tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.kafka import KafkaSettings
from tests.processors.worker import Workers


@pytest.fixture
def workers(kafka_settings: KafkaSettings, tmp_path: Path) -> Iterator[Workers]:
    running = Workers(kafka_settings, tmp_path)
    try:
        yield running
    finally:
        for worker in running.started:
            worker.stop()
