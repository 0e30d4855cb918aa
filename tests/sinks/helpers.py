"""Small builders shared by the sink tests: real encoded messages and migrated databases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas import registry
from schemas.wire import SingleObjectSerializer
from sinks.ocf import container_file
from tests.schemas.factories import audit_event, enriched_event

ENCODE_ENRICHED = SingleObjectSerializer("EnrichedEvent")
ENCODE_ALERT = SingleObjectSerializer("Alert")
FINGERPRINT = registry.current("EnrichedEvent").fingerprint


@dataclass
class FakeMessage:
    """The shape of a confluent-kafka Message, for code that only reads it (no broker involved)."""

    _value: bytes
    _offset: int = 0
    _partition: int = 0
    _topic: str = "enriched"
    _key: bytes | None = None

    def value(self) -> bytes:
        return self._value

    def offset(self) -> int:
        return self._offset

    def partition(self) -> int:
        return self._partition

    def topic(self) -> str:
        return self._topic

    def key(self) -> bytes | None:
        return self._key

    def error(self) -> None:
        return None

    def headers(self) -> None:
        return None


def varied_event(index: int, **event_overrides: Any) -> dict[str, Any]:
    """An enriched event with its own id, user, session and time."""
    event = audit_event(
        event_id=str(uuid.uuid4()),
        event_time=datetime(2026, 11, 22, 12, tzinfo=UTC) + timedelta(seconds=index),
        **event_overrides,
    )
    event["actor"]["user_pseudonym"] = f"{index % 7:064x}"
    event["actor"]["session_id"] = f"s-{index % 11}"
    return enriched_event(event=event)


def messages(count: int, start: int = 0, topic: str = "enriched") -> list[FakeMessage]:
    return [
        FakeMessage(ENCODE_ENRICHED(varied_event(start + i)), start + i, 0, topic)
        for i in range(count)
    ]


def files_of(values: list[bytes], parts: int = 2) -> list[bytes]:
    size = -(-len(values) // parts)
    return [container_file(FINGERPRINT, values[i : i + size]) for i in range(0, len(values), size)]


def point_cli_at(
    monkeypatch: pytest.MonkeyPatch, url: str, database: str | None, keys: Path
) -> None:
    """Make the CLI's commands, run in this process, read this store and key directory."""
    monkeypatch.setenv("MCP_AUDIT_SINK_CLICKHOUSE_URL", url)
    monkeypatch.setenv("MCP_AUDIT_SINK_DATABASE", database or "")
    monkeypatch.setenv("MCP_AUDIT_SINK_SIGNING_KEY_DIR", str(keys))
