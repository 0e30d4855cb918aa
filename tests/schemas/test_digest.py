"""Signed digests catch truncation and re-chaining that the hash chain alone cannot."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.digest import DigestError, check, check_events, check_sequence, seal

HOUR_US = 3_600_000_000


def _events(first: int, last: int) -> list[tuple[int, str]]:
    return [(seq, f"{seq:064x}") for seq in range(first, last + 1)]


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_an_auditor_verifies_with_the_public_key_alone(key: Ed25519PrivateKey) -> None:
    digest = seal("s1", 0, _events(1, 50), "", key, "k1")
    check(digest, key.public_key())
    assert check_events(digest, list(reversed(_events(1, 50)))) == []


def test_truncating_the_newest_events_is_caught(key: Ed25519PrivateKey) -> None:
    digest = seal("s1", 0, _events(1, 50), "", key, "k1")
    problems = check_events(digest, _events(1, 47))
    assert "50 events sealed, 47 stored" in problems
    assert "sealed seq 1..50, stored 1..47" in problems


def test_re_chained_events_are_caught(key: Ed25519PrivateKey) -> None:
    digest = seal("s1", 0, _events(1, 10), "", key, "k1")
    forged = [(seq, "f" * 64 if seq >= 5 else h) for seq, h in _events(1, 10)]
    assert check_events(digest, forged) == ["stored event hashes differ from the sealed ones"]


def test_an_altered_digest_or_another_key_fails(key: Ed25519PrivateKey) -> None:
    digest = seal("s1", 0, _events(1, 10), "", key, "k1")
    with pytest.raises(DigestError):
        check(dataclasses.replace(digest, event_count=9), key.public_key())
    with pytest.raises(DigestError):
        check(digest, Ed25519PrivateKey.generate().public_key())


def test_a_removed_digest_breaks_the_digest_chain(key: Ed25519PrivateKey) -> None:
    first = seal("s1", 0, _events(1, 10), "", key, "k1")
    second = seal("s1", HOUR_US, _events(11, 20), first.digest_hash, key, "k1")
    third = seal("s1", 2 * HOUR_US, _events(21, 30), second.digest_hash, key, "k1")
    assert check_sequence([third, first, second]) == []
    assert check_sequence([first, third]) == [
        f"digest at {2 * HOUR_US} does not follow the previous one"
    ]
