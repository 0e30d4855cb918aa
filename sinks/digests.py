"""Seal closed periods of each stream with signed digests, and check the seals.

Lifecycle: :func:`seal_closed_periods` runs periodically (``mcp-audit up`` does
it, ``mcp-audit digest`` does it once). A period is sealed once it ended more
than a grace period ago, so late events of that period are in. Each stream's
digests chain to each other. :func:`check_digests` checks signatures, the
digest chain, and that the stored events still match what was sealed.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from clickhouse_connect.driver.client import Client
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from schemas.digest import Digest, DigestError, check, check_events, check_sequence, seal
from schemas.integrity import to_micros
from sinks.verify_store import expired_before_us

GRACE = timedelta(minutes=5)
COLUMNS = (
    "stream_id, period_start, first_seq, last_seq, event_count, events_hash, prev_digest_hash,"
    " digest_hash, key_id, signature"
)


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The sealing key at ``path``; a new one (0600, public half in ``.pub``) if absent."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise DigestError("the digest key is not an Ed25519 key", path=str(path))
        return key
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path.with_suffix(".pub").write_bytes(public)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise DigestError("the public key is not an Ed25519 key", path=str(path))
    return key


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()[:16]


def _periods_to_seal(client: Client, period_s: int, until: datetime) -> list[tuple[str, datetime]]:
    rows = client.query(
        "SELECT stream_id, toStartOfInterval(event_time, toIntervalSecond({p:UInt32})) AS start"
        " FROM audit_events WHERE stream_id != '' AND start + toIntervalSecond({p:UInt32})"
        " <= {until:DateTime64(6)} AND (stream_id, start) NOT IN"
        " (SELECT stream_id, period_start FROM audit_digests FINAL)"
        " GROUP BY stream_id, start ORDER BY stream_id, start",
        parameters={"p": period_s, "until": until},
    ).result_rows
    return [(stream, start) for stream, start in rows]


def _seq_and_hashes(
    client: Client, stream: str, start: datetime, period_s: int
) -> list[tuple[int, str]]:
    rows = client.query(
        "SELECT seq, any(hash) FROM audit_events WHERE stream_id = {s:String}"
        " AND event_time >= {start:DateTime64(6)}"
        " AND event_time < {start:DateTime64(6)} + toIntervalSecond({p:UInt32}) GROUP BY seq",
        parameters={"s": stream, "start": start, "p": period_s},
    ).result_rows
    return [(int(seq), str(h)) for seq, h in rows]


def _last_digest_hash(client: Client, stream: str, before: datetime) -> str:
    rows = client.query(
        "SELECT digest_hash FROM audit_digests FINAL WHERE stream_id = {s:String}"
        " AND period_start < {b:DateTime64(6)} ORDER BY period_start DESC LIMIT 1",
        parameters={"s": stream, "b": before},
    ).result_rows
    return str(rows[0][0]) if rows else ""


def seal_closed_periods(
    client: Client, key: Ed25519PrivateKey, period_s: int, now: datetime | None = None
) -> int:
    """Seal every closed, unsealed period of every stream; returns how many were sealed."""
    until = (now or datetime.now(UTC)) - GRACE
    sealed = 0
    for stream, start in _periods_to_seal(client, period_s, until):
        pairs = _seq_and_hashes(client, stream, start, period_s)
        previous = _last_digest_hash(client, stream, start)
        digest = seal(stream, to_micros(start), pairs, previous, key, key_id(key))
        row = digest.as_row()
        row["period_start"] = start
        del row["period_start_us"]
        client.insert("audit_digests", [list(row.values())], column_names=list(row))
        sealed += 1
    return sealed


def stored_digests(client: Client) -> list[Digest]:
    rows = client.query(
        f"SELECT {COLUMNS} FROM audit_digests FINAL ORDER BY stream_id, period_start"
    )
    return [
        Digest(s, to_micros(start), int(first), int(last), int(n), eh, prev, dh, kid, sig)
        for s, start, first, last, n, eh, prev, dh, kid, sig in rows.result_rows
    ]


def check_digests(client: Client, public_key: Ed25519PublicKey, period_s: int) -> list[str]:
    """Every problem with the seals or with the events they sealed; empty when all hold."""
    problems: list[str] = []
    by_stream: dict[str, list[Digest]] = {}
    horizon = expired_before_us(client)
    for digest in stored_digests(client):
        by_stream.setdefault(digest.stream_id, []).append(digest)
        start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=digest.period_start_us)
        where = f"stream {digest.stream_id} period {start:%Y-%m-%d %H:%M}"
        try:
            check(digest, public_key)
        except DigestError as exc:
            problems.append(f"{where}: {exc.message}")
            continue
        pairs = _seq_and_hashes(client, digest.stream_id, start, period_s)
        period_end_us = digest.period_start_us + period_s * 1_000_000
        if horizon is not None and period_end_us <= horizon and len(pairs) < digest.event_count:
            continue  # retention took some of its events: what is left cannot match the seal
        problems += [f"{where}: {p}" for p in check_events(digest, pairs)]
    for stream, digests in by_stream.items():
        problems += [f"stream {stream}: {p}" for p in check_sequence(digests)]
    return problems
