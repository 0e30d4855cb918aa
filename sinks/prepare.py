"""Turns a batch's messages into Avro container files for one table, setting aside bad ones.

Single-object messages of the current schema are regrouped and concatenated
without decoding (:mod:`sinks.ocf`). Anything else (Confluent framing, an
older released schema) is re-encoded one by one into the current schema through
the shared wire codecs: correct, only slower.
Messages that cannot belong to the table (unknown schema, another record,
unreadable framing) are returned as rejections for the dead-letter topic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any

from schemas import registry
from schemas.errors import DeserializationError, UnknownSchemaError
from schemas.wire import SINGLE_OBJECT_MAGIC
from sinks.ocf import HEADER_SIZE, container_buffers, fingerprint_of


@dataclass(frozen=True)
class Rejection:
    message: Any
    reason: str
    detail: str


@dataclass
class Prepared:
    # Each file as its buffers: the writer hands them to the OS without joining them.
    files: list[list[bytes]] = field(default_factory=list)
    accepted: list[Any] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def prepare(
    record: str,
    messages: Sequence[Any],
    parts: int,
    reencode: Callable[[bytes], bytes],
) -> Prepared:
    """Files for ``messages`` of ``record``, at most ``parts`` per writer schema."""
    current = registry.current(record).fingerprint
    values = [message.value() or b"" for message in messages]
    if _all_single_object(values, current):
        prepared = Prepared()
        _add_files(prepared, current, list(messages), values, parts)
        return prepared
    return _prepare_mixed(record, messages, parts, reencode)


def _all_single_object(values: list[bytes], fingerprint: bytes) -> bool:
    """Whether every value is a current single-object message (checked without a Python loop)."""
    header = SINGLE_OBJECT_MAGIC + fingerprint
    return (
        bool(values)
        and min(map(len, values)) > HEADER_SIZE
        and all(map(bytes.startswith, values, repeat(header)))
    )


def _prepare_mixed(
    record: str, messages: Sequence[Any], parts: int, reencode: Callable[[bytes], bytes]
) -> Prepared:
    """The general case: messages regrouped by writer schema, strays re-encoded or rejected."""
    prepared = Prepared()
    groups: dict[bytes, list[Any]] = {}
    for message in messages:
        fingerprint = fingerprint_of(message.value() or b"")
        if fingerprint is None:
            _reencode_one(message, reencode, groups, prepared)
        else:
            groups.setdefault(fingerprint, []).append(message)
    current = registry.current(record).fingerprint
    for fingerprint in [f for f in groups if f != current]:
        members = groups.pop(fingerprint)
        problem = _schema_problem(record, fingerprint)
        if problem:
            prepared.rejected.extend(Rejection(m, *problem) for m in members)
            continue
        # An older released version: ClickHouse reads every file with the current
        # structure, and a nullable record read as a tuple must match it leaf for
        # leaf ("number of leaves ... doesn't match"), so resolve it to the current
        # schema here. Only events written before an upgrade take this path.
        for message in members:
            _reencode_one(message, reencode, groups, prepared)
    for fingerprint, members in groups.items():
        _add_files(prepared, fingerprint, members, [m.value() for m in members], parts)
    return prepared


def _reencode_one(
    message: Any,
    reencode: Callable[[bytes], bytes],
    groups: dict[bytes, list[Any]],
    prepared: Prepared,
) -> None:
    try:
        converted = _Reencoded(message, reencode(message.value() or b""))
    except DeserializationError as exc:
        prepared.rejected.append(Rejection(message, exc.reason, str(exc)))
        return
    fingerprint = fingerprint_of(converted.value())
    groups.setdefault(fingerprint or b"", []).append(converted)


def _schema_problem(record: str, fingerprint: bytes) -> tuple[str, str] | None:
    try:
        writer = registry.by_fingerprint(fingerprint)
    except UnknownSchemaError as exc:
        return exc.reason, str(exc)
    if writer.record != record:
        return "wrong-record", f"expected {record}, found {writer.record}"
    return None


def _add_files(
    prepared: Prepared, fingerprint: bytes, members: list[Any], values: list[bytes], parts: int
) -> None:
    size = -(-len(members) // parts)
    for start in range(0, len(members), size):
        prepared.files.append(container_buffers(fingerprint, values[start : start + size]))
        prepared.accepted.extend(members[start : start + size])


class _Reencoded:
    """A message whose value was re-encoded as single-object; where it came from is kept."""

    __slots__ = ("_value", "original")

    def __init__(self, original: Any, value: bytes) -> None:
        self.original = original
        self._value = value

    def value(self) -> bytes:
        return self._value

    def __getattr__(self, name: str) -> Any:
        return getattr(self.original, name)
