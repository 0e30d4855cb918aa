"""The hash chain that makes a producer's stream tamper-evident.

Each event's ``integrity.hash`` is SHA-256 over the previous hash and the
chained fields below, in this order. The chain covers pseudonyms, identifiers
and digests, never raw personal data (IP, user agent, argument and result
values, error text), so erasing those keeps every hash valid. Producers compute
it; ``mcp-audit verify`` recomputes it from stored rows with the same function.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

CHAINED_FIELDS: tuple[tuple[str, ...], ...] = (
    ("event_id",),
    ("event_time",),
    ("event_type",),
    ("phase",),
    ("call_id",),
    ("actor", "user_pseudonym"),
    ("actor", "pseudonym_key_id"),
    ("actor", "client_id"),
    ("actor", "session_id"),
    ("actor", "tenant_id"),
    ("target", "server_id"),
    ("target", "tool_name"),
    ("target", "resource_uri"),
    ("target", "prompt_name"),
    ("target", "method"),
    ("target", "tool_fingerprint"),
    ("target", "classification"),
    ("payload", "args_digest"),
    ("payload", "result_digest"),
    ("outcome", "status"),
    ("outcome", "duration_us"),
    ("outcome", "error_type"),
    ("integrity", "stream_id"),
    ("integrity", "seq"),
)
_SEPARATOR = "\x1f"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DAY_US = 86_400_000_000


def to_micros(value: datetime | int) -> int:
    """Microseconds since the epoch for an aware or UTC-naive datetime, or an int as is."""
    if isinstance(value, int):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return str(to_micros(value))
    if hasattr(value, "value"):  # enum members hash as their symbol
        return str(value.value)
    return str(value)


def chained_values(event: Mapping[str, Any]) -> list[str]:
    """The chained fields of an Avro-shaped event, as text, in chain order."""
    values = []
    for path in CHAINED_FIELDS:
        node: Any = event
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        values.append(_text(node))
    return values


def chain_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    """The hash an event must carry, given the previous event's hash in its stream."""
    material = _SEPARATOR.join([prev_hash, *chained_values(event)])
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()
