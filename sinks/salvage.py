"""Finds the rows ClickHouse refuses in a rejected batch, stores the rest.

Rare path, so it favours certainty over speed: every message is decoded with
the shared fastavro codec (what fails goes to the dead-letter topic with the
decoder's reason), then the decodable ones are inserted in halves, down to the
single row ClickHouse refuses, which goes to the dead-letter topic with
ClickHouse's reason. Sub-batch tokens derive from the batch token and the
positions, so a salvage that is itself retried stores nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from schemas.errors import DeserializationError
from schemas.wire import Deserializer
from sinks.errors import BatchRejectedError

Insert = Callable[[Sequence[Any], str], None]
Reject = Callable[[Any, str, str], None]


def salvage(
    record: str, messages: Sequence[Any], token: str, insert: Insert, reject: Reject
) -> int:
    """Store what can be stored; returns how many messages were dead-lettered."""
    decode = Deserializer(record)
    decodable = []
    for message in messages:
        try:
            decode(message.value())
        except DeserializationError as exc:
            reject(message, exc.reason, str(exc))
            continue
        decodable.append(message)
    rejected = len(messages) - len(decodable)
    return rejected + _bisect(decodable, 0, token, insert, reject)


def _bisect(messages: Sequence[Any], start: int, token: str, insert: Insert, reject: Reject) -> int:
    if not messages:
        return 0
    try:
        insert(messages, f"{token}/{start}+{len(messages)}")
        return 0
    except BatchRejectedError as exc:
        if len(messages) == 1:
            reject(messages[0], "rejected-by-clickhouse", str(exc))
            return 1
    middle = len(messages) // 2
    return _bisect(messages[:middle], start, token, insert, reject) + _bisect(
        messages[middle:], start + middle, token, insert, reject
    )
