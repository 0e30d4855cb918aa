"""Signed digests: what makes truncation of the newest events detectable.

The hash chain shows a row removed from the middle of a stream, but not rows
cut from its end, nor a stream re-chained from some point on. So, as AWS
CloudTrail does, the pipeline periodically seals each stream: for every
stream and hour, a digest over that hour's event hashes (in sequence order)
and the previous digest, signed with Ed25519. Anyone holding the published
public key can check a digest, and then check the stored events against it.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from schemas.errors import McpAuditError

_SEPARATOR = "\x1f"


class DigestError(McpAuditError):
    """A digest's signature or content does not check out."""


@dataclass(frozen=True)
class Digest:
    stream_id: str
    period_start_us: int
    first_seq: int
    last_seq: int
    event_count: int
    events_hash: str
    prev_digest_hash: str
    digest_hash: str
    key_id: str
    signature: str

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


def events_hash(hashes: Iterable[str]) -> str:
    """SHA-256 over a period's event hashes, in sequence order."""
    return hashlib.sha256(_SEPARATOR.join(hashes).encode()).hexdigest()


def _digest_hash(fields: tuple[object, ...]) -> str:
    return hashlib.sha256(_SEPARATOR.join(map(str, fields)).encode()).hexdigest()


def seal(
    stream_id: str,
    period_start_us: int,
    seq_and_hashes: list[tuple[int, str]],
    prev_digest_hash: str,
    key: Ed25519PrivateKey,
    key_id: str,
) -> Digest:
    """The signed digest of one stream's period; ``seq_and_hashes`` in any order."""
    ordered = sorted(seq_and_hashes)
    content = (
        stream_id,
        period_start_us,
        ordered[0][0],
        ordered[-1][0],
        len(ordered),
        events_hash(h for _, h in ordered),
        prev_digest_hash,
    )
    digest_hash = _digest_hash(content)
    signature = key.sign(bytes.fromhex(digest_hash)).hex()
    return Digest(*content, digest_hash, key_id, signature)


def check(digest: Digest, public_key: Ed25519PublicKey) -> None:
    """Raise :class:`DigestError` unless the digest is intact and signed by ``public_key``."""
    content = (
        digest.stream_id,
        digest.period_start_us,
        digest.first_seq,
        digest.last_seq,
        digest.event_count,
        digest.events_hash,
        digest.prev_digest_hash,
    )
    if _digest_hash(content) != digest.digest_hash:
        raise DigestError("digest content was altered", stream_id=digest.stream_id)
    try:
        public_key.verify(bytes.fromhex(digest.signature), bytes.fromhex(digest.digest_hash))
    except (InvalidSignature, ValueError) as exc:
        raise DigestError(
            "bad signature", stream_id=digest.stream_id, key_id=digest.key_id
        ) from exc


def check_events(digest: Digest, seq_and_hashes: list[tuple[int, str]]) -> list[str]:
    """What differs between a (checked) digest and the stored events of its period."""
    ordered = sorted(seq_and_hashes)
    problems = []
    if len(ordered) != digest.event_count:
        problems.append(f"{digest.event_count} events sealed, {len(ordered)} stored")
    if ordered and (ordered[0][0], ordered[-1][0]) != (digest.first_seq, digest.last_seq):
        stored = f"{ordered[0][0]}..{ordered[-1][0]}"
        problems.append(f"sealed seq {digest.first_seq}..{digest.last_seq}, stored {stored}")
    if events_hash(h for _, h in ordered) != digest.events_hash:
        problems.append("stored event hashes differ from the sealed ones")
    return problems


def check_sequence(digests: list[Digest]) -> list[str]:
    """Breaks in a stream's chain of digests (a digest removed or replaced)."""
    problems = []
    ordered = sorted(digests, key=lambda d: d.period_start_us)
    for previous, current in itertools.pairwise(ordered):
        if current.prev_digest_hash != previous.digest_hash:
            problems.append(f"digest at {current.period_start_us} does not follow the previous one")
    return problems
