"""Pseudonyms are keyed: stable under one key, unlinkable across keys, never the raw id."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers.errors import ProducerError
from producers.privacy.pseudonym import Pseudonymiser, ValueDigester, check_apart, load_key
from schemas.ids import uuid7


def test_pseudonym_is_hmac_sha256_under_the_named_key() -> None:
    key = b"k" * 32
    p = Pseudonymiser(key, "2026-q4")
    expected = hmac.new(key, b"alice@example.com", hashlib.sha256).hexdigest()
    assert p("alice@example.com") == expected and p.key_id == "2026-q4"
    assert Pseudonymiser(b"x" * 32, "k2")("alice@example.com") != expected
    assert p(None) is None


@given(key=st.binary(min_size=16, max_size=200), data=st.binary(max_size=300))
def test_value_digest_is_the_standard_librarys_hmac_sha256(key: bytes, data: bytes) -> None:
    """Keys shorter and longer than SHA-256's 64-byte block, any bytes."""
    expected = hmac.new(key, data, hashlib.sha256).hexdigest()
    assert ValueDigester(key, "d1")(data) == expected


def test_a_digest_key_is_checked_and_kept_apart_from_the_pseudonym_key() -> None:
    with pytest.raises(ProducerError):
        ValueDigester(b"short", "d1")
    with pytest.raises(ProducerError):
        check_apart(b"k" * 32, b"k" * 32)
    check_apart(b"k" * 32, b"d" * 32)
    check_apart(None, None)


def test_keys_load_from_file_or_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "key"
    path.write_bytes(b"file-key-0123456789\n")
    assert load_key(env_var="UNUSED", key_file=path) == b"file-key-0123456789"
    monkeypatch.setenv("AUDIT_KEY", "env-key-0123456789")
    assert load_key(env_var="AUDIT_KEY", key_file=None) == b"env-key-0123456789"
    with pytest.raises(ProducerError):
        load_key(env_var="NOT_SET_ANYWHERE", key_file=None)
    with pytest.raises(ProducerError):
        Pseudonymiser(b"short", "k")


def test_uuid7_ids_are_version_7_and_sort_by_millisecond() -> None:
    ids = [uuid7() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert all(
        re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", i)
        for i in ids
    )
    millis = [i[:13] for i in ids]
    assert millis == sorted(millis)
