"""The hash chain that makes a producer's stream tamper-evident.

Each event's ``integrity.hash`` is SHA-256 over the previous hash and the
chained fields below, in this order. The chain covers pseudonyms, identifiers
and digests, never raw personal data (IP, user agent, argument and result
values, error text), so erasing those keeps every hash valid. Producers compute
it; ``mcp-audit verify`` recomputes it from stored rows with the same function.

Three chained identifiers are personal (:data:`DIGESTED`): the session id, the
resource URI and the prompt name. An event carrying a keyed digest of one
(``actor.session_digest``, ``target.resource_uri_digest``,
``target.prompt_name_digest``: HMAC-SHA256 under the value digest key) is chained
over the digest in that field's place, so erasure can clear the value; an event
without it (producers before schema ``AuditEvent.<this release>``, or a value
that is absent) is chained over the value as before. The rule is per field and
per event, picked by the digest's presence: no version field to trust.

The chain needs no key, so anyone able to write the raw topic could make a new,
validly chained stream. Origin closes that: a producer holding an origin key
adds ``integrity.mac`` = HMAC-SHA256(key, the 32 bytes of ``hash``) and the
key's id (the link's bytes, not its hex text: each half of the HMAC then hashes one
block after its key pad, :class:`schemas.keyed.PaddedHmac`), and the processors
refuse what no key they hold vouches for
(:mod:`processors.origin`). The MAC covers the chain link, hence every chained
field; it is over the link rather than the material so the chain itself stays
checkable without any secret.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.errors import ConfigError

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
# A chained personal value -> the field beside it holding its keyed digest.
DIGESTED: dict[tuple[str, ...], str] = {
    ("actor", "session_id"): "session_digest",
    ("target", "resource_uri"): "resource_uri_digest",
    ("target", "prompt_name"): "prompt_name_digest",
}
_SEPARATOR = "\x1f"
# A key id is stored per event and names a key file: short, and safe as a file name.
KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MIN_ORIGIN_KEY_BYTES = 32  # HMAC-SHA256's own output size: a shorter key weakens the MAC
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
    if type(value) is str:  # most values; the checks below cost more than the answer
        return value
    if value is None:
        return ""
    if isinstance(value, datetime):
        return str(to_micros(value))
    if hasattr(value, "value"):  # enum members hash as their symbol
        return str(value.value)
    return str(value)


_PATHS = tuple((path, DIGESTED.get(path)) for path in CHAINED_FIELDS)


def _child(node: Any, key: str) -> Any:
    # A dict is checked by its type first: isinstance(node, Mapping) goes through the
    # ABC machinery, and verify walks 24 paths an event (10 M events: docs/benchmarks.md).
    if type(node) is dict or (node is not None and isinstance(node, Mapping)):
        return node.get(key)
    return None


def chained_values(event: Mapping[str, Any]) -> list[str]:
    """The chained fields of an Avro-shaped event, as text, in chain order."""
    values = []
    for path, digest_field in _PATHS:
        node: Any = event
        parent: Any = None
        for key in path:
            parent, node = node, _child(node, key)
        if digest_field is not None:
            node = _child(parent, digest_field) or node  # the digest, when the event has one
        values.append(_text(node))
    return values


def chain_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    """The hash an event must carry, given the previous event's hash in its stream."""
    material = _SEPARATOR.join([prev_hash, *chained_values(event)])
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class OriginKey:
    """One origin key and the id events carry to name it (rotation: a new id, a new key)."""

    key_id: str
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not KEY_ID.match(self.key_id):
            raise ValueError(f"origin key id {self.key_id!r} is not 1-64 of [A-Za-z0-9_.-]")
        if len(self.key) < MIN_ORIGIN_KEY_BYTES:
            raise ValueError(
                f"origin key {self.key_id} is shorter than {MIN_ORIGIN_KEY_BYTES} bytes"
            )


def read_origin_key(path: Path, key_id: str) -> OriginKey:
    """The origin key in ``path``: hex of at least 32 bytes, surrounding space ignored.

    Raises :class:`ConfigError` naming the file, never echoing its content."""
    try:
        text = path.read_text("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("cannot read the origin key file", path=str(path)) from exc
    try:
        return OriginKey(key_id, bytes.fromhex(text.strip()))
    except ValueError as exc:
        raise ConfigError(
            f"an origin key file holds at least {MIN_ORIGIN_KEY_BYTES} bytes as hex",
            path=str(path),
            key_id=key_id,
        ) from exc


def load_key_dir(directory: Path, what: str = "origin") -> list[OriginKey]:
    """Every ``<key id>.key`` in ``directory`` (the origin keys' layout; ``what`` names
    the keys in errors); raises :class:`ConfigError` when there is none."""
    try:
        paths = sorted(p for p in directory.iterdir() if p.suffix == ".key")
    except OSError as exc:
        raise ConfigError(f"cannot list the {what} keys directory", path=str(directory)) from exc
    keys = [read_origin_key(p, p.stem) for p in paths if KEY_ID.match(p.stem)]
    if not keys:
        raise ConfigError(f"no {what} key (<key id>.key) in the directory", path=str(directory))
    return keys
